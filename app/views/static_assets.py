"""Static files under versioned addresses.

`url_for("static", filename=...)` adds `?v=<hash of the file's content>`, and an address that
carries a `v` is sent as cacheable for a year (`immutable`): after the first visit a page's
scripts and stylesheets cost no request at all (they were ten conditional requests answered 304
on every navigation, bench/pages.py). A deploy that changes a file changes its address, so
nobody keeps an old script. An address without `v` (typed by hand, linked from outside) stays
as Flask sends it: revalidated every time.
"""

from __future__ import annotations

import hashlib
import os

from flask import Flask, request
from werkzeug.security import safe_join

YEAR_SECONDS = 365 * 24 * 3600


def register(app: Flask) -> None:
    versions: dict[str, tuple[float, str]] = {}  # filename -> (mtime, version)

    def version(filename: str) -> str | None:
        path = safe_join(app.static_folder, filename)
        try:
            mtime = os.stat(path).st_mtime  # a file edited while the app runs gets a new version
        except (OSError, TypeError):  # no such file, or a name outside the folder (None)
            return None
        known = versions.get(filename)
        if known is None or known[0] != mtime:
            with open(path, "rb") as file:
                known = versions[filename] = (mtime, hashlib.sha256(file.read()).hexdigest()[:12])
        return known[1]

    @app.url_defaults
    def versioned_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "v" not in values and (found := version(values.get("filename", ""))):
            values["v"] = found

    # Flask's static route calls app.send_static_file: only static answers pay for this.
    send_plainly = app.send_static_file

    def send_static_file(filename: str):
        response = send_plainly(filename)
        if request.args.get("v") and response.status_code == 200:
            response.headers["Cache-Control"] = f"public, max-age={YEAR_SECONDS}, immutable"
        return response

    app.send_static_file = send_static_file
