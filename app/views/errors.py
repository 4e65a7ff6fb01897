"""Error answers: JSON for the API, a fragment for htmx, a full page otherwise."""

from flask import jsonify, render_template, request


def json_error(status: int, code: str, message: str, **extra):
    body = {"error": {"code": code, "message": message, **extra}}
    return jsonify(body), status


def error_response(status: int, code: str, message: str):
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return json_error(status, code, message)
    if status == 429 and request.endpoint == "auth.login":
        from app.views.auth import render_login

        return render_login(error=message, status=429)
    template = "errors/_message.html" if request.headers.get("HX-Request") else "errors/error.html"
    return render_template(template, status=status, message=message), status
