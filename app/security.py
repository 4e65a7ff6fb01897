"""Role-based access for views. The rules themselves live in services.permissions."""

from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user

from app.extensions import login_manager
from app.models import Role


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
