"""OpenAPI 3 description of the agent API (/api/machines/...).

The request schemas here also validate incoming bodies (views/agent_api.py), and
the tests validate real responses against the response schemas, so the document
cannot drift from what the server does.
"""

NUMBER_PERCENT = {"type": "number", "minimum": 0, "maximum": 100}
STRINGS = {"type": "array", "items": {"type": "string", "maxLength": 64}}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                },
            }
        },
    },
    "OperatingSystem": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 120},
            "version": {"type": "string", "maxLength": 60},
            "build": {"type": "string", "maxLength": 60},
            "arch": {"type": "string", "maxLength": 20},
        },
    },
    "RegisterRequest": {
        "type": "object",
        "required": ["companyCode", "email", "hostname"],
        "properties": {
            "companyCode": {"type": "string", "minLength": 1, "maxLength": 32},
            "email": {"type": "string", "minLength": 3, "maxLength": 254},
            "hostname": {"type": "string", "minLength": 1, "maxLength": 255},
            "os": {"$ref": "#/components/schemas/OperatingSystem"},
            "macAddresses": {**STRINGS, "maxItems": 64},
            "serialNumbers": {**STRINGS, "maxItems": 16},
        },
    },
    "Person": {
        "type": "object",
        "required": ["id", "name", "email"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"}},
    },
    "Company": {
        "type": "object",
        "required": ["id", "name", "apelido"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "apelido": {"type": "string"}},
    },
    "RegisterResponse": {
        "type": "object",
        "required": [
            "machineId",
            "machineToken",
            "expiresAt",
            "company",
            "assignedUser",
            "persona",
            "reused",
        ],
        "properties": {
            "machineId": {"type": "integer"},
            "machineToken": {"type": "string", "minLength": 40},
            "expiresAt": {"type": "string", "format": "date-time"},
            "company": {"$ref": "#/components/schemas/Company"},
            "assignedUser": {"$ref": "#/components/schemas/Person"},
            "persona": {"type": "string", "enum": ["collaborator", "manager"]},
            "reused": {"type": "boolean", "description": "true when the same hardware was registered before"},
        },
    },
    "Metrics": {
        "type": "object",
        "properties": {
            "cpuPercent": NUMBER_PERCENT,
            "memoryPercent": NUMBER_PERCENT,
            "disks": {
                "type": "array",
                "maxItems": 64,
                "items": {
                    "type": "object",
                    "properties": {
                        "mount": {"type": "string"},
                        "freePercent": NUMBER_PERCENT,
                        "freeBytes": {"type": "integer", "minimum": 0},
                    },
                },
            },
            "uptimeSeconds": {"type": "integer", "minimum": 0, "maximum": 2_147_483_647},
            "loggedUser": {"type": ["string", "null"], "maxLength": 120},
        },
    },
    "Alert": {
        "type": "object",
        "required": ["kind"],
        "properties": {
            "kind": {"type": "string", "minLength": 1, "maxLength": 60},
            "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
            "details": {"type": "object"},
        },
    },
    "HeartbeatRequest": {
        "type": "object",
        "properties": {
            "metrics": {"$ref": "#/components/schemas/Metrics"},
            "inventory": {
                "type": "object",
                "description": "Full inventory (hardware, os, disks, network, software); send it when it "
                "changed. Stored only when its canonical JSON differs from the last one.",
            },
            "alerts": {
                "type": "array",
                "maxItems": 50,
                "description": "Every posture problem seen now; one not reported any more is resolved.",
                "items": {"$ref": "#/components/schemas/Alert"},
            },
        },
    },
    "Command": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": ["usb_policy"]},
            "mode": {"type": "string", "enum": ["ALLOW", "BLOCK", "READ_ONLY"]},
            "requestedAt": {"type": "string", "format": "date-time"},
        },
    },
    "HeartbeatResponse": {
        "type": "object",
        "required": ["nextIntervalSeconds", "commands", "chat", "inventoryStored"],
        "properties": {
            "nextIntervalSeconds": {"type": "integer", "minimum": 1},
            "inventoryStored": {"type": "boolean"},
            "commands": {"type": "array", "items": {"$ref": "#/components/schemas/Command"}},
            "chat": {
                "type": "object",
                "required": ["activeSessions", "unread", "sessions"],
                "description": "Open live chats of this device; `sessions` only while one is open.",
                "properties": {
                    "activeSessions": {"type": "integer", "minimum": 0},
                    "unread": {"type": "integer", "minimum": 0},
                    "sessions": {"type": "array", "items": {"$ref": "#/components/schemas/ChatSession"}},
                },
            },
        },
    },
    "SessionResponse": {
        "type": "object",
        "required": ["machine", "assignedUser", "persona", "online"],
        "properties": {
            "machine": {
                "type": "object",
                "required": ["id", "hostname", "os", "company"],
                "properties": {
                    "id": {"type": "integer"},
                    "hostname": {"type": "string"},
                    "os": {"type": "string"},
                    "company": {"oneOf": [{"$ref": "#/components/schemas/Company"}, {"type": "null"}]},
                },
            },
            "assignedUser": {"oneOf": [{"$ref": "#/components/schemas/Person"}, {"type": "null"}]},
            "persona": {"type": "string", "enum": ["collaborator", "manager"]},
            "online": {"type": "boolean"},
        },
    },
    "DeviceSessionRequest": {
        "type": "object",
        "properties": {"machineToken": {"type": "string", "minLength": 20, "maxLength": 200}},
    },
    "DeviceSessionResponse": {
        "type": "object",
        "required": ["machineId", "hostname", "persona", "company", "assignedUserId", "redirect"],
        "properties": {
            "machineId": {"type": "integer"},
            "hostname": {"type": "string"},
            "persona": {"type": "string", "enum": ["collaborator", "manager"]},
            "company": {"oneOf": [{"$ref": "#/components/schemas/Company"}, {"type": "null"}]},
            "assignedUserId": {"type": "integer"},
            "assignedUserName": {"type": "string"},
            "assignedUserEmail": {"type": "string"},
            "redirect": {"type": "string", "description": "Where the session lands (relative path)"},
        },
    },
    "UsbAckRequest": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["APPLIED", "FAILED"]},
            "message": {"type": "string", "maxLength": 2000},
        },
    },
    "ChatSession": {
        "type": "object",
        "required": ["sessionId", "ticket", "ticketSubject", "agentName", "unreadCount", "lastId"],
        "properties": {
            "sessionId": {"type": "integer"},
            "ticket": {"type": "integer", "description": "Ticket reference (#)"},
            "ticketSubject": {"type": "string"},
            "agentName": {"type": "string"},
            "unreadCount": {"type": "integer", "minimum": 0},
            "lastId": {"type": "integer", "description": "Number of the newest message of the ticket"},
            "lastActivityAt": {"type": "string", "format": "date-time"},
            "startedAt": {"type": "string", "format": "date-time"},
        },
    },
    "ChatSessionsResponse": {
        "type": "object",
        "required": ["sessions"],
        "properties": {"sessions": {"type": "array", "items": {"$ref": "#/components/schemas/ChatSession"}}},
    },
    "ChatUpdatesResponse": {
        "type": "object",
        "required": ["hasActiveSessions", "sessions", "totalUnread"],
        "properties": {
            "hasActiveSessions": {"type": "boolean"},
            "totalUnread": {"type": "integer", "minimum": 0},
            "sessions": {
                "type": "array",
                "maxItems": 50,
                "items": {
                    "type": "object",
                    "required": ["ticket", "unreadCount"],
                    "properties": {
                        "ticket": {"type": "integer"},
                        "unreadCount": {"type": "integer"},
                        "lastActivityAt": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
    },
    "ChatMessageRequest": {
        "type": "object",
        "required": ["body"],
        "properties": {"body": {"type": "string", "maxLength": 4000}},
    },
    "ChatMessage": {
        "type": "object",
        "required": ["id", "ticket", "body", "authorName", "isFromMachine", "createdAt", "attachments"],
        "properties": {
            "id": {"type": "integer", "description": "Increasing per ticket; resume with ?since=<id>"},
            "ticket": {"type": "integer"},
            "body": {"type": "string"},
            "authorName": {"type": "string"},
            "isFromMachine": {"type": "boolean"},
            "createdAt": {"type": "string", "format": "date-time"},
            "attachments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "name", "size", "type"],
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "size": {"type": "integer"},
                        "type": {"type": "string"},
                    },
                },
            },
        },
    },
    "ChatMessagesResponse": {
        "type": "object",
        "required": ["messages", "hasSession", "unreadCount"],
        "properties": {
            "messages": {
                "type": "array",
                "maxItems": 200,
                "items": {"$ref": "#/components/schemas/ChatMessage"},
            },
            "hasSession": {"type": "boolean"},
            "unreadCount": {"type": "integer", "minimum": 0},
        },
    },
    "ChatReadResponse": {
        "type": "object",
        "required": ["ok", "processed"],
        "properties": {"ok": {"type": "boolean"}, "processed": {"type": "integer", "minimum": 0}},
    },
    "RemoveResponse": {
        "type": "object",
        "required": ["removed", "personRemoved"],
        "properties": {"removed": {"type": "boolean"}, "personRemoved": {"type": "boolean"}},
    },
    "UsbAckResponse": {
        "type": "object",
        "required": ["status", "mode", "acknowledgedAt"],
        "properties": {
            "status": {"type": "string", "enum": ["APPLIED", "FAILED"]},
            "mode": {"type": "string", "enum": ["ALLOW", "BLOCK", "READ_ONLY"]},
            "acknowledgedAt": {"type": "string", "format": "date-time"},
        },
    },
}


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
        403: "Device or person deactivated; or (chat) the ticket is not linked to this device",
        404: "Unknown company code; or (chat) unknown ticket or file, or a number in the path past "
        "2147483647 (no row can have it)",
        409: "Conflict with the current state (chat: no active session)",
        413: "Body larger than AGENT_MAX_BODY_BYTES, after decompression too (chat files: larger than 10 MB)",
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
