"""The desktop agent's JSON API under /api/machines/. Every error is
{"error": {"code", "message"[, "field"]}} with the right status.

Bodies and query numbers are read by app/views/agent_body.py; every answer is written by
app/devices/serializers.py; a device's token is checked once per request, by
`device_required`, which hands the view its AgentContext.
"""

from functools import wraps

import orjson
from flask import Blueprint, abort, current_app, jsonify, request

from app.chat import access as chat_access
from app.chat import messages as chat_store
from app.chat import read_models as chat_reads
from app.chat.sessions import active_session
from app.devices import serializers
from app.devices.admin import remove_throwaway_device
from app.devices.heartbeats import record_heartbeat
from app.devices.online import is_online
from app.devices.openapi import OPENAPI
from app.devices.people import device_person
from app.devices.registration import register as register_device
from app.devices.sessions import open_device_session
from app.devices.tickets import open_ticket_from_device
from app.devices.tokens import authenticate_token, hash_token
from app.devices.usb import acknowledge_usb_policy
from app.extensions import csrf
from app.security import bearer_token, current_device_session
from app.services import rate_limits
from app.services.errors import DomainError
from app.views.agent_body import heartbeat_body, query_int, read_body
from app.views.device_sessions import (
    allow_credentials_for_origin,
    begin_device_session,
    origin_refused,
    set_context_cookie,
)
from app.views.downloads import send_attachment

bp = Blueprint("agent_api", __name__, url_prefix="/api/machines")
csrf.exempt(bp)


def device_required(view):
    """The device's bearer token, checked once (tokens.authenticate_token: 401/403 otherwise);
    the view gets the device's AgentContext as its first argument."""

    @wraps(view)
    def with_device(**kwargs):
        return view(authenticate_token(bearer_token()), **kwargs)

    return with_device


def _chat_rate(view):
    """The device's chat calls poll more often: they count against CHAT_RATE_LIMIT instead."""
    view.rate_limit_setting = "CHAT_RATE_LIMIT"
    return view


@bp.before_request
def _refuse_floods() -> None:
    """AGENT_RATE_LIMIT per device token (per address before a device has one)."""
    if request.method == "OPTIONS":
        return None  # CORS preflights are the browser's, not the device's
    view = current_app.view_functions.get(request.endpoint)
    setting = getattr(view, "rate_limit_setting", "AGENT_RATE_LIMIT")
    token = bearer_token()
    who = "machine:" + hash_token(token)[:32] if token else "addr:" + rate_limits.client_address()
    rate_limits.enforce(f"{setting}:{who}", current_app.config[setting])


@bp.errorhandler(DomainError)
def _agent_error(error: DomainError):
    body = {"code": error.code, "message": error.message}
    if error.field:
        body["field"] = error.field
    return jsonify({"error": body}), error.status


@bp.post("/register")
def register():
    body = read_body("RegisterRequest")
    registration = register_device(
        secret=request.headers.get("X-Provisioning-Secret"),
        company_code=body["companyCode"],
        email=body["email"],
        hostname=body["hostname"],
        os=body.get("os") or {},
        mac_addresses=body.get("macAddresses") or [],
        serial_numbers=body.get("serialNumbers") or [],
    )
    return jsonify(serializers.registration(registration)), 201


@bp.delete("/self")
@device_required
def remove_self(context):
    """The post-deploy smoke check cleans up after itself (token + provisioning secret)."""
    person_removed = remove_throwaway_device(context.machine, request.headers.get("X-Provisioning-Secret"))
    return jsonify(serializers.removed(person_removed))


@bp.post("/heartbeat")
@device_required
def heartbeat(context):
    body, inventory = heartbeat_body()
    result = record_heartbeat(context, body.get("metrics"), inventory, body.get("alerts"))
    # The chat's details are read only while a chat is open (the counts came with the token).
    sessions = chat_reads.machine_sessions(context.machine_id) if context.chat_sessions else []
    # orjson, not jsonify's stdlib encoder: this is the busiest answer of the product.
    answer = serializers.heartbeat(result, context, sessions)
    return current_app.response_class(orjson.dumps(answer), mimetype="application/json")


@bp.route("/sessions", methods=["OPTIONS"])
def sessions_preflight():
    return allow_credentials_for_origin(current_app.make_default_options_response())


