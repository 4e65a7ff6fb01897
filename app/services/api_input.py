"""What the device APIs accept, and the one reader of their JSON bodies.

Every JSON body of the agent API (/api/machines/...) and of GLPI Agent's inventory
(/api/inventory) is read by `loads` (or, for the heartbeat's msgspec decoding, checked
by `check_tree` on what it decoded), so the same bad input gets the same answer
everywhere, and never reaches the database to become a 500:

* not UTF-8: 400 `invalid_encoding`;
* not JSON: 400 `invalid_json`;
* arrays and objects nested deeper than MAX_DEPTH levels: 400 `too_deep`;
* a NUL character in any string or key (PostgreSQL cannot store it in text or jsonb):
  422 `invalid_field` naming the field;
* an integer outside 64 bits (no column, and no JSON column written by orjson, holds it):
  422 `invalid_field` naming the field.

Messages are Portuguese and name the field by its path ("alerts.0.details"), never the
value sent.
"""

from __future__ import annotations

import re

import orjson

from app.services.errors import DomainError

# Levels of arrays and objects a body may nest (the body itself is level 1). The deepest
# real bodies are ~5 (a heartbeat's alerts[].details, GLPI Agent's content.section.field).
MAX_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# A key goes into a field's name only if it looks like one: a key is something sent, too.
_NAMEABLE_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def invalid_field(field: str | None, reason: str) -> DomainError:
    """The one wording of a refused field: "Campo inválido: hostname (texto longo demais, máximo 255)."."""
    return DomainError(
        f"Campo inválido: {field or 'corpo'} ({reason}).", status=422, code="invalid_field", field=field
    )


def not_utf8() -> DomainError:
    return DomainError("O corpo não está em UTF-8.", status=400, code="invalid_encoding")


def too_deep() -> DomainError:
    return DomainError(
        f"O corpo aninha listas e objetos em mais de {MAX_DEPTH} níveis.", status=400, code="too_deep"
    )


def not_json(error: orjson.JSONDecodeError | None = None) -> DomainError:
    where = f" (linha {error.lineno}, coluna {error.colno})" if error is not None else ""
    return DomainError(f"O corpo não é JSON válido{where}.", status=400, code="invalid_json")


def loads(raw: bytes | memoryview, field: str = "", depth: int = 1):
    """The JSON document in `raw`, checked by the rules above. `field` and `depth` say where
    the text sits when it is part of a larger body (an inventory part: "inventory.software", 3)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise refusal_for(raw, error) from None
    check_tree(document, field, depth)
    return document


def refusal_for(raw: bytes | memoryview, error: orjson.JSONDecodeError) -> DomainError:
    """Why orjson refused `raw`: its own nesting limit (1 024), bytes that are not UTF-8, or
    anything else that is not JSON. Only ever runs on a refused body."""
    if "depth limit" in str(error) or "recursion" in str(error):
        return too_deep()
    try:
        bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return not_utf8()
    return not_json(error)


def check_tree(value, field: str = "", depth: int = 1) -> None:
    """Refuse a parsed body that breaks a rule above (a DomainError). `depth` is the level of
    `value` itself in the body it came from.

    One pass, level by level, keeping no path (a heartbeat's metrics and alerts cost ~1-3 us);
    only a body that breaks a rule is walked again (`_find`) to name the field. (Doing the
    per-value work with builtins, a set of each level's types and one join of its strings,
    measured twice as slow.)"""
    root_depth, level = depth, [value]
    while level:
        if depth > MAX_DEPTH:
            raise too_deep()
        below = []
        for node in level:
            if type(node) is dict:
                if "\x00" in "".join(node):
                    raise _fault(value, field, root_depth)
                items = node.values()
            elif type(node) is list:
                items = node
            else:
                items = (node,)  # a bare string or number as the whole body
            for item in items:
                kind = type(item)
                if kind is str:
                    if "\x00" in item:
                        raise _fault(value, field, root_depth)
                elif kind is dict or kind is list:
                    below.append(item)
                elif kind is int and not INT64_MIN <= item <= INT64_MAX:
                    raise _fault(value, field, root_depth)
        level = below
        depth += 1


def _fault(value, field: str, depth: int) -> DomainError:
    """Name the first field at fault (depth first, in the order sent)."""
    found = _find(value, [field] if field else [], depth)
    if found is None:  # cannot happen: check_tree saw a fault
        return invalid_field(field or None, "valor não aceito")
    path, reason = found
    return invalid_field(".".join(path) or None, reason)


def _find(node, path: list[str], depth: int) -> tuple[list[str], str] | None:
    if type(node) is str:
        return (path, "caractere NUL não é aceito") if "\x00" in node else None
    if type(node) is int:
        return None if INT64_MIN <= node <= INT64_MAX else (path, "número fora do intervalo aceito")
    if depth > MAX_DEPTH:  # not reached: check_tree refuses depth before it looks for a field
        return None
    if type(node) is dict:
        for key, item in node.items():
            if "\x00" in key:
                return path, "nome de campo com caractere NUL não é aceito"
            nameable = _NAMEABLE_KEY.fullmatch(key) is not None
            found = _find(item, [*path, key] if nameable else path, depth + 1)
            if found is not None:
                return found
    elif type(node) is list:
        for index, item in enumerate(node):
            found = _find(item, [*path, str(index)], depth + 1)
            if found is not None:
                return found
    return None
