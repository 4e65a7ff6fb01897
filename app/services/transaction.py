"""The unit of work, and the one place each kind of unit ends.

Services, devices and chat code change rows and flush; they never commit. A unit of work
is committed at its boundary, or rolled back there:

- a web request (`register`): committed when the answer is a success (status < 400),
  rolled back otherwise (a re-rendered form, a DomainError's answer, an exception);
- a job run: `app/jobs/runner.run_job`;
- a CLI command: `committed`, on every command of `app/cli.py`;
- a websocket frame: `app/chat/socket.py`.

`after_commit` runs a callback (a broadcast, a job to queue) once the work it announces is
committed, and never if it is rolled back. Under TESTING a GET, HEAD or OPTIONS request that
wrote is an error: reading a page never writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from flask import Flask, current_app, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db
from app.services.errors import DomainError

log = logging.getLogger("chamados.transaction")

# session.info keys: callbacks waiting for the commit, those whose commit happened, and
# whether the open transaction wrote (flushed a change or ran an INSERT, UPDATE or DELETE).
_PENDING = "chamados.after_commit"
_COMMITTED = "chamados.committed"
_WROTE = "chamados.wrote"
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_session() -> Session | None:
    """This unit's session, without creating one (an identical heartbeat never opens one)."""
    return db.session() if db.session.registry.has() else None


def commit() -> None:
    session = current_session()
    if session is not None:
        session.commit()


def rollback() -> None:
    session = current_session()
    if session is not None:
        session.rollback()


def committed(function):
    """Make `function` one unit of work: committed when it returns, rolled back when it raises."""

    @wraps(function)
    def unit_of_work(*args, **kwargs):
        try:
            result = function(*args, **kwargs)
        except BaseException:
            rollback()
            raise
        commit()
        return result

    return unit_of_work


def after_commit(callback: Callable[[], object]) -> None:
    """Run `callback` once this unit of work is committed; never if it is rolled back. With no
    transaction open (the work was already committed, e.g. in autocommit), run it now."""
    session = current_session()
    if session is None or not session.in_transaction():
        _run(callback)
        return
    session.info.setdefault(_PENDING, []).append(callback)


def _run(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:  # the work is stored; what announces it must not turn it into an error
        log.exception("after-commit callback failed: %r", callback)


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    if not session.in_nested_transaction():  # a SAVEPOINT released is not the commit
        session.info[_COMMITTED] = session.info.pop(_PENDING, [])


@event.listens_for(Session, "after_transaction_end")
def _on_transaction_end(session: Session, transaction) -> None:
    """The callbacks run once the transaction has ended, so they may use the session again
    (the in-process job runner does)."""
    if transaction.parent is not None:
        return
    session.info.pop(_WROTE, None)
    session.info.pop(_PENDING, None)  # rolled back: what they announce never happened
    for callback in session.info.pop(_COMMITTED, ()):
        _run(callback)


def _note_flush(session: Session, _context) -> None:
    if _unflushed_changes(session):  # still the state before this flush
        session.info[_WROTE] = True


def _note_dml(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


def _unflushed_changes(session: Session) -> bool:
    return bool(session.new or session.deleted or any(session.is_modified(obj) for obj in session.dirty))


def wrote(session: Session) -> bool:
    """Whether the open transaction has written (a flush, an ORM INSERT, UPDATE or DELETE; not a
    Core statement run on session.connection()), or holds changes not flushed yet."""
    return bool(session.info.get(_WROTE)) or _unflushed_changes(session)


# --- the web request's boundary ---------------------------------------------------------


def register(app: Flask) -> None:
    app.after_request(end_request)
    if app.testing and not event.contains(Session, "after_flush", _note_flush):
        # Only tests ask whether a GET wrote: production pays nothing for the bookkeeping.
        event.listen(Session, "after_flush", _note_flush)
        event.listen(Session, "do_orm_execute", _note_dml)


def end_request(response):
    """Commit a successful answer's work; roll back any other's."""
    session = current_session()
    if session is None:
        return response
    if current_app.testing and request.method in READ_ONLY_METHODS and wrote(session):
        raise AssertionError(f"{request.method} {request.path} wrote to the database: a GET never writes")
    if response.status_code >= 400:
        session.rollback()
    elif session.in_transaction():
        return _commit(session) or response
    return response


def _commit(session: Session):
    """Commit. A rule that refuses rows as they are written (services/text_limits.py) is
    answered as if the view had raised it, and nothing is kept; returns that answer."""
    try:
        session.flush()
    except DomainError as refusal:
        session.rollback()
        return current_app.make_response(current_app.handle_user_exception(refusal))
    session.commit()
    return None
