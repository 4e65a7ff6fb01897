"""Client companies ("Empresas")."""

import re

from sqlalchemy import select

from app.extensions import db
from app.models import Company, generate_provisioning_code
from app.services import tenancy
from app.services.changes import apply_changes
from app.services.errors import ValidationError

APELIDO_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$|^[a-z0-9]$")
CNPJ_DIGITS = 14


def by_provisioning_code(code: str | None) -> Company | None:
    """The active company of an installation code, in whichever tenant, and from here on that
    tenant's scope: a device (or an inventory agent) names its company by code alone. A request
    signed in to another tenant finds no such company (its scope is never swapped)."""
    code = (code or "").strip().upper()
    if not code:
        return None
    with tenancy.all_tenants("a device names its company by code, before any tenant is known"):
        company = db.session.scalar(select(Company).where(Company.provisioning_code == code))
    if company is None or not company.is_active:
        return None
    tenancy.enter(company.tenant_id)
    return None if tenancy.in_another_tenant(company.tenant_id) else company


def normalise_apelido(value: str) -> str:
    apelido = (value or "").strip().lower()
    if not apelido:
        raise ValidationError("Informe o apelido.", field="apelido")
    if not APELIDO_PATTERN.match(apelido):
        raise ValidationError(
            "O apelido usa apenas letras minúsculas, números e hífens (até 60 caracteres).", field="apelido"
        )
    return apelido


def normalise_cnpj(value: str) -> str | None:
    digits = re.sub(r"\D", "", value or "")
    if not digits:
        return None
    if len(digits) != CNPJ_DIGITS or not _cnpj_checksum_ok(digits):
        raise ValidationError("CNPJ inválido.", field="cnpj")
    return f"{digits[:2]}.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-{digits[12:]}"


def _cnpj_checksum_ok(digits: str) -> bool:
    if len(set(digits)) == 1:
        return False

    def check(base: str, weights: list[int]) -> int:
        remainder = sum(int(d) * w for d, w in zip(base, weights, strict=True)) % 11
        return 0 if remainder < 2 else 11 - remainder

    first = check(digits[:12], [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    second = check(digits[:12] + str(first), [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    return digits[12:] == f"{first}{second}"


def _check_apelido_free(apelido: str, except_id: int | None = None) -> None:
    query = select(Company.id).where(Company.apelido == apelido)
    if except_id:
        query = query.where(Company.id != except_id)
    if db.session.scalar(query) is not None:
        raise ValidationError("Já existe uma empresa com este apelido.", field="apelido")


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Informe o nome da empresa.", field="name")
    if len(name) > 160:
        raise ValidationError("O nome pode ter no máximo 160 caracteres.", field="name")
    return name


def create_company(tenant_id: int, *, name: str, apelido: str, cnpj: str = "") -> Company:
    company = Company(
        tenant_id=tenant_id,
        name=_clean_name(name),
        apelido=normalise_apelido(apelido),
        cnpj=normalise_cnpj(cnpj),
    )
    _check_apelido_free(company.apelido)
    db.session.add(company)
    db.session.flush()
    return company


def update_company(
    company: Company, *, name: str, apelido: str, cnpj: str = "", is_active: bool = True
) -> bool:
    """Apply the edit; returns False (and writes nothing) when nothing changed."""
    values = {
        "name": _clean_name(name),
        "apelido": normalise_apelido(apelido),
        "cnpj": normalise_cnpj(cnpj),
        "is_active": bool(is_active),
    }
    if values["apelido"] != company.apelido:
        _check_apelido_free(values["apelido"], except_id=company.id)
    return bool(apply_changes(company, values))


def rotate_provisioning_code(company: Company) -> str:
    """A new code for new agent installs; devices already registered keep their tokens."""
    company.provisioning_code = generate_provisioning_code()
    db.session.flush()
    return company.provisioning_code


def list_companies(search: str = "", limit: int = 200) -> list[Company]:
    query = select(Company).order_by(Company.apelido).limit(limit)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where((Company.apelido.like(pattern)) | (db.func.lower(Company.name).like(pattern)))
    return list(db.session.scalars(query))
