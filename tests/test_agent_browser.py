"""agent/browser.py: the handshake address, the one-use local redirect that keeps the token off
the browser's command line, and the browser command."""

import logging
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from agent import browser

TOKEN = "tok_" + "s3cr3t" * 8


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(url):
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_handshake_url():
    url = browser.handshake_url("https://suporte.example.com/", TOKEN, "/portal/chat")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "suporte.example.com", "/machines/handshake")
    assert parse_qs(parts.query) == {"token": [TOKEN], "redirect": ["/portal/chat"]}


def test_a_local_address_redirects_once_then_never_again():
    redirects = browser.OneUseRedirects()
    try:
        local = redirects.add("http://example.test/machines/handshake?token=abc")
        assert local.startswith(f"http://127.0.0.1:{redirects.port}/abrir/") and "abc" not in local
        status, headers = _get(local)
        assert status == 302 and headers["Location"] == "http://example.test/machines/handshake?token=abc"
        assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
        assert _get(local)[0] == 404  # used
        assert _get(local.rsplit("/", 1)[0] + "/outro")[0] == 404  # never given
        assert redirects.wait_until_served(0.1)
    finally:
        redirects.close()


def test_a_local_address_expires():
    redirects = browser.OneUseRedirects(ttl=0.05)
    try:
        local = redirects.add("http://example.test/")
        time.sleep(0.1)
        assert _get(local)[0] == 404
    finally:
        redirects.close()


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("chromium --app=%s", ["chromium", "--app=URL"]),
        ("firefox --new-window", ["firefox", "--new-window", "URL"]),
        ("'/opt/My Browser/browser' --app=%s --x", ["/opt/My Browser/browser", "--app=URL", "--x"]),
    ],
)
def test_command_line(command, expected):
    assert browser.command_line(command, "URL") == expected


def test_command_line_on_windows():
    command = r'"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --app=%s'
    assert browser.command_line(command, "URL", posix=False) == [
        r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
        "--app=URL",
    ]


def test_the_portal_opens_in_the_configured_browser_without_the_token_in_argv_or_logs(caplog, monkeypatch):
    monkeypatch.setenv("CHAMADOS_AGENT_BROWSER", "chromium --app=%s")
    started = []
    portal = browser.Portal(
        {"server": "http://srv.test", "token": TOKEN}, popen=lambda argv, **kw: started.append(argv)
    )
    caplog.set_level(logging.INFO)
    try:
        assert portal.open(browser.CHAT) is True
        (argv,) = started
        assert argv[0] == "chromium" and argv[1].startswith("--app=http://127.0.0.1:")
        assert TOKEN not in " ".join(argv)
        status, headers = _get(argv[1].removeprefix("--app="))
        assert status == 302
        assert headers["Location"] == browser.handshake_url("http://srv.test", TOKEN, "/portal/chat")
    finally:
        portal.close()
    assert "chat com o suporte" in caplog.text
    assert TOKEN not in caplog.text and "127.0.0.1" not in caplog.text and "handshake" not in caplog.text


def test_without_a_configured_browser_the_default_one_is_used(monkeypatch, caplog):
    monkeypatch.delenv("CHAMADOS_AGENT_BROWSER", raising=False)
    opened = []
    monkeypatch.setattr(browser.webbrowser, "open", lambda url: opened.append(url) or True)

    def broken(argv, **kwargs):
        raise FileNotFoundError("navegador-que-nao-existe")

    portal = browser.Portal({"server": "http://srv.test", "token": TOKEN}, popen=broken)
    try:
        assert portal.open(browser.MY_TICKETS) is True
        assert len(opened) == 1 and TOKEN not in opened[0]
        portal.settings["browser"] = "navegador-que-nao-existe %s"
        assert portal.open(browser.MY_TICKETS) is True  # falls back to the default
        assert len(opened) == 2
    finally:
        portal.close()
    assert "navegador configurado" in caplog.text and TOKEN not in caplog.text
