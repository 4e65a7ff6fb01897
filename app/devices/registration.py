"""Registration: the agent presents the provisioning secret, a company code and an e-mail,
and gets a token for the device (the same hardware again: the same device, old tokens revoked)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from app.devices.identity import (
    device_identifiers,
    hardware_fingerprint,
    normalise_macs,
    normalise_serials,
    upsert_device,
)
from app.devices.people import person_for_device
from app.devices.tokens import issue_token, revoke_tokens
from app.extensions import db
from app.models import Machine, User
from app.models.types import utcnow
from app.services import companies
from app.services.errors import DomainError, ValidationError

SOURCE_CHAMADOS = "agente Chamados"


@dataclass
class Registration:
    machine: Machine
    token: str
    expires_at: datetime
    user: User
    reused: bool


def check_provisioning_secret(secret: str | None) -> None:
    expected = current_app.config.get("MACHINE_PROVISIONING_SECRET")
    if not expected or not secret or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise DomainError(
            "Segredo de provisionamento inválido.", status=401, code="provisioning_secret_invalid"
        )


def register(
    *,
    secret: str | None,
    company_code: str,
    email: str,
    hostname: str,
    os: dict,
    mac_addresses: list[str],
    serial_numbers: list[str],
    source: str = SOURCE_CHAMADOS,
) -> Registration:
    check_provisioning_secret(secret)
    company = companies.by_provisioning_code(company_code)
    if company is None:
        raise DomainError(
            "Código da empresa não encontrado.", status=404, code="company_not_found", field="companyCode"
        )
    try:
        user = person_for_device(company, email)
    except ValidationError as error:
        raise DomainError(error.message, status=422, code="invalid_email", field="email") from None

    now = utcnow()
    fingerprint = hardware_fingerprint(serial_numbers, mac_addresses)
    machine, created = upsert_device(
        company,
        device_identifiers(serials=serial_numbers, macs=mac_addresses),
        fingerprint=fingerprint,
        source=source,
        now=now,
        fields={
            "hostname": hostname.strip()[:255],
            "fingerprint": fingerprint,
            "serial_numbers": normalise_serials(serial_numbers),
            "mac_addresses": normalise_macs(mac_addresses),
            "os_name": str(os.get("name") or "")[:120],
            "os_version": str(os.get("version") or "")[:60],
            "os_build": str(os.get("build") or "")[:60],
            "os_arch": str(os.get("arch") or "")[:20],
            "assigned_user_id": user.id,
        },
    )
    if not created:
        revoke_tokens(machine, "re-registered", now)
    token, record = issue_token(machine, now)
    db.session.flush()
    return Registration(
        machine=machine, token=token, expires_at=record.expires_at, user=user, reused=not created
    )
