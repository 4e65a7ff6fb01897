"""Static files under versioned addresses (app/views/static_assets.py)."""

import os
import re

from flask import url_for

from app.views import static_assets


def _script_address(page: str, name: str) -> str:
    return re.search(rf'src="(/static/{re.escape(name)}\?v=[0-9a-f]{{12}})"', page).group(1)


def test_pages_link_scripts_by_content_and_those_are_cached_for_a_year(client):
    page = client.get("/login").get_data(as_text=True)
    address = _script_address(page, "app.js")
    answer = client.get(address)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == f"public, max-age={static_assets.YEAR_SECONDS}, immutable"
    # Without a version (typed by hand, an old link) it is revalidated as before.
    assert "immutable" not in client.get("/static/app.js").headers["Cache-Control"]


def test_a_changed_file_gets_a_new_address(app, client, tmp_path, monkeypatch):
    asset = tmp_path / "probe.js"
    asset.write_text("one")
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    with app.test_request_context():
        first = url_for("static", filename="probe.js")
        asset.write_text("two, longer")
        os.utime(asset, (1, 1))  # a different modification time, whatever the clock's resolution
        second = url_for("static", filename="probe.js")
        missing = url_for("static", filename="nao-existe.js")
        outside = url_for("static", filename="../__init__.py")  # never read, never versioned
    assert first != second and first.startswith("/static/probe.js?v=")
    assert missing == "/static/nao-existe.js"
    assert "v=" not in outside
