"""Device sessions: the desktop agent opens the portal, signed in as the person
who uses the device, with the device's persona (seed 001, "Sessão de dispositivo").

The token check is `machines.authenticate_token`; a session opened with a token
stays valid only while that token is (`check_token_still_valid` on each request),
so "Resetar agente" ends the browser session too.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.models import Machine, Persona, User
from app.services import machines as machine_service
from app.services.machines import AgentError

# Where a handshake may send the browser: relative paths we know, nothing else.
HANDSHAKE_REDIRECTS = {
    "/portal": "portal.index",
    "/portal/debug": "portal.debug",
    "/dashboard": "portal.index",  # the desktop app's manager entry: the portal shows the company's tickets
}


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
        company = self.machine.company
        return {
            "machineId": self.machine.id,
            "hostname": self.machine.hostname,
            "persona": self.persona.value,
            "company": {"id": company.id, "name": company.name, "apelido": company.apelido}
            if company
            else None,
            "assignedUserId": self.person.id,
            "assignedUserName": self.person.name,
            "assignedUserEmail": self.person.email,
        }


def open_device_session(token: str | None) -> DeviceSession:
    """Validate a device token and find who the browser session is for."""
    context = machine_service.authenticate_token(token)
    machine = context.machine
    person = machine_service.device_person(machine)
    if person is None or not person.is_active:
        raise AgentError(403, "no_linked_person", "Nenhuma pessoa ativa está vinculada a este dispositivo.")
    _refuse_staff(person)
    return DeviceSession(machine, person, Persona(machine.persona), context.token_id)


def _refuse_staff(person: User) -> None:
    """A device token never signs a browser in as staff: anyone with the provisioning secret
    and a company code can register a computer with any e-mail, a staff member's included."""
    if person.is_staff:
        raise AgentError(
            403,
            "staff_person",
            "Este dispositivo está vinculado a um membro da equipe de suporte. A sessão do dispositivo "
            "é só para colaboradores: vincule a pessoa que usa o computador.",
        )


def resume_device_session(payload: dict) -> DeviceSession:
    """The device session of a signed payload, while its token is still valid (else AgentError)."""
    machine_service.check_token_still_valid(int(payload["token_id"]))
    machine = db.session.get(Machine, int(payload["machine_id"]))
    person = db.session.get(User, int(payload["user_id"]))
    if machine is None or person is None or not person.is_active:
        raise AgentError(401, "session_invalid", "Sessão do dispositivo inválida.")
    _refuse_staff(person)
    return DeviceSession(machine, person, Persona(payload["persona"]), int(payload["token_id"]))
