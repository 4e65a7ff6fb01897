"""The desktop agent's JSON API under /api/machines/. Every error is
{"error": {"code", "message"[, "field"]}} with the right status."""

from typing import Any

import fastjsonschema
import msgspec
import orjson
from flask import Blueprint, abort, current_app, jsonify, request
from jsonschema import Draft202012Validator

from app.agent_openapi import OPENAPI, SCHEMAS
from app.extensions import csrf, db
from app.models import Persona
from app.security import bearer_token, current_device_session
from app.services import api_input, compression, rate_limits
from app.services import chat as chat_service
from app.services import machines as machine_service
from app.services.device_sessions import open_device_session
from app.services.errors import DomainError
from app.services.machines import AgentError
from app.services.numbers import INT32_MAX
from app.views.device_sessions import (
    allow_credentials_for_origin,
    begin_device_session,
    origin_refused,
    set_context_cookie,
)
from app.views.downloads import send_attachment

bp = Blueprint("agent_api", __name__, url_prefix="/api/machines")
csrf.exempt(bp)


def _inlined(schema):
    """The schema with every local $ref replaced by its target (the request schemas
    have no cycles): resolving references on each request was half of validation."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref is not None:
            return _inlined(SCHEMAS[ref.rsplit("/", 1)[1]])
        return {key: _inlined(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inlined(item) for item in schema]
    return schema


REQUEST_SCHEMAS = (
    "RegisterRequest",
    "HeartbeatRequest",
    "UsbAckRequest",
    "DeviceSessionRequest",
    "ChatMessageRequest",
)
# jsonschema is the authority and names the field at fault, but checking a heartbeat with
# it cost ~25 us; the same schema compiled to Python code by fastjsonschema checks a good
# body in ~1 us, so jsonschema runs only on the bodies that one refuses.
VALIDATORS = {name: Draft202012Validator(_inlined(SCHEMAS[name])) for name in REQUEST_SCHEMAS}
QUICK_CHECKS = {
    name: fastjsonschema.compile(_inlined(SCHEMAS[name]), use_default=False) for name in REQUEST_SCHEMAS
}


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
    who = (
        "machine:" + machine_service.hash_token(token)[:32]
        if token
        else "addr:" + rate_limits.client_address()
    )
    rate_limits.enforce(f"{setting}:{who}", current_app.config[setting])


@bp.errorhandler(DomainError)
def _agent_error(error: DomainError):
    db.session.rollback()
    body = {"code": error.code, "message": error.message}
    if error.field:
        body["field"] = error.field
    return jsonify({"error": body}), error.status


def _body(schema: str) -> dict:
    """The JSON body, size-checked, read by the one reader of device bodies (UTF-8, at most
    api_input.MAX_DEPTH levels, no NUL, 64-bit integers) and validated against the OpenAPI schema."""
    body = api_input.loads(_raw_body())
    _check(schema, body)
    return body


def _raw_body() -> bytes:
    """The body's bytes, decompressed, within AGENT_MAX_BODY_BYTES (413 past it)."""
    limit = current_app.config["AGENT_MAX_BODY_BYTES"]
    if (request.content_length or 0) > limit:
        raise AgentError(413, "payload_too_large", f"O corpo excede {limit} bytes.")
    raw = request.stream.read(limit + 1) if request.content_length is None else request.get_data()
    if len(raw) > limit:
        raise AgentError(413, "payload_too_large", f"O corpo excede {limit} bytes.")
    return _decoded(raw, limit)


def _check(schema: str, body) -> None:
    try:
        QUICK_CHECKS[schema](body)
    except fastjsonschema.JsonSchemaValueException:
        _refuse_invalid(schema, body)


class _HeartbeatBody(msgspec.Struct):
    """A heartbeat body with the inventory's parts left as JSON text (SentInventory)."""

    metrics: Any = msgspec.UNSET
    inventory: dict[str, msgspec.Raw] | msgspec.UnsetType | None = msgspec.UNSET
    alerts: Any = msgspec.UNSET


