"""What a person reads is Portuguese: no Python value (None, True, False) and no "ticket" in the
text of any page or fragment the crawl reaches, as each persona of the demo.

The text is what the browser shows or reads aloud: text nodes and the attributes a person sees
or hears (title, aria-label, placeholder, alt, a button's value), outside <script>, <style>,
<code> and <pre> (code blocks may quote code). Pages and fragments come from tests/crawl.py, so
a page added later is checked without editing this test.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.conftest import DEMO_PERSONAS, demo_client, login
from tests.crawl import crawl

pytestmark = pytest.mark.slow

PERSONAS = ("admin", "agent", "manager", "collaborator", "company_manager", "device")
PYTHON_VALUES = re.compile(r"\b(None|True|False)\b")
# "chamado" throughout the interface. (Links, ids and classes are not read: only text.)
ENGLISH_TICKET = re.compile(r"\btickets?\b", re.IGNORECASE)
READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "aria-description")
SKIPPED_ELEMENTS = {"script", "style", "code", "pre", "template"}
VOID_ELEMENTS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
}  # fmt: skip


class _ReadText(HTMLParser):
    """Collects the text a person reads, with the element it sits in."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[tuple[str, str]] = []  # (where, text)
        self._skipping = 0
        self._stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if not self._skipping:
            for name in READ_ATTRIBUTES:
                if attributes.get(name):
                    self.texts.append((f"<{tag} {name}>", attributes[name]))
            if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
                self.texts.append((f"<{tag} value>", attributes["value"]))
        if tag in VOID_ELEMENTS:
            return
        self._stack.append(tag)
        if tag in SKIPPED_ELEMENTS:
            self._skipping += 1

    def handle_endtag(self, tag):
        if tag not in self._stack:
            return
        while self._stack:
            open_tag = self._stack.pop()
            if open_tag in SKIPPED_ELEMENTS:
                self._skipping -= 1
            if open_tag == tag:
                break

    def handle_data(self, data):
        if not self._skipping and data.strip():
            self.texts.append((f"<{self._stack[-1] if self._stack else ''}>", data.strip()))


def read_text(html: str) -> list[tuple[str, str]]:
    parser = _ReadText()
    parser.feed(html)
    parser.close()
    return parser.texts


def test_the_reader_skips_code_and_reads_attributes():
    texts = read_text(
        '<p title="Sim">motivo: None</p><pre>x = None</pre><code>True</code>'
        '<script>var a = false</script><input type="submit" value="False"><br><b>ok</b>'
    )
    assert texts == [("<p title>", "Sim"), ("<p>", "motivo: None"), ("<input value>", "False"), ("<b>", "ok")]


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_page_shows_python_values_or_the_word_ticket(app, demo, persona):
    # A refused sign-in, so Auditoria has a change whose "before" is empty (motivo: — → ...).
    login(app.test_client(), DEMO_PERSONAS["agent"], "senha-errada")
    result = crawl(demo_client(app, persona), "/")
    assert len(result.bodies) >= 10, sorted(link.url for link in result.bodies)
    problems = []
    for link, body in result.bodies.items():
        for where, text in read_text(body):
            if PYTHON_VALUES.search(text) or ENGLISH_TICKET.search(text):
                problems.append((link.url, where, text[:160]))
    print(f"{persona}: {len(result.bodies)} pages and fragments read")
    assert problems == []
    if persona == "admin":  # the scan did read Auditoria's changes
        assert any("motivo: — → senha inválida" in body for body in result.bodies.values())
