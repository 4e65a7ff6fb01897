"""OpenAPI 3 description of the agent API (/api/machines/...): its paths; the schemas are in
app/devices/openapi_schemas.py.

The request schemas also validate incoming bodies (app/views/agent_body.py), and the tests
validate real responses against the response schemas, so the document cannot drift from
what the server does.
"""

from app.devices.openapi_schemas import SCHEMAS


def _json(schema: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _errors(*statuses: int) -> dict:
    """The error answers of an operation: `statuses`, and those any request can get (413 past the
    app's request size, 422 for a NUL in a query or form field, 429 when flooding)."""
    descriptions = {
        400: "Body not UTF-8 (invalid_encoding), not JSON (invalid_json), nesting arrays and objects "
        "past 32 levels (too_deep), or with corrupt gzip/deflate compression (bad_compression)",
        401: "Missing, invalid, expired or revoked token (token_missing, token_invalid, token_expired, "
        "token_revoked) or wrong provisioning secret",
        403: "Device or person deactivated; or (chat) the ticket is not linked to this device; or "
        "(tickets) no active person is linked to the device (no_linked_person), or a staff member is "
        "(staff_person)",
        404: "Unknown company code; or (chat) unknown ticket or file, or a number in the path past "
        "2147483647 (no row can have it)",
        409: "Conflict with the current state (chat: no active session)",
        413: "Body larger than AGENT_MAX_BODY_BYTES, after decompression too (chat files: larger than "
        "10 MB; a ticket's screenshot: larger than 768 KB)",
        415: "Content-Encoding other than identity, gzip or deflate",
        422: "Body or query does not match the schema, or holds a NUL character or an integer past "
        "64 bits; `field` names the offending field, whose value is never repeated",
        429: "Too many requests from this device (Retry-After says when to try again)",
    }
    statuses = sorted({*statuses, 413, 422, 429})
    return {str(s): {"description": descriptions[s], "content": _json("Error")} for s in statuses}


BEARER = [{"machineToken": []}]
# Ids and ticket numbers are INTEGER columns: a larger number in the path is a 404.
RECORD_NUMBER = {"type": "integer", "minimum": 1, "maximum": 2_147_483_647}
CHAT_TICKET = {"name": "ticket", "in": "path", "required": True, "schema": RECORD_NUMBER}
LIMITS = (
    "Limits, for every body: at most AGENT_MAX_BODY_BYTES (1 100 000 bytes by default), after "
    "decompression too (413); UTF-8 (400 invalid_encoding); arrays and objects nested at most 32 "
    "levels, the body being the first (400 too_deep); no NUL character (\\u0000) in any string or "
    "key and no integer past 64 bits (422 invalid_field, naming the field). Refusals are "
    '{"error": {"code", "message", "field"?}}, the message in Portuguese, never repeating the value.'
)

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Chamados — API do agente", "version": "1.0.0", "description": LIMITS},
    "servers": [{"url": "/"}],
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "machineToken": {"type": "http", "scheme": "bearer"},
            "provisioningSecret": {"type": "apiKey", "in": "header", "name": "X-Provisioning-Secret"},
            "deviceSession": {"type": "apiKey", "in": "cookie", "name": "session"},
        },
    },
    "paths": {
        "/api/machines/register": {
            "post": {
                "summary": "Register a device (or the same hardware again) and get its token",
                "security": [{"provisioningSecret": []}],
                "requestBody": {"required": True, "content": _json("RegisterRequest")},
                "responses": {
                    "201": {"description": "Registered", "content": _json("RegisterResponse")},
                    **_errors(400, 401, 403, 404, 409, 413, 415, 422, 429),
                },
            }
        },
        "/api/machines/heartbeat": {
            "post": {
                "summary": "Report metrics, optionally the inventory and posture alerts",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "description": "Send it with Content-Encoding: gzip (or deflate) to cut a 90 KB "
                    "inventory to ~10 KB on the wire; AGENT_MAX_BODY_BYTES applies after decompression.",
                    "content": _json("HeartbeatRequest"),
                },
                "responses": {
                    "200": {"description": "Accepted", "content": _json("HeartbeatResponse")},
                    **_errors(400, 401, 403, 413, 415, 422, 429),
                },
            }
        },
        "/api/machines/session": {
            "get": {
                "summary": "The device context: machine, assigned person, persona "
                "(device token, or the cookies of a device session)",
                "security": [*BEARER, {"deviceSession": []}],
                "responses": {
                    "200": {"description": "The device", "content": _json("SessionResponse")},
                    **_errors(401, 403, 429),
                },
            }
        },
        "/api/machines/sessions": {
            "post": {
                "summary": "Open a device session in a browser/WebView: sets the login session and "
                "machine_ctx cookies (CORS with credentials for MACHINE_SESSION_ALLOWED_ORIGINS)",
                "security": BEARER,
                "requestBody": {"required": False, "content": _json("DeviceSessionRequest")},
                "responses": {
                    "200": {"description": "Session opened", "content": _json("DeviceSessionResponse")},
                    **_errors(400, 401, 403, 422, 429),
                },
            }
        },
        "/api/machines/self": {
            "delete": {
                "summary": "Remove a throwaway device (post-deploy smoke check); refused if it has history",
                "security": [{"machineToken": [], "provisioningSecret": []}],
                "responses": {
                    "200": {"description": "Removed", "content": _json("RemoveResponse")},
                    **_errors(401, 403, 409, 429),
                },
            }
        },
        "/api/machines/usb-policy/ack": {
            "post": {
                "summary": "Confirm the pending USB storage policy was applied, or say it failed",
                "security": BEARER,
                "requestBody": {"required": True, "content": _json("UsbAckRequest")},
                "responses": {
                    "200": {"description": "Recorded", "content": _json("UsbAckResponse")},
                    **_errors(400, 401, 403, 409, 413, 415, 422, 429),
                },
            }
        },
        "/api/machines/tickets": {
            "post": {
                "summary": "Open a ticket from the computer for the device's person (never staff), "
                "linked to the device, with an optional PNG screenshot",
                "security": BEARER,
                "requestBody": {"required": True, "content": _json("DeviceTicketRequest")},
                "responses": {
                    "201": {"description": "Opened", "content": _json("DeviceTicketResponse")},
                    **_errors(400, 401, 403, 413, 415, 422, 429),
                },
            }
        },
        "/api/machines/chat/sessions": {
            "get": {
                "summary": "Active live chats with this device (at most 50)",
                "security": BEARER,
                "responses": {
                    "200": {"description": "Sessions", "content": _json("ChatSessionsResponse")},
                    **_errors(401, 403, 429),
                },
            }
        },
        "/api/machines/chat/updates": {
            "get": {
                "summary": "Light poll: active chats and unread counts",
                "security": BEARER,
                "responses": {
                    "200": {"description": "Updates", "content": _json("ChatUpdatesResponse")},
                    **_errors(401, 403, 429),
                },
            }
        },
        "/api/machines/chat/{ticket}/messages": {
            "parameters": [CHAT_TICKET],
            "get": {
                "summary": "Chat messages after `since` (a message id), newest `limit` (≤ 200), oldest first",
                "security": BEARER,
                "parameters": [
                    {
                        "name": "since",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2_147_483_647},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                ],
                "responses": {
                    "200": {"description": "Messages", "content": _json("ChatMessagesResponse")},
                    **_errors(401, 403, 404, 422, 429),
                },
            },
            "post": {
                "summary": "Send a message: JSON {body}, or multipart/form-data with `body` and `file` parts "
                "(jpg, jpeg, png, gif, webp, pdf, txt, doc, docx, xls, xlsx; content checked; 10 MB)",
                "security": BEARER,
                "requestBody": {
                    "required": True,
                    "content": {
                        **_json("ChatMessageRequest"),
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "body": {"type": "string", "maxLength": 4000},
                                    "file": {"type": "string", "format": "binary"},
                                },
                            }
                        },
                    },
                },
                "responses": {
                    "201": {"description": "Stored and delivered", "content": _json("ChatMessage")},
                    **_errors(400, 401, 403, 404, 409, 413, 415, 422, 429),
                },
            },
        },
        "/api/machines/chat/{ticket}/read": {
            "parameters": [CHAT_TICKET],
            "post": {
                "summary": "Mark the chat read on the device side (resets its unread counter)",
                "security": BEARER,
                "responses": {
                    "200": {"description": "Done", "content": _json("ChatReadResponse")},
                    **_errors(401, 403, 404, 429),
                },
            },
        },
        "/api/machines/chat/{ticket}/attachments/{attachment}": {
            "parameters": [
                CHAT_TICKET,
                {"name": "attachment", "in": "path", "required": True, "schema": RECORD_NUMBER},
            ],
            "get": {
                "summary": "Download a file sent in this ticket's chat",
                "security": BEARER,
                "responses": {
                    "200": {"description": "The file", "content": {"application/octet-stream": {}}},
                    **_errors(401, 403, 404, 429),
                },
            },
        },
    },
}
