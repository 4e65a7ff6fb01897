"""The permission rules (app/services/permissions.py): every capability for every kind of
visitor, the rules with a target (tickets, attachments, the reopen window), the persona
default, and a scan that keeps role comparisons out of the templates and the views."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask_login import AnonymousUserMixin

from app.models import Attachment, Comment, CommentVisibility, Persona, Role, Ticket, TicketStatus, User
from app.models.types import utcnow
from app.services import permissions
from app.services.permissions import DEFAULT_PERSONA, RULES, can, effective_persona, persona_or_default

ROOT = Path(__file__).resolve().parents[1]
TENANT, OTHER_TENANT = 1, 2
COMPANY_A, COMPANY_B = 10, 20
DEVICE, OTHER_DEVICE = 100, 200


def person(user_id, role, company=None, persona=None, active=True, tenant=TENANT) -> User:
    """A user that never touches the database: the rules only read its attributes."""
    return User(
        id=user_id,
        tenant_id=tenant,
        email=f"pessoa{user_id}@example.com",
        name=f"Pessoa {user_id}",
        role=role,
        company_id=company,
        persona=persona,
        is_active=active,
    )


ADMIN = person(1, Role.ADMIN)
MANAGER = person(2, Role.MANAGER)
AGENT = person(3, Role.AGENT)
REQUESTER = person(4, Role.COLLABORATOR, COMPANY_A)
COMPANY_MANAGER = person(5, Role.COLLABORATOR, COMPANY_A, persona=Persona.MANAGER)

# name: (user, persona, machine_id) as security.current_user_can passes them. The device
# session is the requester's own computer, the one the ticket was opened from.
VISITORS = {
    "admin": (ADMIN, None, None),
    "manager": (MANAGER, None, None),
    "agent": (AGENT, None, None),
    "collaborator": (REQUESTER, None, None),
    "company_manager": (COMPANY_MANAGER, None, None),
    "device": (REQUESTER, Persona.COLLABORATOR, DEVICE),
}
COLUMNS = tuple(VISITORS)


def ask(visitor: str, capability: str, target=None) -> bool:
    user, persona, machine_id = VISITORS[visitor]
    return can(user, capability, target, persona=persona, machine_id=machine_id)


def ticket(status=TicketStatus.IN_PROGRESS, resolved_days_ago=None, tenant=TENANT, **fields) -> Ticket:
    values = dict(
        tenant_id=tenant, reference=1, requester_id=REQUESTER.id, company_id=COMPANY_A, machine_id=DEVICE
    )
    values.update(fields)
    if resolved_days_ago is not None:
        status = TicketStatus.RESOLVED
        values["resolved_at"] = utcnow() - timedelta(days=resolved_days_ago)
    return Ticket(status=status, **values)


def attachment(of=None, comment=None, chat=False) -> Attachment:
    return Attachment(ticket=of or ticket(), comment=comment, chat_message_id=7 if chat else None)


def comment(visibility) -> Comment:
    return Comment(visibility=visibility, body_html="<p>oi</p>")


Y, N = True, False

# capability: answers in COLUMNS order (admin, manager, agent, collaborator, company manager,
# device session). Every capability of RULES has a row here.
WITHOUT_TARGET = {
    "staff.pages": (Y, Y, Y, N, N, N),
    "portal.pages": (N, N, N, Y, Y, Y),
    "portal.company_tickets": (N, N, N, N, Y, N),
    "admin.companies": (Y, N, N, N, N, N),
    "admin.users": (Y, N, N, N, N, N),
    "admin.queues": (Y, N, N, N, N, N),
    "admin.audit": (Y, N, N, N, N, N),
    "admin.jobs": (Y, N, N, N, N, N),
    "admin.canned_replies": (Y, N, N, N, N, N),
    "tickets.assignee": (Y, Y, Y, N, N, N),
    "tickets.canned_replies": (Y, Y, Y, N, N, N),
    "tickets.merge": (Y, Y, Y, N, N, N),
    "devices.manage": (Y, N, N, N, N, N),
    "devices.describe": (Y, Y, Y, N, N, N),
    "admin.security": (Y, N, N, N, N, N),
    "account.password": (Y, Y, Y, Y, Y, N),
    "account.two_factor": (Y, Y, Y, N, N, N),
    "chat.use": (Y, Y, Y, N, N, N),
    "chat.customer": (N, N, N, Y, Y, Y),
    "reports.export": (Y, Y, Y, N, N, N),
    "reports.all_exports": (Y, Y, N, N, N, N),
}
# (capability, a description of the target, a function making it, answers)
WITH_TARGET = [
    ("tickets.view", "the requester's ticket", ticket, (Y, Y, Y, Y, Y, Y)),
    ("tickets.change_status", "an open ticket", ticket, (Y, Y, Y, N, N, N)),
    ("tickets.comment_internal", "an open ticket", ticket, (Y, Y, Y, N, N, N)),
    ("tickets.merge", "an open ticket", ticket, (Y, Y, Y, N, N, N)),
    ("tickets.merge", "another tenant's ticket", lambda: ticket(tenant=OTHER_TENANT), (N, N, N, N, N, N)),
    ("tickets.reopen", "resolved yesterday", lambda: ticket(resolved_days_ago=1), (Y, Y, Y, Y, Y, Y)),
    ("tickets.reopen", "resolved 30 days ago", lambda: ticket(resolved_days_ago=30), (Y, Y, Y, N, N, N)),
    ("tickets.reopen", "not resolved", ticket, (N, N, N, N, N, N)),
    ("chat.use", "the device's ticket", ticket, (Y, Y, Y, N, N, N)),
    # The portal's side of a chat: the requester signed in normally, or the ticket's own device.
    ("chat.customer", "the requester's ticket, from this device", ticket, (N, N, N, Y, N, Y)),
    (
        "chat.customer",
        "the requester's ticket, from another device",
        lambda: ticket(machine_id=OTHER_DEVICE),
        (N, N, N, Y, N, N),
    ),
    ("chat.customer", "a colleague's ticket", lambda: ticket(requester_id=99), (N, N, N, N, N, N)),
    ("chat.customer", "another tenant's ticket", lambda: ticket(tenant=OTHER_TENANT), (N, N, N, N, N, N)),
    ("tickets.download", "a file of the ticket itself", attachment, (Y, Y, Y, Y, Y, Y)),
    (
        "tickets.download",
        "a public comment's file",
        lambda: attachment(comment=comment(CommentVisibility.PUBLIC)),
        (Y, Y, Y, Y, Y, Y),
    ),
    (
        "tickets.download",
        "an internal comment's file",
        lambda: attachment(comment=comment(CommentVisibility.INTERNAL)),
        (Y, Y, Y, N, N, N),
    ),
    ("tickets.download", "a chat file", lambda: attachment(chat=True), (Y, Y, Y, Y, N, Y)),
    (
        "tickets.download",
        "a chat file of another device's ticket",
        lambda: attachment(ticket(machine_id=OTHER_DEVICE), chat=True),
        (Y, Y, Y, Y, N, N),
    ),
    (
        "tickets.download",
        "a file of another tenant's ticket",
        lambda: attachment(ticket(tenant=OTHER_TENANT)),
        (N, N, N, N, N, N),
    ),
]


def test_every_capability_has_a_row_in_these_tables():
    assert set(WITHOUT_TARGET) | {capability for capability, *_ in WITH_TARGET} == set(RULES)


@pytest.mark.parametrize("capability", WITHOUT_TARGET)
def test_capabilities_without_a_target(capability):
    answers = {visitor: ask(visitor, capability) for visitor in COLUMNS}
    assert answers == dict(zip(COLUMNS, WITHOUT_TARGET[capability], strict=True))


@pytest.mark.parametrize(
    ("capability", "target", "make", "expected"), WITH_TARGET, ids=[f"{c}: {t}" for c, t, *_ in WITH_TARGET]
)
def test_capabilities_with_a_target(app, capability, target, make, expected):
    answers = {visitor: ask(visitor, capability, make()) for visitor in COLUMNS}
    assert answers == dict(zip(COLUMNS, expected, strict=True))


def test_nobody_signed_in_may_do_anything():
    for capability in RULES:
        target = attachment() if capability == "tickets.download" else ticket()
        assert can(None, capability, target) is False
        assert can(AnonymousUserMixin(), capability, target) is False


def test_an_unknown_capability_is_an_error_not_a_silent_no():
    with pytest.raises(KeyError):
        can(ADMIN, "admin.everything")
    with pytest.raises(KeyError):
        can(None, "tickets.delete")


def test_collaborators_see_only_their_own_tickets_and_managers_their_company():
    colleague = person(6, Role.COLLABORATOR, COMPANY_A)
    outsider_manager = person(7, Role.COLLABORATOR, COMPANY_B, persona=Persona.MANAGER)
    assert not can(colleague, "tickets.view", ticket())
    assert not can(outsider_manager, "tickets.view", ticket())
    assert can(COMPANY_MANAGER, "tickets.view", ticket(requester_id=colleague.id))
    assert not can(person(8, Role.COLLABORATOR, None, persona=Persona.MANAGER), "tickets.view", ticket())
    assert not can(person(9, Role.ADMIN, tenant=OTHER_TENANT), "tickets.view", ticket())


def test_a_device_session_acts_with_the_devices_persona():
    """The device's persona wins over the person's own, both ways."""
    colleague_ticket = ticket(requester_id=99)
    assert can(REQUESTER, "tickets.view", colleague_ticket, persona=Persona.MANAGER, machine_id=DEVICE)
    assert not can(COMPANY_MANAGER, "tickets.view", colleague_ticket, persona=Persona.COLLABORATOR)
    assert can(COMPANY_MANAGER, "tickets.view", colleague_ticket)


def test_a_device_session_is_never_staff():
    for capability in ("staff.pages", "chat.use", "tickets.change_status", "tickets.comment_internal"):
        assert not ask("device", capability, ticket())


def test_inactive_staff_may_not_chat():
    """Signing in refuses a deactivated account; the rules are about roles, except the chat's."""
    inactive = person(10, Role.AGENT, active=False)
    assert not can(inactive, "chat.use")
    assert not can(inactive, "tickets.download", attachment(chat=True))
    assert can(inactive, "staff.pages")
    assert can(inactive, "tickets.change_status", ticket())


