import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.extensions import db
from app.models.tenancy import TenantOwned
from app.models.types import JSONType, UTCDateTime, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    AGENT = "agent"
    COLLABORATOR = "collaborator"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def is_staff(self) -> bool:
        return self in STAFF_ROLES


ROLE_LABELS = {
    Role.ADMIN: "Administrador",
    Role.MANAGER: "Gestor",
    Role.AGENT: "Agente",
    Role.COLLABORATOR: "Colaborador",
}
STAFF_ROLES = frozenset({Role.ADMIN, Role.MANAGER, Role.AGENT})


class Persona(enum.StrEnum):
    """How a collaborator acts in the portal: for themselves, or as the company's manager."""

    COLLABORATOR = "collaborator"
    MANAGER = "manager"

    @property
    def label(self) -> str:
        return "Colaborador" if self is Persona.COLLABORATOR else "Gestor da empresa"


def enum_column(enum_class, length: int = 20):
    """Store an enum as its string value in a VARCHAR, the same on every database."""
    return Enum(
        enum_class,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class User(TenantOwned, UserMixin, db.Model):
    """A person: staff (admin, manager, agent) or a collaborator of a client company.

    History (tickets, events, comments) references the immutable `id`, so the
    e-mail can change without losing anything.
    """

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(160))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    # Collaborators only: a company manager sees every ticket of their company in the portal.
    persona: Mapped[Persona] = mapped_column(
        enum_column(Persona), default=Persona.COLLABORATOR, server_default=Persona.COLLABORATOR.value
    )
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Raised when the password changes: every session and "Lembrar-me" cookie signed in before
    # carries the old value in its id (get_id) and is refused by the session loader.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    # Two-factor sign-in (TOTP, services.two_factor): the secret encrypted with a key derived from
    # SECRET_KEY, the time it was turned on (None: off) and the last time step accepted (a code is
    # good once).
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column()
    is_active: Mapped[bool] = mapped_column(default=True)
    preferences: Mapped[dict] = mapped_column(JSONType, default=dict)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tenant = relationship("Tenant")
    company = relationship("Company")

    @validates("email")
    def _normalise_email(self, _key, value: str) -> str:
        return value.strip().lower()

    @property
    def is_staff(self) -> bool:
        return Role(self.role).is_staff

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the "Lembrar-me" cookie: the id and the
        session epoch, so a password change signs out every session made before it."""
        return f"{self.id}.{self.session_epoch or 0}"

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class UserAlias(TenantOwned, db.Model):
    """The e-mail of an account merged into another: it still signs in, as the survivor."""

    __tablename__ = "user_aliases"
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_user_aliases_tenant_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    email: Mapped[str] = mapped_column(String(254), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    merged_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PasswordResetToken(TenantOwned, db.Model):
    """An "Esqueci a senha" link: stored only as the SHA-256 of its token, good for one use
    until `expires_at`; a newer request or a successful reset deletes the person's others."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user = relationship("User")


class RecoveryCode(TenantOwned, db.Model):
    """A two-factor recovery code: shown once, stored only as its SHA-256, good once."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
