"""Inventories from FusionInventory and GLPI Agent, answered in each agent's own format.

`--server https://host/api/inventory/<company code>` (or the shared URL
`/api/inventory` with `--tag <company code>`). The rules live in
app/devices/external_inventory.py; this view reads the body, speaks the protocol and
maps refusals (DomainErrors) to the agent's format (XML `<REPLY><ERROR>`, or JSON
`{"status": "error"}`) with a 4xx status, never a 500.
"""

import logging
from xml.sax.saxutils import escape

import orjson
from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import TooManyRequests

from app.devices import external_inventory as inventory_service
from app.devices.external_inventory import Message
from app.extensions import csrf
from app.services import rate_limits
from app.services.errors import DomainError

log = logging.getLogger(__name__)

bp = Blueprint("inventory_api", __name__, url_prefix="/api/inventory")
csrf.exempt(bp)


@bp.before_request
def _limit_per_address() -> None:
    rate_limits.enforce(
        f"inventory:{rate_limits.client_address()}", current_app.config["INVENTORY_RATE_LIMIT"]
    )


# Exactly `Basic realm="…"`: FusionInventory reads the realm with /^Basic realm="(.*)"/, so any
# parameter after it would become part of the realm and the agent would never send its password.
REALM = 'Basic realm="Chamados"'


@bp.post("/", defaults={"code": None}, strict_slashes=False)
@bp.post("/<code>", strict_slashes=False)
def receive(code: str | None):
    compression, protocol = "none", _protocol_hint()
    try:
        body = inventory_service.decode_body(_read_body())
        compression = body.compression
        message = inventory_service.parse_message(body.data)
        protocol = "json" if message.protocol == "json" or _is_glpi_agent() else "xml"
        return _answer(_handle(code, message), protocol, compression)
    except DomainError as refusal:
        log.warning(
            "inventory refused: status=%s code=%s addr=%s path=%s detail=%s",
            refusal.status, refusal.code, request.remote_addr, request.path, refusal.message,
        )  # fmt: skip
        return _refuse(refusal, protocol, compression)


@bp.errorhandler(TooManyRequests)
def _too_many(_error):
    refusal = DomainError("Muitas requisições: tente de novo em instantes.", status=429, code="rate_limited")
    return _refuse(refusal, _protocol_hint(), "none")


def _read_body() -> bytes:
    limit = current_app.config["INVENTORY_MAX_BODY_BYTES"]
    if (request.content_length or 0) > limit:
        raise DomainError(f"O corpo excede {limit} bytes.", status=413, code="payload_too_large")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise DomainError(f"O corpo excede {limit} bytes.", status=413, code="payload_too_large")
    if not raw.strip():
        raise DomainError("Corpo vazio.", status=400, code="empty_body")
    return raw


def _handle(code: str | None, message: Message) -> dict:
    """What to answer, as a protocol-neutral dict; refusals raise a DomainError."""
    company = None
    if code or message.tag:
        company = inventory_service.company_for_code(code or message.tag)
        auth = request.authorization
        inventory_service.check_credentials(
            company.tenant, auth.username if auth else None, auth.password if auth else None
        )
    hours = current_app.config["INVENTORY_PROLOG_FREQ_HOURS"]
    if message.action in ("prolog", "contact"):
        # Without a code yet (shared URL, FusionInventory's PROLOG carries no tag) the inventory decides.
        return {"kind": message.action, "hours": hours}
    if message.action != "inventory":
        raise DomainError(f"Consulta não suportada: {message.action}.", status=422, code="unsupported")
    if company is None:
        raise DomainError(
            "Informe o código da empresa na URL ou na --tag do agente.", status=404, code="company_not_found"
        )
    source = inventory_service.source_of(message, glpi_header=_is_glpi_agent())
    result = inventory_service.ingest(company, message, source)
    log.info(
        "inventory: machine=%s company=%s source=%s created=%s stored=%s",
        result.machine.id, company.id, source, result.created, result.inventory_stored,
    )  # fmt: skip
    return {"kind": "inventory", "hours": hours}


def _answer(reply: dict, protocol: str, compression: str) -> Response:
    hours = reply["hours"]
    if protocol == "json":
        document = {"status": "ok", "expiration": hours}
        if reply["kind"] == "contact":
            document["tasks"] = {"inventory": {}}
        return _response(orjson.dumps(document), "json", compression, 200)
    if reply["kind"] == "prolog":
        xml = f"<REPLY><PROLOG_FREQ>{hours}</PROLOG_FREQ><RESPONSE>SEND</RESPONSE></REPLY>"
    else:
        xml = "<REPLY></REPLY>"
    return _response(_xml(xml), "xml", compression, 200)


def _refuse(refusal: DomainError, protocol: str, compression: str) -> Response:
    if protocol == "json":
        payload = orjson.dumps({"status": "error", "message": refusal.message})
    else:
        payload = _xml(f"<REPLY><ERROR>{escape(refusal.message)}</ERROR></REPLY>")
    response = _response(payload, protocol, compression, refusal.status)
    if refusal.status == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response


def _response(payload: bytes, protocol: str, compression: str, status: int) -> Response:
    content_type = {
        "zlib": "application/x-compress-zlib",
        "gzip": "application/x-compress-gzip",
    }.get(compression, "application/json" if protocol == "json" else "application/xml")
    body = inventory_service.encode_reply(payload, compression)
    return Response(body, status=status, content_type=content_type)


def _xml(reply: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + reply + "\n").encode()


def _is_glpi_agent() -> bool:
    return bool(request.headers.get("GLPI-Agent-ID"))


def _protocol_hint() -> str:
    """Before the body is parsed: the format to refuse in."""
    if _is_glpi_agent() or "json" in (request.content_type or ""):
        return "json"
    return "xml"
