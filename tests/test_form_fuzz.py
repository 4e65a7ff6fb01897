"""Every staff and portal form, fed bad input: never a 500, always a clear answer.

The forms are the ones the demo's pages show (found by tests/crawl.py as each persona), so a
form added later is fuzzed without editing this test. Each field gets, one at a time: a NUL
character, 100 000 characters, a value of the wrong type, an id that is missing or of no row,
and no value at all; each form is also sent without its CSRF token.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import select, update

from tests.conftest import CSRF_INPUT, demo_client
from tests.crawl import crawl

pytestmark = pytest.mark.slow

LONG = "A" * 100_000
LONG_TEXT = "100 000 caracteres"
# Forms whose submission ends the session being fuzzed; what they do is tested on its own.
SESSION_ENDING = ("/logout",)
PERSONAS = ("admin", "agent", "manager", "collaborator", "company_manager", "device")


# Fields a person types into: a refused form must come back with what was typed in them.
TYPED_KINDS = frozenset({"text", "textarea", "email", "search", "tel", "url"})


def _mutations(form):
    """(field, description, data): the form as the page filled it, with one field spoiled."""
    base = {name: value for name, value in form.fields.items() if name != "csrf_token"}
    for name, kind in form.kinds.items():
        if name == "csrf_token" or kind in ("submit", "button", "file", "image", "reset"):
            continue
        typed = base.get(name, "")
        yield name, "NUL", {**base, name: f"{typed}\x00texto"}
        yield name, LONG_TEXT, {**base, name: LONG}
        yield name, "tipo errado", {**base, name: "não-é-um-número ²"}
        yield name, "id inexistente", {**base, name: "999999"}
        yield name, "id fora do alcance", {**base, name: str(2**31)}
        yield name, "ausente", {k: v for k, v in base.items() if k != name}


def _shape(url: str) -> str:
    return re.sub(r"/\d+(?=/|$|\?)", "/<n>", url.split("?", 1)[0])


def _unique_post_forms(result):
    seen, forms = set(), []
    for form in result.forms:
        key = (_shape(form.action), tuple(sorted(form.kinds)))
        if form.method != "post" or key in seen or form.action.endswith(SESSION_ENDING):
            continue
        seen.add(key)
        forms.append(form)
    return forms


def _account_restorer(persona: str):
    """Puts the persona's own account back as it was, so every form is fuzzed signed in."""
    from app.extensions import db
    from app.models import User
    from tests.conftest import DEMO_PERSONAS

    email = DEMO_PERSONAS.get(persona)
    if email is None:  # a device session: each one registers its own computer
        return lambda: None
    user = db.session.scalar(select(User).where(User.email == email))
    columns = ("role", "is_active", "password_hash", "company_id", "persona", "email", "tenant_id")
    saved = {column: getattr(user, column) for column in columns}
    user_id = user.id

    def restore():
        db.session.rollback()
        db.session.execute(update(User).where(User.id == user_id).values(**saved))
        db.session.commit()

    return restore


def _csrf(client, page: str) -> str:
    match = CSRF_INPUT.search(client.get(page).get_data(as_text=True))
    assert match, f"no CSRF token on {page}"
    return match.group(1) or match.group(2)


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_form_answers_bad_input_without_a_server_error(app, demo, persona):
    forms = _unique_post_forms(crawl(demo_client(app, persona), "/"))
    assert forms, f"{persona} found no form to fuzz"
    failures, statuses = [], Counter()
    restore = _account_restorer(persona)
    for form in forms:
        restore()  # a form before may have changed this account (its password, its role...)
        client = demo_client(app, persona)
        token = _csrf(client, form.page)
        headers = {"X-CSRFToken": token, "Referer": f"http://localhost{form.page}"}
        unprotected = client.post(form.action, data=dict(form.fields, csrf_token=""))
        if unprotected.status_code != 400:
            failures.append((form.action, "sem CSRF", unprotected.status_code))
        for name, description, data in _mutations(form):
            response = client.post(form.action, data={**data, "csrf_token": token}, headers=headers)
            statuses[response.status_code] += 1
            where = (form.action, f"{name}: {description}")
            if response.status_code >= 500:
                failures.append((*where, response.status_code))
            elif response.status_code in (400, 422) and "text/html" in response.content_type:
                body = response.get_data(as_text=True)
                if "Traceback" in body or "None" in re.sub(r"<[^>]+>", " ", body).split():
                    failures.append((*where, "mensagem com valores do Python"))
                if description == LONG_TEXT and form.kinds[name] in TYPED_KINDS and LONG[:1000] not in body:
                    failures.append((*where, "o texto digitado se perdeu"))
    print(f"{persona}: {len(forms)} forms, {sum(statuses.values())} requests, {dict(statuses)}")
    assert failures == []
