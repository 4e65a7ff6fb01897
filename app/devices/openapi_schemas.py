"""The schemas of the agent API's OpenAPI document (app/devices/openapi.py): the request
schemas validate incoming bodies (app/views/agent_body.py) and the response schemas describe
what app/devices/serializers.py writes; the tests check real answers against them."""

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
    "DeviceTicketRequest": {
        "type": "object",
        "required": ["subject"],
        "properties": {
            "subject": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string", "maxLength": 20000, "description": "Plain text"},
            "screenshot": {
                "type": "object",
                "required": ["contentBase64"],
                "description": "Sent only when the person agreed. A PNG (checked by its content) of at "
                "most 786432 bytes once decoded (413 file_too_large past it; the reference agent scales "
                "a larger capture down), base64 without line breaks.",
                "properties": {
                    "filename": {"type": "string", "maxLength": 120},
                    "contentBase64": {"type": "string", "minLength": 1},
                },
            },
        },
    },
    "DeviceTicketResponse": {
        "type": "object",
        "required": ["ticket", "subject", "portalPath", "screenshotAttached"],
        "properties": {
            "ticket": {"type": "integer", "description": "Ticket reference (#)"},
            "subject": {"type": "string"},
            "portalPath": {
                "type": "string",
                "description": "Where the portal shows it (a handshake redirect may point there)",
            },
            "screenshotAttached": {"type": "boolean"},
        },
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
