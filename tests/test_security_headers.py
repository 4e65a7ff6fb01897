"""Security headers (app/views/security_headers.py): every HTML page carries the strict policy,
other answers only nosniff, HSTS only in production; and no page template holds code or styles
the policy would refuse."""

import re
from pathlib import Path

import pytest

from app.views.security_headers import TRIX_STYLE_HASHES

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' "
    + " ".join(TRIX_STYLE_HASHES)
    + "; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self';"
    " form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), hid=(),"
    " magnetometer=(), microphone=(), midi=(), payment=(), serial=(), usb=()"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS,
}
PAGE_ONLY = ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy", "Permissions-Policy")
TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"


def page_headers(response) -> dict:
    return {name: response.headers.getlist(name) for name in PAGE_HEADERS}


def test_the_login_page_carries_every_header_once(client):
    response = client.get("/login")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert page_headers(response) == {name: [value] for name, value in PAGE_HEADERS.items()}
    assert "Strict-Transport-Security" not in response.headers  # not in production
    assert "HX-Request" in response.headers["Vary"]


def test_the_policy_forbids_inline_script_and_eval():
    directives = dict(d.split(" ", 1) for d in CSP.split("; "))
    assert directives["script-src"] == "'self'"
    assert "unsafe" not in CSP
    assert directives["style-src"].startswith("'self' 'sha256-")


def test_staff_pages_fragments_redirects_and_errors_carry_it(admin_client):
    full = admin_client.get("/chamados")
    fragment = admin_client.get("/chamados?f=1", headers={"HX-Request": "true"})
    redirect = admin_client.get("/login")  # a logged-in user is sent on
    missing = admin_client.get("/chamados/999999")
    for response in (full, fragment, redirect, missing):
        assert response.mimetype == "text/html", response.status_code
        assert response.headers["Content-Security-Policy"] == CSP
        assert response.headers["X-Frame-Options"] == "DENY"
    assert redirect.status_code == 302 and missing.status_code == 404


def test_json_answers_get_nosniff_and_nothing_else(app, register_device):
    _body, auth = register_device()
    for response in (
        app.test_client().post("/api/machines/heartbeat", json={}, headers=auth),
        app.test_client().post("/api/machines/heartbeat", json={}),  # 401
        app.test_client().get("/health/live"),
    ):
        assert response.mimetype == "application/json"
        assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]
        assert not any(name in response.headers for name in PAGE_ONLY), response.headers
        assert "HX-Request" not in response.headers.get("Vary", "")


def test_static_files_get_nosniff_only(client):
    response = client.get("/static/app.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in response.headers
    response.close()


def test_a_views_own_value_wins(app, register_device):
    # The device handshake's URL holds a token: its redirect sends no referrer at all.
    _body, auth = register_device()
    token = auth["Authorization"].split()[1]
    response = app.test_client().get(f"/machines/handshake?token={token}")
    assert response.status_code == 302
    assert response.headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert response.headers["Content-Security-Policy"] == CSP


# What production refuses to start without (SECRET_KEY and MACHINE_PROVISIONING_SECRET come from
# the test environment).
PRODUCTION = {"APP_ENV": "production", "PUBLIC_BASE_URL": "https://chamados.example.com"}


def test_hsts_only_in_production(make_app):
    production = make_app(**PRODUCTION).test_client().get("/login")
    assert production.status_code == 200
    assert production.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert production.headers["Content-Security-Policy"] == CSP
    development = make_app(APP_ENV="development").test_client().get("/login")
    assert "Strict-Transport-Security" not in development.headers
    # Not on JSON answers either: browsers learn it from the pages.
    live = make_app(**PRODUCTION).test_client().get("/health/live")
    assert "Strict-Transport-Security" not in live.headers


# --- the templates hold nothing the policy refuses ----------------------------------------

# E-mails are read in mail clients, never under this policy; only pages are checked.
PAGE_TEMPLATES = sorted(p for p in TEMPLATES.rglob("*.html") if "emails" not in p.parts)
FORBIDDEN = {
    "inline event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "hx-on attribute": re.compile(r"\shx-on", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE),
    "<style> element": re.compile(r"<style", re.IGNORECASE),
    "inline <script>": re.compile(r"<script(?![^>]*\ssrc=)(?![^>]*type=\"application/json\")", re.IGNORECASE),
}


@pytest.mark.parametrize("template", PAGE_TEMPLATES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_page_templates_need_no_inline_code_or_style(template):
    text = re.sub(r"\{#.*?#\}", "", template.read_text(), flags=re.DOTALL)  # Jinja comments
    found = [label for label, pattern in FORBIDDEN.items() if pattern.search(text)]
    assert found == []


def test_the_template_check_catches_what_it_is_meant_to():
    samples = [
        "<form onsubmit=\"return confirm('x')\">",
        '<button hx-on:click="x()">',
        '<a href="javascript:alert(1)">',
        '<span style="color:red">',
        "<style>p{}</style>",
        "<script>alert(1)</script>",
    ]
    for sample, (label, pattern) in zip(samples, FORBIDDEN.items(), strict=True):
        assert pattern.search(sample), label
    assert not FORBIDDEN["inline <script>"].search('<script src="/static/app.js" defer></script>')
    assert not FORBIDDEN["inline <script>"].search('<script type="application/json" id="d">{}</script>')
    assert not FORBIDDEN["inline event handler"].search('<form data-confirm="Excluir?">')
