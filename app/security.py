"""Role-based access for views. The rules themselves live in services.permissions."""

import hmac
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, url_for
from flask_login import current_user

from app.extensions import login_manager
from app.models import Persona, Role


def roles_required(*roles: Role):
    """Allow only logged-in users with one of `roles`; others get 403, anonymous the login page."""
    allowed = frozenset(roles)

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            role = Role(current_user.role)
            if role not in allowed:
                # Collaborators belong in the portal; send page visits there.
                if not role.is_staff and request.method == "GET":
                    return redirect(url_for("portal.index"))
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


staff_required = roles_required(Role.ADMIN, Role.MANAGER, Role.AGENT)
admin_required = roles_required(Role.ADMIN)


def current_device_session():
    """The device session of this request (set by views.device_sessions), or None."""
    return g.get("device_session")


def current_persona() -> Persona:
    """The persona the current collaborator acts with: the device's in a device session."""
    device = current_device_session()
    if device is not None:
        return device.persona
    return Persona(current_user.persona or Persona.COLLABORATOR)


def portal_required(view):
    """The portal is for collaborators (and device sessions); staff go to their own pages."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.is_staff:
            if request.method == "GET":
                return redirect(url_for("dashboard.index"))
            abort(403)
        return view(*args, **kwargs)

    return wrapper


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