_HEARTBEAT_DECODER = msgspec.json.Decoder(_HeartbeatBody)


def _heartbeat_body() -> tuple[dict, machine_service.SentInventory | None]:
    """(metrics and alerts, the inventory as sent), validated like any other body: the
    inventory's schema is "an object", and its parts are parsed only if it changed."""
    raw = _raw_body()
    try:
        sent = _HEARTBEAT_DECODER.decode(raw)
    except msgspec.ValidationError:  # not an object, an inventory that is not one...
        _check("HeartbeatRequest", api_input.loads(raw))  # ...as any body: the answer that names the field
        raise AgentError(422, "invalid_field", "Corpo inválido.") from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        # Refused bodies only: orjson says why (not UTF-8, nested too deep, not JSON).
        api_input.loads(raw)
        raise api_input.not_json() from None
    fields = {name: getattr(sent, name) for name in sent.__struct_fields__}
    body = {name: value for name, value in fields.items() if value is not msgspec.UNSET}
    inventory = body.get("inventory")
    if inventory is not None:
        body["inventory"] = {}  # stands in for the check: the schema asks only for an object
    # NUL, depth and 64-bit integers in the metrics and alerts: a walk of what was decoded
    # (~1 us for the usual metrics). Not a search of the raw body for "\u0000", which costs
    # ~50 us for a 90 KB inventory (bytes.find with a six-byte needle), on every heartbeat. The
    # inventory's parts are checked where they are parsed, only when they may have changed
    # (SentInventory); a part nested past msgspec's own stack limit is refused above.
    api_input.check_tree(body)
    _check("HeartbeatRequest", body)
    return body, machine_service.SentInventory(inventory) if inventory is not None else None


def _refuse_invalid(schema: str, body) -> None:
    """A 422 naming the first field at fault, as jsonschema sees it (the authority), in
    Portuguese and without the value sent (jsonschema's own message quotes it in English)."""
    error = next(iter(sorted(VALIDATORS[schema].iter_errors(body), key=lambda e: list(e.path))), None)
    if error is None:
        return
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        path.append(next(name for name in error.validator_value if name not in error.instance))
    field = ".".join(path) or None
    if (schema, field, error.validator) == ("ChatMessageRequest", "body", "maxLength"):
        raise chat_service.message_too_long()  # the seed's own words, as for a form or a socket
    raise api_input.invalid_field(field, _reason(error.validator, error.validator_value))


_TYPE_NAMES = {
    "string": "texto",
    "integer": "número inteiro",
    "number": "número",
    "object": "objeto",
    "array": "lista",
    "boolean": "verdadeiro ou falso",
    "null": "nulo",
}