def test_the_persona_default_lives_in_one_place():
    assert DEFAULT_PERSONA is Persona.COLLABORATOR
    assert persona_or_default(None) is DEFAULT_PERSONA
    assert persona_or_default("") is DEFAULT_PERSONA
    assert persona_or_default("manager") is Persona.MANAGER
    with pytest.raises(ValueError):
        persona_or_default("chefe")
    assert effective_persona(person(11, Role.COLLABORATOR, COMPANY_A)) is DEFAULT_PERSONA
    assert effective_persona(COMPANY_MANAGER) is Persona.MANAGER
    assert effective_persona(COMPANY_MANAGER, Persona.COLLABORATOR) is Persona.COLLABORATOR


def test_the_reopen_deadline_follows_the_setting(app):
    resolved = ticket(resolved_days_ago=0)
    assert permissions.reopen_deadline(resolved) == resolved.resolved_at + timedelta(
        days=app.config["PORTAL_REOPEN_DAYS"]
    )
    assert permissions.reopen_deadline(ticket()) is None


# --- nothing else compares roles ---------------------------------------------------------

ROLE_NAMES = "admin|manager|agent|collaborator"
# Anywhere: the staff flag, the Role enum or STAFF_ROLES, or a role name compared as a string
# (`== 'admin'`, `'admin' ==`, `in ('admin', 'manager')`).
ROLE_CHECKS = (
    r"""\.is_staff\b|\bRole\.|STAFF_ROLES"""
    rf"""|(==|!=|\bin)\s*[(\[]?\s*['"]({ROLE_NAMES})['"]"""
    rf"""|['"]({ROLE_NAMES})['"]\s*[)\]]?\s*(==|!=)"""
)
# A template does not even read the visitor's role (role_label is for display). A form
# echoing the role it was sent (`values.role == role.value`) is not a permission check.
TEMPLATE_ROLE_CHECKS = re.compile(ROLE_CHECKS + r"|current_user\.role\b")
# A view may show a role (the portal's debug JSON) but not compare one.
VIEW_ROLE_CHECKS = re.compile(ROLE_CHECKS + r"|\brole\s*(==|!=)|\.role\s+(not\s+)?in\b|\bis_admin\b")


