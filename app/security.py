"""Access for views: the decorators and the visitor of this request. The rules themselves
live in services.permissions."""

import hmac
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, url_for
from flask_login import current_user

from app.extensions import login_manager
from app.models import Persona
from app.services.permissions import can, effective_persona


def current_device_session():
    """The device session of this request (set by views.device_sessions), or None."""
    return g.get("device_session")


def current_persona() -> Persona:
    """The persona the current collaborator acts with: the device's in a device session."""
    device = current_device_session()
    return effective_persona(current_user, device.persona if device is not None else None)


def current_user_can(capability: str, target=None) -> bool:
    """`permissions.can` for this request's visitor: the signed-in user, with the persona and
    the device of a device session. Templates call it as `can(...)`."""
    device = current_device_session()
    if device is None:
        return can(current_user, capability, target)
    return can(current_user, capability, target, persona=device.persona, machine_id=device.machine.id)


def home_url(user) -> str:
    """Where a signed-in person starts: staff on the Painel, everyone else in the portal."""
    return url_for("dashboard.index") if can(user, "staff.pages") else url_for("portal.index")


def requires(capability: str, *, side: str = "staff.pages"):
    """Only signed-in visitors who `can(capability)`; anonymous visitors get the login page,
    others 403, except a page visit (GET) from someone who has no business on this `side` of
    the app at all: it goes to their own home (collaborators to the portal, staff to the Painel)."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user_can(capability):
                if request.method == "GET" and not current_user_can(side):
                    return redirect(home_url(current_user))
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


staff_required = requires("staff.pages")
# The portal is for collaborators (and device sessions); staff go to their own pages.
portal_required = requires("portal.pages", side="portal.pages")


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer …` header (device API and chat socket)."""
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def shared_secret_matches(provided: str | None, *secrets: str | None) -> bool:
    """Constant-time comparison against each configured secret; unset secrets never match."""
    if not provided:
        return False
    supplied = provided.encode()
    return any(secret and hmac.compare_digest(supplied, secret.encode()) for secret in secrets)


DEFAULT_PORTS = {"http": 80, "https": 443}


def normalised_origin(origin: str | None) -> str | None:
    """scheme://host:port of a web origin, lower-cased, an http(s) default port written out
    (an app's own scheme, tauri://localhost, stays as it is); None for anything that is no
    origin at all ("null", a bare host, a URL with a path)."""
    try:
        parts = urlsplit((origin or "").strip().rstrip("/").lower())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname or parts.path or parts.query or parts.fragment:
        return None
    if parts.scheme not in DEFAULT_PORTS:
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}://{parts.hostname}:{port or DEFAULT_PORTS[parts.scheme]}"


def own_origin() -> str:
    """This app's origin as the browser sees it (behind the proxy, the forwarded scheme and host)."""
    return normalised_origin(f"{request.scheme}://{request.host}")


def origin_is_ours(origin: str | None, allowed=()) -> bool:
    """The Origin header names this app exactly (scheme, host and port), or one of `allowed`.

    Host names alone are not enough: "http://app:5000.evil.example" shares a prefix, and an
    https page of another site on the same host name is another origin."""
    candidate = normalised_origin(origin)
    if candidate is None:
        return False
    return candidate == own_origin() or candidate in {normalised_origin(o) for o in allowed}