@bp.post("/sessions")
def open_session():
    """The JSON twin of GET /machines/handshake: the same session and cookies."""
    if origin_refused():
        raise DomainError(
            "Origem não permitida para abrir sessão do dispositivo.", status=403, code="origin_not_allowed"
        )
    body = read_body("DeviceSessionRequest") if request.content_length else {}
    device = open_device_session(body.get("machineToken") or bearer_token())
    begin_device_session(device)
    response = jsonify(serializers.device_session_opened(device.context()))
    response.headers["Cache-Control"] = "no-store"
    return allow_credentials_for_origin(set_context_cookie(response, device))


@bp.get("/session")
def session():
    # The device token when sent; otherwise the cookies of a device session.
    device = current_device_session()
    token = bearer_token()
    machine = device.machine if device and not token else authenticate_token(token).machine
    presence = machine.presence
    online = is_online(presence.last_seen_at if presence else None)
    return jsonify(serializers.device(machine, device_person(machine), online))


@bp.post("/usb-policy/ack")
@device_required
def usb_policy_ack(context):
    machine = context.machine
    body = read_body("UsbAckRequest")
    policy = acknowledge_usb_policy(machine, body["status"], body.get("message"))
    return jsonify(serializers.usb_acknowledged(policy))


@bp.post("/tickets")
@device_required
def open_ticket(context):
    """The desktop agent's "Abrir chamado": the device's person's ticket, the device attached."""
    body = read_body("DeviceTicketRequest")
    screenshot = body.get("screenshot")
    ticket = open_ticket_from_device(context, body["subject"], body.get("description") or "", screenshot)
    return jsonify(serializers.device_ticket(ticket, screenshot_attached=screenshot is not None)), 201


# --- live chat, device side (the seed's JSON fallback; the websocket is /ws/chat) ---------


def _chat_ticket(context, reference: int):
    return chat_access.ticket_for_machine(context.machine_id, context.tenant_id, reference)


@bp.get("/chat/sessions")
@_chat_rate
@device_required
def chat_sessions(context):
    return jsonify(serializers.chat_session_list(chat_reads.machine_sessions(context.machine_id)))


@bp.get("/chat/updates")
@_chat_rate
@device_required
def chat_updates(context):
    return jsonify(chat_reads.machine_updates(context.machine_id))


# One rule for both methods: with a rule per method, a reference past an INTEGER's range
# (which <int:…> refuses) made werkzeug answer a POST 405 "use GET" instead of 404.
@bp.route("/chat/<int:reference>/messages", methods=["GET", "POST"])
@_chat_rate
@device_required
def chat_messages(context, reference: int):
    if request.method == "POST":
        return _chat_post(context, reference)
    ticket = _chat_ticket(context, reference)
    session = active_session(ticket.id)
    if session is None:
        return jsonify(serializers.no_chat_messages())
    since = query_int("since")
    limit = query_int("limit", chat_store.MAX_PAGE)
    messages = chat_store.list_messages(ticket, since=since, limit=limit)
    return jsonify(serializers.chat_messages(messages, ticket.reference, session.unread_by_machine))


def _chat_post(context, reference: int):
    """JSON {"body": "..."}, or multipart with a `body` field and `file` parts."""
    ticket = _chat_ticket(context, reference)
    if request.mimetype == "multipart/form-data":
        body = request.form.get("body")  # a NUL in it is refused by the chat's own rules
        files = [
            chat_store.IncomingFile(f.filename, f.read(), f.mimetype)
            for f in request.files.getlist("file")
            if f and f.filename
        ]
    else:
        body, files = read_body("ChatMessageRequest").get("body"), []
    message = chat_store.post_message(ticket, author=None, from_device=True, body=body, files=files)
    return jsonify(message.published), 201


@bp.post("/chat/<int:reference>/read")
@_chat_rate
@device_required
def chat_read(context, reference: int):
    ticket = _chat_ticket(context, reference)
    return jsonify(serializers.chat_read(chat_store.mark_read(ticket, by_device=True)))


@bp.get("/chat/<int:reference>/attachments/<int:attachment_id>")
@_chat_rate
@device_required
def chat_attachment(context, reference: int, attachment_id: int):
    ticket = _chat_ticket(context, reference)
    attachment = chat_access.chat_attachment(ticket, attachment_id, machine_id=ticket.machine_id)
    if attachment is None:
        abort(404)
    return send_attachment(attachment, inline=False)


@bp.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)
