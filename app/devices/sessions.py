"""Device sessions: the desktop agent opens the portal, signed in as the person
who uses the device, with the device's persona (seed 001, "Sessão de dispositivo").

The token check is `tokens.authenticate_token`; a session opened with a token
stays valid only while that token is (`check_token_still_valid` on each request),
so "Resetar agente" ends the browser session too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.devices.people import device_person
from app.devices.serializers import device_session_context
from app.devices.tokens import authenticate_token, check_token_still_valid
from app.extensions import db
from app.models import Machine, Persona, User
from app.services.errors import DomainError
from app.services.numbers import INT32_MAX

# Where a handshake may send the browser: relative paths we know, nothing else.
HANDSHAKE_REDIRECTS = {
    "/portal": "portal.index",
    "/portal/debug": "portal.debug",
    "/dashboard": "portal.index",  # the desktop app's manager entry: the portal shows the company's tickets
    "/portal/chamados/novo": "portal.new",  # the agent's "Abrir chamado" when it cannot show its own dialog
    "/portal/chat": "portal_chat.index",  # the agent's "Falar com o suporte" and its chat window
}
# One of the portal's tickets by number (the agent's "Chamado #N aberto" opens it); the address
# is built again with url_for, never copied from the query.
TICKET_REDIRECT = re.compile(r"/portal/chamados/([1-9][0-9]{0,9})")


def handshake_destination(redirect: str | None) -> tuple[str, dict] | None:
    """(endpoint, values) a handshake may send the browser to, or None for any other value."""
    value = redirect or "/portal"
    if value in HANDSHAKE_REDIRECTS:
        return HANDSHAKE_REDIRECTS[value], {}
    match = TICKET_REDIRECT.fullmatch(value)
    if match and int(match[1]) <= INT32_MAX:
        return "portal.show", {"reference": int(match[1])}
    return None


@dataclass
class DeviceSession:
    machine: Machine
    person: User
    persona: Persona
    token_id: int

    def payload(self) -> dict:
        """What the signed login session keeps (ids only, no token)."""
        return {
            "machine_id": self.machine.id,
            "token_id": self.token_id,
            "user_id": self.person.id,
            "persona": self.persona.value,
        }

    def context(self) -> dict:
        """The device context the portal and the desktop app show (no secrets)."""
        return device_session_context(self.machine, self.person, self.persona)


def open_device_session(token: str | None) -> DeviceSession:
    """Validate a device token and find who the browser session is for."""
    context = authenticate_token(token)
    machine = context.machine
    return DeviceSession(machine, acting_person(machine), Persona(machine.persona), context.token_id)


def acting_person(machine: Machine) -> User:
    """The person a device acts for (a browser session, a ticket opened from the computer):
    its active collaborator, never nobody and never staff."""
    person = device_person(machine)
    if person is None or not person.is_active:
        raise DomainError(
            "Nenhuma pessoa ativa está vinculada a este dispositivo.", status=403, code="no_linked_person"
        )
    _refuse_staff(person)
    return person


def _refuse_staff(person: User) -> None:
    """A device token never signs a browser in as staff: anyone with the provisioning secret
    and a company code can register a computer with any e-mail, a staff member's included."""
    if person.is_staff:
        raise DomainError(
            "Este dispositivo está vinculado a um membro da equipe de suporte. A sessão do dispositivo "
            "é só para colaboradores: vincule a pessoa que usa o computador.",
            status=403,
            code="staff_person",
        )


def resume_device_session(payload: dict) -> DeviceSession:
    """The device session of a signed payload, while its token is still valid (else a DomainError)."""
    check_token_still_valid(int(payload["token_id"]))
    machine = db.session.get(Machine, int(payload["machine_id"]))
    person = db.session.get(User, int(payload["user_id"]))
    if machine is None or person is None or not person.is_active:
        raise session_invalid()
    _refuse_staff(person)
    return DeviceSession(machine, person, Persona(payload["persona"]), int(payload["token_id"]))


def session_invalid() -> DomainError:
    return DomainError("Sessão do dispositivo inválida.", status=401, code="session_invalid")
