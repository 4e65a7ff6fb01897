"""One websocket connection of the live chat (staff browser or device).

Protocol (JSON text frames):

client → server
  {"type": "auth", "token": "..."}                      device, if no Authorization header
  {"type": "subscribe", "ticket": 123, "lastId": 41}    messages after 41, then live ones
  {"type": "send", "ticket": 123, "body": "...", "clientId": "x"}
  {"type": "read", "ticket": 123}                       reset this side's unread counter
  {"type": "watch"}                                     staff and portal: "sessions changed" notices
  {"type": "feed", "after": 812}                        staff and portal: the tenant's changes after 812
  {"type": "presence", "ticket": 42, "typing": false}   staff: this page shows #42 (again: a heartbeat)
  {"type": "presence", "ticket": null}                  staff: this page left its ticket
  {"type": "presence_watch"}                            staff (a list): every ticket's viewers
  {"type": "ping"}
server → client
  {"type": "hello", "side": "agent"|"machine"|"person", "sessions": [...]}
  {"type": "message", "ticket": 123, "message": {"id": 42, ...}}
  {"type": "sent", "clientId": "x", "ticket": 123, "id": 42}
  {"type": "session", "event": "started"|"ended", "ticket": 123}
  {"type": "sessions"}                                  widget, portal entry: refresh (once on "watch" too)
  {"type": "change", "seq": 813, "kind": "ticket.status", "ticket": 42, "machine": null}
  {"type": "changes", "items": [{change}, ...]}         several at once, in order
  {"type": "feed_position", "seq": 840}                 the feed went this far (events not for you)
  {"type": "feed_reset"}                                too much was missed: reload the page
  {"type": "presence", "ticket": 42, "viewers": [{"id", "name", "initials", "typing"}]}
                                                        staff: who else is on #42 (app/chat/presence.py)
  {"type": "error", "code": "...", "message": "..."}

Delivery: per ticket the connection remembers the last message number sent.
A live event with the next number goes straight out; an older one is dropped
(already sent); a gap is filled from the database first. So after a reconnect
with "lastId", every missed message arrives once, in order.

Threads: the gunicorn/werkzeug thread runs `serve()`, the only one that sends.
simple-websocket reads the socket in a thread of its own and sets an event when
a frame arrives; that event (`FrameSignal`, given to simple-websocket through
SOCK_SERVER_OPTIONS) also drops a wake-up into the connection's inbox, so one
blocking wait covers both directions without a third thread per connection.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import orjson
from simple_websocket import ConnectionClosed

from app.chat import access, live_feed, messages, read_models
from app.chat.broker import (
    FrameSignal,
    LocalBroker,
    machine_channel,
    person_channel,
    tenant_channel,
    ticket_channel,
)
from app.chat.live_feed import FeedFollower
from app.chat.presence import PresenceFollower
from app.devices.serializers import chat_message
from app.devices.tokens import check_token_still_valid
from app.extensions import db
from app.models import User
from app.services import transaction
from app.services.errors import DomainError
from app.services.feed import feed_channel
from app.services.feed import may_hear as feed_may_hear
from app.services.permissions import can

IDLE_SECONDS = 25  # how often, on average, an idle connection re-checks its credentials
IDLE_JITTER = 0.2  # ± this share, so thousands of sockets connected together do not check together
BATCH_ITEMS = 500  # inbox items handled per wake-up before the changes are sent
SESSIONS_NOTICE_SECONDS = 1.0  # widget refresh notices are coalesced to one per second


@dataclass
class Participant:
    """Who is connected: staff ("agent"), a device with its token ("machine"), or the person
    on the device's side in the portal ("person": a device session, with its device and token,
    or the ticket's requester signed in normally)."""

    side: str
    tenant_id: int
    user_id: int | None = None
    machine_id: int | None = None
    token_id: int | None = None
    persona: str | None = None
    company_id: int | None = None  # a portal person's company, and whether they see all of it
    sees_company: bool = False
    # A person's session epoch when they connected: a password change since closes the socket.
    session_epoch: int | None = None

    @property
    def is_machine(self) -> bool:
        return self.side == "machine"

    @property
    def is_person(self) -> bool:
        return self.side == "person"

    @property
    def is_customer(self) -> bool:
        """The device's side of the chat (its messages are "from the machine")."""
        return self.side != "agent"


