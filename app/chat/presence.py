"""Who else has a ticket open, and who is writing in it (#22): staff only.

Not app/devices/presence.py (when each device was last seen).

Each staff socket on a ticket page holds one entry, `<user id>:<socket id>` -> its ticket, the
person's name, whether they are typing and `until`: the page renews it (its heartbeat, every
20 s), says when it leaves, and the socket drops it when it closes. An entry whose page went
quiet (a crashed process, a sleeping laptop) counts no more after `until`
(45 s; app.config's CHAT_PRESENCE_SECONDS, no environment variable: tests shorten it) and is
swept by the next reader.

Where it lives: with REDIS_URL, one hash per tenant in Redis (`chamados:<db>:presence:<tenant>`),
shared by every process, bounded by the sockets open (the sweep deletes an expired entry only if
nobody renewed it meanwhile, and the hash itself expires when nobody writes); without, a dict of
this process. Every change (a page arrives, leaves, starts or stops typing) rings the tenant's
presence channel through the chat broker with the tickets it touched; each socket that shows one
of them reads the tenant's entries again and sends what changed (`PresenceFollower`). A renewal
that changes nothing rings nothing: a socket showing an entry looks again when it would expire.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from flask import current_app

from app.chat.broker import get_broker
from app.redis_client import get_redis

log = logging.getLogger("chamados.chat")

EXPIRY_SECONDS = 45.0  # default of CHAT_PRESENCE_SECONDS: two heartbeats may be missed
_EXTENSION = "chamados_chat_presence"


def presence_channel(tenant_id: int) -> str:
    return f"presence:{tenant_id}"


def expiry_seconds() -> float:
    return float(current_app.config.get("CHAT_PRESENCE_SECONDS", EXPIRY_SECONDS))


def initials(name: str) -> str:
    """ "Ana Souza" -> "AS", "Ana de Souza" -> "AS", "Ana" -> "A"."""
    words = [word for word in (name or "").split() if word[:1].isalnum()]
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


@dataclass(frozen=True, slots=True)
class Entry:
    user_id: int
    name: str
    ticket: int
    typing: bool
    until: float  # wall-clock seconds (time.time()): every process compares it

    def dumps(self) -> bytes:
        return orjson.dumps(
            {
                "user": self.user_id,
                "name": self.name,
                "ticket": self.ticket,
                "typing": self.typing,
                "until": self.until,
            }
        )

    @classmethod
    def loads(cls, raw) -> Entry | None:
        try:
            data = orjson.loads(raw)
            return cls(
                int(data["user"]),
                str(data["name"]),
                int(data["ticket"]),
                bool(data["typing"]),
                float(data["until"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


class LocalPresence:
    """Without REDIS_URL: this process's sockets are all there is."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tenants: dict[int, dict[str, Entry]] = {}

    def put(self, tenant_id: int, key: str, entry: Entry) -> Entry | None:
        with self._lock:
            entries = self._tenants.setdefault(tenant_id, {})
            previous = entries.get(key)
            entries[key] = entry
            return previous

    def drop(self, tenant_id: int, key: str) -> Entry | None:
        with self._lock:
            entries = self._tenants.get(tenant_id, {})
            previous = entries.pop(key, None)
            if not entries:
                self._tenants.pop(tenant_id, None)
            return previous

    def entries(self, tenant_id: int, now: float) -> list[Entry]:
        with self._lock:
            entries = self._tenants.get(tenant_id, {})
            for key in [key for key, entry in entries.items() if entry.until <= now]:
                del entries[key]
            if not entries:
                self._tenants.pop(tenant_id, None)
            return list(entries.values())


# Deletes each expired field only if it still holds the value that was read as expired: a
# renewal written in between is kept.
_SWEEP = """
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    removed = removed + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return removed
"""


class RedisPresence:
    """With REDIS_URL: one hash per tenant, shared by every process. Redis down: nobody is
    shown (a warning is logged), and nothing else fails."""

    def __init__(self, client):
        self.client = client
        self.prefix = f"chamados:{client.connection_pool.connection_kwargs.get('db', 0)}:presence:"
        self._sweep = client.register_script(_SWEEP)

    def key(self, tenant_id: int) -> str:
        return f"{self.prefix}{tenant_id}"

    def put(self, tenant_id: int, key: str, entry: Entry) -> Entry | None:
        name = self.key(tenant_id)
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.hget(name, key)
            pipe.hset(name, key, entry.dumps())
            pipe.expire(name, int(expiry_seconds() * 2) + 1)  # a tenant nobody writes for goes away
            previous, _, _ = pipe.execute()
        except Exception:
            log.warning("chat: could not note presence in Redis")
            return None
        return Entry.loads(previous) if previous else None

    def drop(self, tenant_id: int, key: str) -> Entry | None:
        name = self.key(tenant_id)
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.hget(name, key)
            pipe.hdel(name, key)
            previous, _ = pipe.execute()
        except Exception:
            log.warning("chat: could not drop presence in Redis")
            return None
        return Entry.loads(previous) if previous else None

    def entries(self, tenant_id: int, now: float) -> list[Entry]:
        name = self.key(tenant_id)
        try:
            raw = self.client.hgetall(name)
        except Exception:
            log.warning("chat: could not read presence from Redis")
            return []
        alive, expired = [], []
        for field, value in raw.items():
            entry = Entry.loads(value)
            if entry is None or entry.until <= now:
                expired.extend((field, value))
            else:
                alive.append(entry)
        if expired:
            try:
                self._sweep(keys=[name], args=expired)
            except Exception:
                log.warning("chat: could not sweep expired presence in Redis")
        return alive