def _reason(keyword: str, rule) -> str:
    """What a schema keyword asks, in words: "texto longo demais, máximo 255"."""
    if keyword == "type":
        return "deve ser " + " ou ".join(_TYPE_NAMES.get(name, name) for name in _as_list(rule))
    if keyword == "enum":
        return "deve ser " + " ou ".join(str(option) for option in rule)
    reasons = {
        "required": "obrigatório",
        "minLength": "não pode ser vazio" if rule == 1 else f"texto curto demais, mínimo {rule}",
        "maxLength": f"texto longo demais, máximo {rule}",
        "minimum": f"deve ser no mínimo {rule}",
        "maximum": f"deve ser no máximo {rule}",
        "minItems": f"itens de menos, mínimo {rule}",
        "maxItems": f"itens demais, máximo {rule}",
    }
    return reasons.get(keyword, "valor não aceito")


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _decoded(raw: bytes, limit: int) -> bytes:
    """Bodies may come gzip- or deflate-compressed (a 90 KB inventory is ~10 KB on the
    wire); the limit applies to the decompressed size too."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "identity":
        return raw
    if encoding not in compression.WBITS:
        raise AgentError(415, "unsupported_encoding", "Content-Encoding aceitos: gzip, deflate.")
    try:
        return compression.inflate(raw, encoding, limit)
    except compression.CorruptBody:
        raise AgentError(400, "bad_compression", f"Corpo {encoding} inválido.") from None
    except compression.BodyTooLarge:
        raise AgentError(413, "payload_too_large", f"O corpo excede {limit} bytes descomprimido.") from None


def _person(user) -> dict | None:
    return {"id": user.id, "name": user.name, "email": user.email} if user else None


def _company(company) -> dict | None:
    return {"id": company.id, "name": company.name, "apelido": company.apelido} if company else None


@bp.post("/register")
def register():
    body = _body("RegisterRequest")
    registration = machine_service.register(
        secret=request.headers.get("X-Provisioning-Secret"),
        company_code=body["companyCode"],
        email=body["email"],
        hostname=body["hostname"],
        os=body.get("os") or {},
        mac_addresses=body.get("macAddresses") or [],
        serial_numbers=body.get("serialNumbers") or [],
    )
    machine = registration.machine
    return jsonify(
        {
            "machineId": machine.id,
            "machineToken": registration.token,
            "expiresAt": registration.expires_at.isoformat(),
            "company": _company(machine.company),
            "assignedUser": _person(registration.user),
            "persona": Persona(machine.persona).value,
            "reused": registration.reused,
        }
    ), 201


@bp.delete("/self")
def remove_self():
    """The post-deploy smoke check cleans up after itself (token + provisioning secret)."""
    context = machine_service.authenticate_token(bearer_token())
    person_removed = machine_service.remove_throwaway_device(
        context.machine, request.headers.get("X-Provisioning-Secret")
    )
    return jsonify({"removed": True, "personRemoved": person_removed})


@bp.post("/heartbeat")
def heartbeat():
    context = machine_service.authenticate_token(bearer_token())
    body, inventory = _heartbeat_body()
    result = machine_service.record_heartbeat(context, body.get("metrics"), inventory, body.get("alerts"))
    # orjson, not jsonify's stdlib encoder: this is the busiest answer of the product.
    answer = {
        "nextIntervalSeconds": machine_service.HEARTBEAT_INTERVAL_SECONDS,
        "inventoryStored": result.inventory_stored,
        "commands": result.commands,
        "chat": chat_service.heartbeat_chat_state(context),
    }
    return current_app.response_class(orjson.dumps(answer), mimetype="application/json")


@bp.route("/sessions", methods=["OPTIONS"])
def sessions_preflight():
    return allow_credentials_for_origin(current_app.make_default_options_response())


@bp.post("/sessions")
def open_session():
    """The JSON twin of GET /machines/handshake: the same session and cookies."""
    if origin_refused():
        raise AgentError(403, "origin_not_allowed", "Origem não permitida para abrir sessão do dispositivo.")
    body = _body("DeviceSessionRequest") if request.content_length else {}
    device = open_device_session(body.get("machineToken") or bearer_token())
    begin_device_session(device)
    response = jsonify({**device.context(), "redirect": "/portal"})
    response.headers["Cache-Control"] = "no-store"
    return allow_credentials_for_origin(set_context_cookie(response, device))


@bp.get("/session")
def session():
    # The device token when sent; otherwise the cookies of a device session.
    device = current_device_session()
    token = bearer_token()
    machine = device.machine if device and not token else machine_service.authenticate_token(token).machine
    presence = machine.presence
    return jsonify(
        {
            "machine": {
                "id": machine.id,
                "hostname": machine.hostname,
                "os": machine_service.format_os_version(
                    machine.os_name, machine.os_version, machine.os_build
                ),
                "company": _company(machine.company),
            },
            "assignedUser": _person(machine_service.device_person(machine)),
            "persona": Persona(machine.persona).value,
            "online": machine_service.is_online(presence.last_seen_at if presence else None),
        }
    )


@bp.post("/usb-policy/ack")
def usb_policy_ack():
    machine = machine_service.authenticate_token(bearer_token()).machine
    body = _body("UsbAckRequest")
    policy = machine_service.acknowledge_usb_policy(machine, body["status"], body.get("message"))
    return jsonify(
        {
            "status": policy.status.value,
            "mode": policy.mode.value,
            "acknowledgedAt": policy.acknowledged_at.isoformat(),
        }
    )


# --- live chat, device side (the seed's JSON fallback; the websocket is /ws/chat) ---------


def _chat_ticket(reference: int):
    context = machine_service.authenticate_token(bearer_token())
    return chat_service.ticket_for_machine(context.machine_id, context.tenant_id, reference)


@bp.get("/chat/sessions")
@_chat_rate
def chat_sessions():
    context = machine_service.authenticate_token(bearer_token())
    return jsonify({"sessions": chat_service.machine_sessions(context.machine_id)})


@bp.get("/chat/updates")
@_chat_rate
def chat_updates():
    context = machine_service.authenticate_token(bearer_token())
    return jsonify(chat_service.machine_updates(context.machine_id))


def _query_int(name: str, maximum: int | None = None) -> int | None:
    """A query parameter that is a whole number in an INTEGER column's range (larger: 422;
    `maximum` caps it); ASCII digits only ("²" is a digit to str.isdigit, not to int())."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > INT32_MAX:
        reason = f"número inteiro entre 0 e {INT32_MAX}"
        raise api_input.invalid_field(name, reason)
    return min(int(raw), maximum) if maximum else int(raw)


