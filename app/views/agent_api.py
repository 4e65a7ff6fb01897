"""The desktop agent's JSON API under /api/machines/. Every error is
{"error": {"code", "message"[, "field"]}} with the right status."""

import hashlib

import orjson
from flask import Blueprint, current_app, jsonify, request
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.agent_openapi import OPENAPI, SCHEMAS
from app.extensions import csrf, db, limiter
from app.models import Persona
from app.security import current_device_session
from app.services import machines as machine_service
from app.services.device_sessions import open_device_session
from app.services.machines import AgentError
from app.views.device_sessions import (
    allow_credentials_for_origin,
    begin_device_session,
    origin_refused,
    set_context_cookie,
)
from app.views.errors import json_error

bp = Blueprint("agent_api", __name__, url_prefix="/api/machines")
csrf.exempt(bp)

_REGISTRY = Registry().with_resource(
    "urn:chamados:agent", Resource.from_contents({"components": {"schemas": SCHEMAS}}, DRAFT202012)
)
VALIDATORS = {
    name: Draft202012Validator({"$ref": f"urn:chamados:agent#/components/schemas/{name}"}, registry=_REGISTRY)
    for name in ("RegisterRequest", "HeartbeatRequest", "UsbAckRequest", "DeviceSessionRequest")
}


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _rate_key() -> str:
    """Rate limits count per device token (per address before a device has one)."""
    token = _bearer_token()
    if token:
        return "machine:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "addr:" + (request.remote_addr or "?")


def _agent_limit() -> str:
    return current_app.config["AGENT_RATE_LIMIT"]


limiter.limit(_agent_limit, key_func=_rate_key)(bp)


@bp.errorhandler(AgentError)
def _agent_error(error: AgentError):
    db.session.rollback()
    body = {"code": error.code, "message": error.message}
    if error.field:
        body["field"] = error.field
    return jsonify({"error": body}), error.status


def _body(schema: str) -> dict:
    """The JSON body, size-checked and validated against the OpenAPI schema."""
    limit = current_app.config["AGENT_MAX_BODY_BYTES"]
    if (request.content_length or 0) > limit:
        raise AgentError(413, "payload_too_large", f"O corpo excede {limit} bytes.")
    raw = request.stream.read(limit + 1) if request.content_length is None else request.get_data()
    if len(raw) > limit:
        raise AgentError(413, "payload_too_large", f"O corpo excede {limit} bytes.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise AgentError(400, "invalid_json", "O corpo não é JSON válido.") from None
    error = next(iter(sorted(VALIDATORS[schema].iter_errors(body), key=lambda e: list(e.path))), None)
    if error is not None:
        field = ".".join(str(part) for part in error.absolute_path) or None
        if error.validator == "required":
            field = ".".join([*map(str, error.absolute_path), error.message.split("'")[1]])
        raise AgentError(
            422, "invalid_field", f"Campo inválido: {field or 'corpo'} ({error.message}).", field=field
        )
    return body


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


@bp.post("/heartbeat")
def heartbeat():
    context = machine_service.authenticate_token(_bearer_token())
    body = _body("HeartbeatRequest")
    result = machine_service.record_heartbeat(
        context, body.get("metrics"), body.get("inventory"), body.get("alerts")
    )
    return jsonify(
        {
            "nextIntervalSeconds": machine_service.HEARTBEAT_INTERVAL_SECONDS,
            "inventoryStored": result.inventory_stored,
            "commands": result.commands,
            "chat": {"activeSession": None, "unread": 0},
        }
    )


@bp.route("/sessions", methods=["OPTIONS"])
@limiter.exempt
def sessions_preflight():
    return allow_credentials_for_origin(current_app.make_default_options_response())


@bp.post("/sessions")
def open_session():
    """The JSON twin of GET /machines/handshake: the same session and cookies."""
    if origin_refused():
        raise AgentError(403, "origin_not_allowed", "Origem não permitida para abrir sessão do dispositivo.")
    body = _body("DeviceSessionRequest") if request.content_length else {}
    device = open_device_session(body.get("machineToken") or _bearer_token())
    begin_device_session(device)
    response = jsonify({**device.context(), "redirect": "/portal"})
    response.headers["Cache-Control"] = "no-store"
    return allow_credentials_for_origin(set_context_cookie(response, device))


@bp.get("/session")
def session():
    # The device token when sent; otherwise the cookies of a device session.
    device = current_device_session()
    token = _bearer_token()
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
    machine = machine_service.authenticate_token(_bearer_token()).machine
    body = _body("UsbAckRequest")
    policy = machine_service.acknowledge_usb_policy(machine, body["status"], body.get("message"))
    return jsonify(
        {
            "status": policy.status.value,
            "mode": policy.mode.value,
            "acknowledgedAt": policy.acknowledged_at.isoformat(),
        }
    )


@bp.get("/openapi.json")
@limiter.exempt
def openapi():
    return jsonify(OPENAPI)


@bp.errorhandler(429)
def _too_many(error):
    return json_error(429, "rate_limited", "Muitas requisições deste dispositivo; aguarde.")
