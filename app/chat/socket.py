"""One websocket connection of the live chat (staff browser or device).

Protocol (JSON text frames):

client → server
  {"type": "auth", "token": "..."}                      device, if no Authorization header
  {"type": "subscribe", "ticket": 123, "lastId": 41}    messages after 41, then live ones
  {"type": "send", "ticket": 123, "body": "...", "clientId": "x"}
  {"type": "read", "ticket": 123}                       reset this side's unread counter
  {"type": "watch"}                                     staff: "sessions changed" notices
  {"type": "ping"}
server → client
  {"type": "hello", "side": "agent"|"machine", "sessions": [...]}
  {"type": "message", "ticket": 123, "message": {"id": 42, ...}}
  {"type": "sent", "clientId": "x", "ticket": 123, "id": 42}
  {"type": "session", "event": "started"|"ended", "ticket": 123}
  {"type": "sessions"}                                  staff widget: refresh (also once on "watch")
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

import time
from dataclasses import dataclass

import orjson
from simple_websocket import ConnectionClosed

from app.chat import access, messages, read_models
from app.chat.broker import FrameSignal, LocalBroker, machine_channel, tenant_channel, ticket_channel
from app.devices.serializers import chat_message
from app.devices.tokens import check_token_still_valid
from app.extensions import db
from app.models import User
from app.services import transaction
from app.services.errors import DomainError
from app.services.permissions import can

IDLE_SECONDS = 25  # how often an idle connection re-checks its credentials
SESSIONS_NOTICE_SECONDS = 1.0  # widget refresh notices are coalesced to one per second


@dataclass
class Participant:
    side: str  # "agent" or "machine"
    tenant_id: int
    user_id: int | None = None
    machine_id: int | None = None
    token_id: int | None = None

    @property
    def is_machine(self) -> bool:
        return self.side == "machine"


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
                    if item is None:
                        self._idle()
                    elif item[0] == "frames":
                        if not self._client_frames():
                            return
                    elif item[0] == "event":
                        self._event(item[1], item[2])
                    elif item[0] == "resync":
                        for ticket_id in list(self.cursors):
                            self._catch_up(ticket_id)
                    self._flush_sessions_notice()
                finally:
                    db.session.remove()  # never hold a pooled connection while waiting
        except Closing as closing:
            self.send({"type": "error", "code": closing.code, "message": closing.message})
            self.ws.close(reason=4401, message=closing.code)
        finally:
            signal.on_set = None
            self.subscription.close()
            db.session.remove()

    def _wait_seconds(self) -> float:
        if self.sessions_notice_due is None:
            return IDLE_SECONDS
        return max(0.0, self.sessions_notice_due - time.monotonic())

    def _idle(self) -> None:
        self._check_credentials()

    def _check_credentials(self) -> User | None:
        """A reset device token or a deactivated account stops the socket at once. Returns
        the staff member, for the frame to use (held: the session's identity map is weak,
        so a dropped User would be read again at the next `get`); None for a device."""
        if self.who.is_machine:
            try:
                check_token_still_valid(self.who.token_id)
            except DomainError as error:
                raise Closing(error.code, error.message) from None
            return None
        user = db.session.get(User, self.who.user_id)
        if not can(user, "chat.use"):
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
            answer = self._handle(kind, frame, user)
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

    def _handle(self, kind, frame: dict, user: User | None) -> dict | None:
        """Do what the frame asks; the frame to answer with, if any."""
        if kind == "subscribe":
            self._subscribe(frame, user)
        elif kind == "send":
            return self._send_message(frame, user)
        elif kind == "read":
            messages.mark_read(self._ticket(frame, user), by_device=self.who.is_machine)
        elif kind == "watch" and not self.who.is_machine:
            self.subscription.listen(tenant_channel(self.who.tenant_id))
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
        return access.ticket_for_staff(user, reference)

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
        message = messages.post_message(ticket, author=user, from_device=self.who.is_machine, body=body)
        return {
            "type": "sent",
            "clientId": frame.get("clientId"),
            "ticket": ticket.reference,
            "id": message.published["id"],
        }

    # --- events from the broker -----------------------------------------------------

    def _event(self, channel: str, event: dict) -> None:
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
            if (
                channel.startswith("machine:")
                and event["event"] == "started"
                and ticket_id not in self.cursors
            ):
                # A device follows every chat opened with it, from the first message of the session.
                self._follow(ticket_id, event["ticket"], event.get("firstSeq", 0))
            if channel.startswith("machine:") or not self.who.is_machine:
                self.send({"type": "session", "event": event["event"], "ticket": event["ticket"]})
        elif kind == "sessions" and self.sessions_notice_due is None:
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
