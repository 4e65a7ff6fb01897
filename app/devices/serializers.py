"""Every JSON payload a device receives, in one place: the agent API's answers, the chat's
messages and sessions (its JSON fallback and the websocket, whose messages staff pages
read too) and the device session's context.

Keys are camelCase, as the original desktop app reads them, and the OpenAPI document
(app/devices/openapi_schemas.py) describes each one; the tests check real answers against
it. Nothing here reads the database or decides anything: callers pass what to write.
"""

from __future__ import annotations

from datetime import datetime

from app.devices.read_models import format_os_version
from app.models import Persona

# What every heartbeat answer tells the agent: when to send the next one.
HEARTBEAT_INTERVAL_SECONDS = 60


def person(user) -> dict | None:
    return {"id": user.id, "name": user.name, "email": user.email} if user else None


def company(company) -> dict | None:
    return {"id": company.id, "name": company.name, "apelido": company.apelido} if company else None


# --- the agent API ----------------------------------------------------------------


def registration(registration) -> dict:
    """POST /api/machines/register (RegisterResponse)."""
    machine = registration.machine
    return {
        "machineId": machine.id,
        "machineToken": registration.token,
        "expiresAt": registration.expires_at.isoformat(),
        "company": company(machine.company),
        "assignedUser": person(registration.user),
        "persona": Persona(machine.persona).value,
        "reused": registration.reused,
    }


def heartbeat(result, context, chat_sessions: list[dict]) -> dict:
    """POST /api/machines/heartbeat (HeartbeatResponse). `chat_sessions`: the device's active
    chats (chat_sessions below), read only while one is open (context.chat_sessions)."""
    return {
        "nextIntervalSeconds": HEARTBEAT_INTERVAL_SECONDS,
        "inventoryStored": result.inventory_stored,
        "commands": result.commands,
        "chat": {
            "activeSessions": context.chat_sessions,
            "unread": context.chat_unread,
            "sessions": chat_sessions,
        },
    }


def usb_policy_command(mode, requested_at: datetime) -> dict:
    """A heartbeat answer's command (Command): apply this USB policy."""
    return {"type": "usb_policy", "mode": mode.value, "requestedAt": requested_at.isoformat()}


def usb_acknowledged(policy) -> dict:
    """POST /api/machines/usb-policy/ack (UsbAckResponse)."""
    return {
        "status": policy.status.value,
        "mode": policy.mode.value,
        "acknowledgedAt": policy.acknowledged_at.isoformat(),
    }


def device(machine, assigned_user, online: bool) -> dict:
    """GET /api/machines/session (SessionResponse)."""
    return {
        "machine": {
            "id": machine.id,
            "hostname": machine.hostname,
            "os": format_os_version(machine.os_name, machine.os_version, machine.os_build),
            "company": company(machine.company),
        },
        "assignedUser": person(assigned_user),
        "persona": Persona(machine.persona).value,
        "online": online,
    }


def removed(person_removed: bool) -> dict:
    """DELETE /api/machines/self (RemoveResponse)."""
    return {"removed": True, "personRemoved": person_removed}


def device_session_context(machine, assigned_user, persona: Persona) -> dict:
    """The device context the portal and the desktop app show (no secrets): the machine_ctx
    cookie, and POST /api/machines/sessions (DeviceSessionResponse, with its redirect)."""
    return {
        "machineId": machine.id,
        "hostname": machine.hostname,
        "persona": persona.value,
        "company": company(machine.company),
        "assignedUserId": assigned_user.id,
        "assignedUserName": assigned_user.name,
        "assignedUserEmail": assigned_user.email,
    }


def device_session_opened(context: dict) -> dict:
    """POST /api/machines/sessions (DeviceSessionResponse): the context, and where to land."""
    return {**context, "redirect": "/portal"}


def device_ticket(ticket, screenshot_attached: bool) -> dict:
    """POST /api/machines/tickets (DeviceTicketResponse): the number, and where the portal shows it."""
    return {
        "ticket": ticket.reference,
        "subject": ticket.subject,
        "portalPath": f"/portal/chamados/{ticket.reference}",
        "screenshotAttached": screenshot_attached,
    }


# --- the live chat ----------------------------------------------------------------


def chat_message(message, reference: int, attachments: list | None = None) -> dict:
    """One chat message (ChatMessage), for the device and staff alike."""
    attachments = message.attachments if attachments is None else attachments
    return {
        "id": message.seq,
        "ticket": reference,
        "body": message.body,
        "authorName": message.author_name,
        "isFromMachine": message.from_machine,
        "createdAt": message.created_at.isoformat(),
        "attachments": [
            {"id": a.id, "name": a.filename, "size": a.size_bytes, "type": a.content_type}
            for a in attachments
        ],
    }


def chat_messages(messages, reference: int, unread: int) -> dict:
    """GET /api/machines/chat/<n>/messages (ChatMessagesResponse) while a chat is open."""
    return {
        "messages": [chat_message(m, reference) for m in messages],
        "hasSession": True,
        "unreadCount": unread,
    }


def no_chat_messages() -> dict:
    """GET /api/machines/chat/<n>/messages when the ticket has no open chat."""
    return {"messages": [], "hasSession": False, "unreadCount": 0}


def chat_sessions(rows) -> list[dict]:
    """A device's active chats (ChatSession), from (session, ticket reference, subject) rows."""
    return [
        {
            "sessionId": s.id,
            "ticket": ref,
            "ticketSubject": subject,
            "agentName": s.agent_name,
            "unreadCount": s.unread_by_machine,
            "lastId": s.last_seq,
            "lastActivityAt": s.last_activity_at.isoformat(),
            "startedAt": s.started_at.isoformat(),
        }
        for s, ref, subject in rows
    ]


def chat_session_list(sessions: list[dict]) -> dict:
    """GET /api/machines/chat/sessions (ChatSessionsResponse)."""
    return {"sessions": sessions}


def chat_updates(sessions: list[dict]) -> dict:
    """GET /api/machines/chat/updates (ChatUpdatesResponse), from chat_sessions' list."""
    sessions = [
        {"ticket": s["ticket"], "unreadCount": s["unreadCount"], "lastActivityAt": s["lastActivityAt"]}
        for s in sessions
    ]
    return {
        "hasActiveSessions": bool(sessions),
        "sessions": sessions,
        "totalUnread": sum(s["unreadCount"] for s in sessions),
    }


def chat_read(processed: int) -> dict:
    """POST /api/machines/chat/<n>/read (ChatReadResponse)."""
    return {"ok": True, "processed": processed}