def _offences(paths, pattern) -> list[str]:
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_no_template_compares_roles():
    templates = [p for p in (ROOT / "app" / "templates").rglob("*") if p.suffix in {".html", ".txt"}]
    assert len(templates) > 30
    assert _offences(templates, TEMPLATE_ROLE_CHECKS) == []


def test_no_view_compares_roles():
    app_dir = ROOT / "app"
    views = {*(app_dir / "views").rglob("*.py"), *app_dir.glob("*/views*.py"), app_dir / "security.py"}
    assert len(views) > 15
    assert _offences(sorted(views), VIEW_ROLE_CHECKS) == []


def test_the_scans_would_catch_a_role_comparison():
    for line in (
        "{% if current_user.role == 'admin' %}",
        "{% if user.role in ('admin', 'manager') %}",
        "{% if 'agent' == person.role %}",
        "{% if current_user.is_staff %}",
    ):
        assert TEMPLATE_ROLE_CHECKS.search(line), line
    for line in (
        "if user.role == Role.ADMIN:",
        "if role in STAFF_ROLES:",
        "if user.role not in allowed:",
        'if current_user.role == "admin":',
        "if current_user.is_staff:",
    ):
        assert VIEW_ROLE_CHECKS.search(line), line
    assert not VIEW_ROLE_CHECKS.search('"role": current_user.role.value,')
    assert not TEMPLATE_ROLE_CHECKS.search("{% if values.role == role.value %}selected{% endif %}")
    assert not TEMPLATE_ROLE_CHECKS.search("{{ current_user.role_label }}")
