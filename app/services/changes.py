"""Writing only what changed."""

from app.extensions import db


def apply_changes(obj, values: dict) -> dict:
    """Set the attributes whose value differs and flush them; return what changed.

    An edit that changes nothing writes nothing (no UPDATE, no new updated_at).
    """
    changed = {key: value for key, value in values.items() if getattr(obj, key) != value}
    for key, value in changed.items():
        setattr(obj, key, value)
    if changed:
        db.session.flush()
    return changed