# One rule for both methods: with a rule per method, a reference past an INTEGER's range
# (which <int:…> refuses) made werkzeug answer a POST 405 "use GET" instead of 404.
@bp.route("/chat/<int:reference>/messages", methods=["GET", "POST"])
@_chat_rate
def chat_messages(reference: int):
    if request.method == "POST":
        return _chat_post(reference)
    ticket = _chat_ticket(reference)
    session = chat_service.active_session(ticket.id)
    if session is None:
        return jsonify({"messages": [], "hasSession": False, "unreadCount": 0})
    since = _query_int("since")
    limit = _query_int("limit", chat_service.MAX_PAGE)
    messages = chat_service.list_messages(ticket, since=since, limit=limit)
    return jsonify(
        {
            "messages": [chat_service.message_json(m, ticket.reference) for m in messages],
            "hasSession": True,
            "unreadCount": session.unread_by_machine,
        }
    )


def _chat_post(reference: int):
    """JSON {"body": "..."}, or multipart with a `body` field and `file` parts."""
    ticket = _chat_ticket(reference)
    if request.mimetype == "multipart/form-data":
        body = request.form.get("body")  # a NUL in it is refused by the chat's own rules
        files = [
            chat_service.IncomingFile(f.filename, f.read(), f.mimetype)
            for f in request.files.getlist("file")
            if f and f.filename
        ]
    else:
        body, files = _body("ChatMessageRequest").get("body"), []
    message = chat_service.post_message(ticket, author=None, from_device=True, body=body, files=files)
    return jsonify(message.published), 201


@bp.post("/chat/<int:reference>/read")
@_chat_rate
def chat_read(reference: int):
    ticket = _chat_ticket(reference)
    return jsonify({"ok": True, "processed": chat_service.mark_read(ticket, by_device=True)})


@bp.get("/chat/<int:reference>/attachments/<int:attachment_id>")
@_chat_rate
def chat_attachment(reference: int, attachment_id: int):
    ticket = _chat_ticket(reference)
    attachment = chat_service.chat_attachment(ticket, attachment_id, machine_id=ticket.machine_id)
    if attachment is None:
        abort(404)
    return send_attachment(attachment, inline=False)


@bp.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)