def get_store(app=None):
    app = app or current_app
    store = app.extensions.get(_EXTENSION)
    if store is None:
        with _create_lock:
            store = app.extensions.get(_EXTENSION)
            if store is None:
                client = get_redis() if app.config.get("REDIS_URL") else None
                store = RedisPresence(client) if client is not None else LocalPresence()
                app.extensions[_EXTENSION] = store
    return store


_create_lock = threading.Lock()


def _ring(tenant_id: int, tickets: set[int]) -> None:
    get_broker(current_app).publish(
        presence_channel(tenant_id), {"kind": "presence", "tickets": sorted(tickets)}
    )


def arrive(tenant_id: int, key: str, *, user_id: int, name: str, ticket: int, typing: bool) -> None:
    """The page of `ticket` is open on this socket (first time, a heartbeat, or typing)."""
    now = time.time()
    entry = Entry(user_id, name, ticket, typing, now + expiry_seconds())
    previous = get_store().put(tenant_id, key, entry)
    if previous is None or previous.until <= now:
        _ring(tenant_id, {ticket})
    elif (previous.ticket, previous.typing, previous.name) != (ticket, typing, name):
        _ring(tenant_id, {ticket, previous.ticket})


def leave(tenant_id: int, key: str) -> None:
    previous = get_store().drop(tenant_id, key)
    if previous is not None:
        _ring(tenant_id, {previous.ticket})


def viewers_by_ticket(
    tenant_id: int, *, except_user: int | None
) -> tuple[dict[int, list[dict]], dict[int, float]]:
    """Who is on each ticket (one line per person, however many tabs; typing if in any), by
    name; and when the first of each ticket's entries expires (wall clock)."""
    people: dict[int, dict[int, dict]] = {}
    expiries: dict[int, float] = {}
    for entry in get_store().entries(tenant_id, time.time()):
        if entry.user_id == except_user:
            continue
        expiries[entry.ticket] = min(expiries.get(entry.ticket, entry.until), entry.until)
        on_ticket = people.setdefault(entry.ticket, {})
        seen = on_ticket.get(entry.user_id)
        if seen is None:
            on_ticket[entry.user_id] = {
                "id": entry.user_id,
                "name": entry.name,
                "initials": initials(entry.name),
                "typing": entry.typing,
            }
        else:
            seen["typing"] = seen["typing"] or entry.typing
    ordered = {
        ticket: sorted(found.values(), key=lambda viewer: (viewer["name"].casefold(), viewer["id"]))
        for ticket, found in people.items()
    }
    return ordered, expiries


class PresenceFollower:
    """One staff socket's presence: the entry it holds while its page shows a ticket, and the
    viewers it shows (its ticket's, or every ticket's for a list), sent only when they change.
    Everyone's viewers leave out the socket's own person (their other tabs too)."""

    LOOK_AGAIN_MARGIN = 0.05  # s after an entry's expiry, so it is surely gone when looked at

    def __init__(
        self, send: Callable[[dict], None], listen: Callable[[str], None], tenant_id: int, user_id: int
    ):
        self.send = send
        self.listen = listen
        self.tenant_id = tenant_id
        self.user_id = user_id
        self.key = f"{user_id}:{secrets.token_hex(8)}"
        self.ticket: int | None = None  # the ticket page's ticket: its entry, and what it shows
        self.everything = False  # a list: every ticket's viewers
        self.shown: dict[int, list[dict]] = {}  # ticket -> the viewers last sent
        self.look_again_at: float | None = None  # wall clock: a shown entry expires then

    # --- what the page says -----------------------------------------------------------

    def here(self, ticket: int, name: str, typing: bool) -> None:
        self.listen(presence_channel(self.tenant_id))  # before writing: no change of others is missed
        if ticket != self.ticket:
            if self.ticket is not None and not self.everything:
                self.shown.pop(self.ticket, None)
            self.ticket = ticket
        arrive(self.tenant_id, self.key, user_id=self.user_id, name=name, ticket=ticket, typing=typing)
        self.refresh()

    def away(self) -> None:
        if self.ticket is not None:
            if not self.everything:
                self.shown.pop(self.ticket, None)
            self.ticket = None
            leave(self.tenant_id, self.key)

    def watch_everything(self) -> None:
        self.listen(presence_channel(self.tenant_id))
        self.everything = True
        self.refresh()

    def close(self) -> None:
        """The socket closed: its page has left."""
        self.away()

    # --- what the others do -----------------------------------------------------------

    def on_event(self, event: dict) -> None:
        tickets = event.get("tickets") or ()
        if self.everything or self.ticket in tickets:
            self.refresh()

    def seconds_to_wait(self) -> float | None:
        if self.look_again_at is None:
            return None
        return max(0.0, self.look_again_at - time.time()) + self.LOOK_AGAIN_MARGIN

    def tick(self) -> None:
        if self.look_again_at is not None and time.time() >= self.look_again_at:
            self.refresh()

    def refresh(self) -> None:
        if self.ticket is None and not self.everything:
            self.look_again_at = None
            return
        viewers, expiries = viewers_by_ticket(self.tenant_id, except_user=self.user_id)
        tickets = set(viewers) | set(self.shown) if self.everything else set()
        if self.ticket is not None:
            tickets.add(self.ticket)
        for ticket in sorted(tickets):
            now_shown = viewers.get(ticket, [])
            own_page = ticket == self.ticket
            if ticket in self.shown and self.shown[ticket] == now_shown:
                continue
            if not now_shown and not own_page and ticket not in self.shown:
                continue
            self.send({"type": "presence", "ticket": ticket, "viewers": now_shown})
            if now_shown or own_page:
                self.shown[ticket] = now_shown
            else:
                self.shown.pop(ticket, None)
        self.look_again_at = min((expiries[ticket] for ticket in tickets if ticket in expiries), default=None)
