"""What a device sends the agent API, read and checked before any view uses it.

Every JSON body goes through the one reader of device bodies (app/services/api_input.py:
UTF-8, at most api_input.MAX_DEPTH levels, no NUL, 64-bit integers), within
AGENT_MAX_BODY_BYTES after decompression too, and is validated against its schema in the
OpenAPI document (app/devices/openapi_schemas.py). Refusals are DomainErrors, which the
agent API answers as {"error": {"code", "message", "field"?}}.
"""

from typing import Any

import fastjsonschema
import msgspec
from flask import current_app, request
from jsonschema import Draft202012Validator

from app.chat.messages import message_too_long
from app.devices.inventory import SentInventory
from app.devices.openapi_schemas import SCHEMAS
from app.services import api_input, compression
from app.services.errors import DomainError
from app.services.numbers import INT32_MAX


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
    "DeviceTicketRequest",
)
# jsonschema is the authority and names the field at fault, but checking a heartbeat with
# it cost ~25 us; the same schema compiled to Python code by fastjsonschema checks a good
# body in ~1 us, so jsonschema runs only on the bodies that one refuses.
VALIDATORS = {name: Draft202012Validator(_inlined(SCHEMAS[name])) for name in REQUEST_SCHEMAS}
QUICK_CHECKS = {
    name: fastjsonschema.compile(_inlined(SCHEMAS[name]), use_default=False) for name in REQUEST_SCHEMAS
}


def read_body(schema: str) -> dict:
    """The JSON body, size-checked, read by the one reader of device bodies (UTF-8, at most
    api_input.MAX_DEPTH levels, no NUL, 64-bit integers) and validated against the OpenAPI schema."""
    body = api_input.loads(_raw_body())
    _check(schema, body)
    return body


def _raw_body() -> bytes:
    """The body's bytes, decompressed, within AGENT_MAX_BODY_BYTES (413 past it)."""
    limit = current_app.config["AGENT_MAX_BODY_BYTES"]
    if (request.content_length or 0) > limit:
        raise _too_large(f"O corpo excede {limit} bytes.")
    raw = request.stream.read(limit + 1) if request.content_length is None else request.get_data()
    if len(raw) > limit:
        raise _too_large(f"O corpo excede {limit} bytes.")
    return _decoded(raw, limit)


def _too_large(message: str) -> DomainError:
    return DomainError(message, status=413, code="payload_too_large")


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


def heartbeat_body() -> tuple[dict, SentInventory | None]:
    """(metrics and alerts, the inventory as sent), validated like any other body: the
    inventory's schema is "an object", and its parts are parsed only if it changed."""
    raw = _raw_body()
    try:
        sent = _HEARTBEAT_DECODER.decode(raw)
    except msgspec.ValidationError:  # not an object, an inventory that is not one...
        _check("HeartbeatRequest", api_input.loads(raw))  # ...as any body: the answer that names the field
        raise DomainError("Corpo inválido.", status=422, code="invalid_field") from None
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
    return body, SentInventory(inventory) if inventory is not None else None


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
        raise message_too_long()  # the seed's own words, as for a form or a socket
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
        raise DomainError("Content-Encoding aceitos: gzip, deflate.", status=415, code="unsupported_encoding")
    try:
        return compression.inflate(raw, encoding, limit)
    except compression.CorruptBody:
        raise DomainError(f"Corpo {encoding} inválido.", status=400, code="bad_compression") from None
    except compression.BodyTooLarge:
        raise _too_large(f"O corpo excede {limit} bytes descomprimido.") from None


def query_int(name: str, maximum: int | None = None) -> int | None:
    """A query parameter that is a whole number in an INTEGER column's range (larger: 422;
    `maximum` caps it); ASCII digits only ("²" is a digit to str.isdigit, not to int())."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > INT32_MAX:
        reason = f"número inteiro entre 0 e {INT32_MAX}"
        raise api_input.invalid_field(name, reason)
    return min(int(raw), maximum) if maximum else int(raw)