class Closing(Exception):
    def __init__(self, code: str, message: str):
        self.code, self.message = code, message


class ChatConnection:
    def __init__(self, ws, broker: LocalBroker, participant: Participant):
        self.ws = ws
        self.broker = broker
        self.who = participant
        self.subscription = broker.subscribe()
        self.cursors: dict[int, int] = {}  # ticket id -> last message number sent
        self.references: dict[int, int] = {}  # ticket id -> reference
        self.sessions_notice_due: float | None = None
        self.last_sessions_notice = 0.0
        self.feed: FeedFollower | None = None
        self.presence: PresenceFollower | None = None

    # --- plumbing -----------------------------------------------------------------

    def send(self, frame: dict) -> None:
        self.ws.send(orjson.dumps(frame).decode())

    def _client_frames(self) -> bool:
        """Handle every frame that has arrived; False once the socket is closed."""
        try:
            while (data := self.ws.receive(timeout=0)) is not None:
                self._client_frame(data)
        except ConnectionClosed:
            return False
        return self.ws.connected

    def serve(self) -> None:
        signal = self.ws.event
        if not isinstance(signal, FrameSignal):
            raise RuntimeError("SOCK_SERVER_OPTIONS must give simple-websocket event_class=FrameSignal")
        try:
            if self.who.is_machine:
                self.subscription.listen(machine_channel(self.who.machine_id))
            self.send({"type": "hello", "side": self.who.side, "sessions": self._hello_sessions()})
            db.session.remove()
            signal.on_set = lambda: self.subscription.put(("frames",))
            self.subscription.put(("frames",))  # any that arrived before the line above
            while True:
                item = self.subscription.get(timeout=self._wait_seconds())
                try:
                    if not self._handle(item):
                        return
                    # Whatever queued up meanwhile goes out with it: under load, one wake-up
                    # (and one frame of feed changes) for many events.
                    for _ in range(BATCH_ITEMS):
                        queued = self.subscription.get_nowait()
                        if queued is None:
                            break
                        if not self._handle(queued):
                            return
                    if self.feed is not None:
                        self.feed.check_gap()
                        self.feed.flush()
                    self._flush_sessions_notice()
                    if self.presence is not None:
                        self.presence.tick()
                finally:
                    db.session.remove()  # never hold a pooled connection while waiting
        except Closing as closing:
            self.send({"type": "error", "code": closing.code, "message": closing.message})
            self.ws.close(reason=4401, message=closing.code)
        finally:
            signal.on_set = None
            if self.presence is not None:
                self.presence.close()  # the page has left its ticket
            self.subscription.close()
            db.session.remove()

    def _handle(self, item) -> bool:
        """One inbox item (None: the idle timer). False once the client has gone."""
        if item is None:
            if self.feed is not None and self.feed.seconds_to_gap_check() == 0:
                self.feed.check_gap()  # woken to read back a missing event, not for the idle check
            else:
                self._idle()
        elif item[0] == "frames":
            return self._client_frames()
        elif item[0] == "event":
            self._event(item[1], item[2])
        elif item[0] == "resync":
            for ticket_id in list(self.cursors):
                self._catch_up(ticket_id)
            if self.feed is not None:
                self.feed.catch_up()
        return True

    def _wait_seconds(self) -> float:
        if self.sessions_notice_due is None:
            wait = IDLE_SECONDS * random.uniform(1 - IDLE_JITTER, 1 + IDLE_JITTER)
        else:
            wait = max(0.0, self.sessions_notice_due - time.monotonic())
        presence_due = self.presence.seconds_to_wait() if self.presence is not None else None
        gap_due = self.feed.seconds_to_gap_check() if self.feed is not None else None
        return min(due for due in (wait, presence_due, gap_due) if due is not None)

    def _idle(self) -> None:
        self._check_credentials()

    def _check_credentials(self) -> User | None:
        """A reset device token or a deactivated account stops the socket at once. Returns
        the staff member, for the frame to use (held: the session's identity map is weak,
        so a dropped User would be read again at the next `get`); None for a device."""
        if self.who.token_id is not None:  # a device, or a device session in the portal
            try:
                check_token_still_valid(self.who.token_id)
            except DomainError as error:
                raise Closing(error.code, error.message) from None
        if self.who.is_machine:
            return None
        user = db.session.get(User, self.who.user_id)
        allowed = can(user, "portal.pages") if self.who.is_person else can(user, "chat.use")
        epoch = self.who.session_epoch
        if not allowed or not user.is_active or (epoch is not None and user.session_epoch != epoch):
            raise Closing("session_expired", "Sessão encerrada: entre novamente.")
        return user

    # --- frames from the client -----------------------------------------------------

    def _client_frame(self, raw) -> None:
        try:
            frame = orjson.loads(raw)
            if not isinstance(frame, dict):
                raise ValueError
        except ValueError:
            self.send({"type": "error", "code": "invalid_json", "message": "Mensagem não é JSON válido."})
            return
        kind = frame.get("type")
        if kind == "ping":
            self.send({"type": "pong"})
            return
        user = self._check_credentials()
        # Each frame is a unit of work: committed before its answer goes out, rolled back if refused.
        try:
            answer = self._answer_frame(kind, frame, user)
            transaction.commit()
        except DomainError as error:
            transaction.rollback()
            answer = {
                "type": "error",
                "code": error.code,
                "message": error.message,
                "clientId": frame.get("clientId"),
            }
        if answer is not None:
            self.send(answer)

    def _answer_frame(self, kind, frame: dict, user: User | None) -> dict | None:
        """Do what the frame asks; the frame to answer with, if any."""
        if kind == "subscribe":
            self._subscribe(frame, user)
        elif kind == "send":
            return self._send_message(frame, user)
        elif kind == "read":
            messages.mark_read(self._ticket(frame, user), by_device=self.who.is_customer)
        elif kind == "feed" and not self.who.is_machine:
            self._follow_feed(frame)
        elif kind == "presence" and not self.who.is_customer:
            self._presence(frame, user)
        elif kind == "presence_watch" and not self.who.is_customer:
            self._presence_follower().watch_everything()
        elif kind == "watch" and not self.who.is_machine:
            for channel in self._watched_channels():
                self.subscription.listen(channel)
            # What changed between the page render and this subscription (a read, a new
            # chat) published no notice we could hear: refresh once, as a reconnect does.
            return {"type": "sessions"}
        else:
            return {"type": "error", "code": "unknown_type", "message": "Tipo de mensagem desconhecido."}
        return None

    def _ticket(self, frame: dict, user: User | None) -> access.ChatTicket:
        reference = frame.get("ticket")
        if not isinstance(reference, int):
            raise DomainError(
                "Informe o número do chamado (ticket).", status=422, code="invalid_field", field="ticket"
            )
        if self.who.is_machine:
            return access.ticket_for_machine(self.who.machine_id, self.who.tenant_id, reference)
        if self.who.is_person:
            return access.ticket_for_person(
                user, reference, persona=self.who.persona, machine_id=self.who.machine_id
            )
        return access.ticket_for_staff(user, reference)

    def _watched_channels(self) -> list[str]:
        """Staff hear of every chat of the tenant; a portal person of the device's chats (in
        a device session) or of the tickets they requested."""
        if not self.who.is_person:
            return [tenant_channel(self.who.tenant_id)]
        if self.who.machine_id is not None:
            return [machine_channel(self.who.machine_id)]
        return [person_channel(self.who.user_id)]

    def _subscribe(self, frame: dict, user: User | None) -> None:
        ticket = self._ticket(frame, user)
        last_id = frame.get("lastId")
        if not isinstance(last_id, int) or last_id < 0:
            last_id = 0
        self._follow(ticket.id, ticket.reference, last_id)

    def _follow(self, ticket_id: int, reference: int, last_id: int) -> None:
        # Listen first, then read the backlog: an event arriving in between is
        # either in the backlog (dropped later as already sent) or after it.
        self.references[ticket_id] = reference
        self.subscription.listen(ticket_channel(ticket_id))
        self.cursors.setdefault(ticket_id, last_id)  # already following: nothing was missed
        self._catch_up(ticket_id)

    def _send_message(self, frame: dict, user: User | None) -> dict:
        ticket = self._ticket(frame, user)
        body = frame.get("body")
        if body is not None and not isinstance(body, str):
            raise DomainError("O campo body deve ser texto.", status=422, code="invalid_field", field="body")
        message = messages.post_message(ticket, author=user, from_device=self.who.is_customer, body=body)
        return {
            "type": "sent",
            "clientId": frame.get("clientId"),
            "ticket": ticket.reference,
            "id": message.published["id"],
        }

    def _presence_follower(self) -> PresenceFollower:
        if self.presence is None:
            self.presence = PresenceFollower(
                self.send, self.subscription.listen, self.who.tenant_id, self.who.user_id
            )
        return self.presence

    def _presence(self, frame: dict, user: User) -> None:
        """Staff only (a portal or device socket is told the type is unknown, and never hears
        anyone's presence): the ticket page says it is open, typing or not, or that it left."""
        follower = self._presence_follower()
        reference = frame.get("ticket")
        if reference is None:
            follower.away()
            return
        if isinstance(reference, bool) or not isinstance(reference, int):
            raise DomainError(
                "Informe o número do chamado (ticket).", status=422, code="invalid_field", field="ticket"
            )
        if reference != follower.ticket:
            reference = self._ticket(frame, user).reference  # 404 unless they may see it
        follower.here(reference, user.name, typing=frame.get("typing") is True)

    # --- events from the broker -----------------------------------------------------

    def _follow_feed(self, frame: dict) -> None:
        after = frame.get("after")
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise DomainError("Informe o último número visto (after).", status=422, code="invalid_field")
        if self.feed is None:
            memory = live_feed.recent_events(self.broker)
            self.feed = FeedFollower(self.send, self._may_hear, self.who.tenant_id, memory)
            self.subscription.listen(feed_channel(self.who.tenant_id))  # before reading the backlog
        self.feed.start(after)

    def _may_hear(self, change) -> bool:
        who = self.who
        return feed_may_hear(
            change,
            staff=not who.is_customer,
            user_id=who.user_id,
            company_id=who.company_id,
            sees_company=who.sees_company,
        )

    def _event(self, channel: str, event: dict) -> None:
        if channel.startswith("feed:"):
            if self.feed is not None:
                self.feed.on_event(event)
            return
        if channel.startswith("presence:"):
            if self.presence is not None:
                self.presence.on_event(event)
            return
        kind = event.get("kind")
        if kind == "message":
            ticket_id = int(channel.split(":")[1])
            if ticket_id not in self.cursors:
                return
            seq = event["message"]["id"]
            last = self.cursors[ticket_id]
            if seq <= last:
                return  # already sent (from the backlog)
            if seq == last + 1:
                self.send({"type": "message", "ticket": event["ticket"], "message": event["message"]})
                self.cursors[ticket_id] = seq
            else:
                self._catch_up(ticket_id)  # a gap: an earlier message's event is late or lost
        elif kind == "session":
            ticket_id = event["ticketId"]
            # Staff hear it on the ticket's channel; the device's side on the channel it
            # watches (machine:, person:), which is heard once even when it follows the ticket.
            from_watch = not channel.startswith("ticket:")
            if (
                self.who.is_machine
                and from_watch
                and event["event"] == "started"
                and ticket_id not in self.cursors
            ):
                # A device follows every chat opened with it, from the first message of the session.
                self._follow(ticket_id, event["ticket"], event.get("firstSeq", 0))
            if from_watch == self.who.is_customer:
                self.send({"type": "session", "event": event["event"], "ticket": event["ticket"]})
        elif kind == "sessions" and self.sessions_notice_due is None and not self.who.is_machine:
            self.sessions_notice_due = max(
                time.monotonic(), self.last_sessions_notice + SESSIONS_NOTICE_SECONDS
            )

    def _flush_sessions_notice(self) -> None:
        if self.sessions_notice_due is not None and time.monotonic() >= self.sessions_notice_due:
            self.send({"type": "sessions"})
            self.sessions_notice_due = None
            self.last_sessions_notice = time.monotonic()

    def _catch_up(self, ticket_id: int) -> None:
        while True:
            batch = messages.messages_after(ticket_id, self.cursors[ticket_id])
            reference = self.references[ticket_id]
            for message in batch:
                self.send(
                    {
                        "type": "message",
                        "ticket": reference,
                        "message": chat_message(message, reference),
                    }
                )
                self.cursors[ticket_id] = message.seq
            if len(batch) < messages.MAX_PAGE:
                return

    def _hello_sessions(self) -> list[dict]:
        if self.who.is_machine:
            return read_models.machine_sessions(self.who.machine_id)
        return []
