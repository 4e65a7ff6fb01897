"""Error answers: JSON for the API, a fragment for htmx, a full page otherwise."""

from flask import flash, jsonify, render_template, request

from app.services import transaction

TOO_MANY_REQUESTS = "Muitas tentativas. Aguarde um pouco e tente novamente."


def flash_refusal(message: str) -> None:
    """A refusal answered with a redirect: a success to the request's boundary, which would
    commit. Nothing of the refused change is kept; the next page says why."""
    transaction.rollback()
    flash(message, "error")


def json_error(status: int, code: str, message: str, **extra):
    body = {"error": {"code": code, "message": message, **extra}}
    return jsonify(body), status


def error_response(status: int, code: str, message: str):
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return json_error(status, code, message)
    if request.headers.get("HX-Request"):
        # Show the message in the page's message area instead of the swap target.
        response = (
            render_template("errors/_message.html", status=status, message=message),
            status,
            {
                "HX-Retarget": "#flash-area",
                "HX-Reswap": "innerHTML",
            },
        )
        return response
    return render_template("errors/error.html", status=status, message=message), status
