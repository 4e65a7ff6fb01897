"""Follow every same-origin link a person can reach, as that person.

Used by the crawl test (no page answers 5xx), the browser CSP test and the form fuzz: they
all work from what the pages themselves link to, so a page added later is covered without
editing any test.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

# Enough for the demo install (52 tickets, every list and filter) with room to grow, and a
# hard stop for a page that links to endless variations of itself.
MAX_PAGES = 700
MAX_PER_PATH_SHAPE = 60  # /chamados/<n>: every demo ticket, but not a million of them
MAX_QUERIES_PER_PATH = 12  # filters, sorts and pages of one list
SKIPPED_PREFIXES = ("/static/", "/ws/", "/machines/handshake")


@dataclass(frozen=True)
class Link:
    url: str
    htmx: bool  # an hx-get: fetched as the fragment htmx would ask for


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: dict[str, str]  # name -> the value the page filled in ("" when none)
    kinds: dict[str, str]  # name -> input type / "select" / "textarea"
    options: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class CrawlResult:
    statuses: dict[Link, int] = field(default_factory=dict)
    content_types: dict[Link, str] = field(default_factory=dict)
    forms: list[Form] = field(default_factory=list)
    bodies: dict[Link, str] = field(default_factory=dict)  # every HTML answer, page or fragment
    truncated: bool = False

    def server_errors(self) -> list[tuple[str, int]]:
        return [(link.url, status) for link, status in self.statuses.items() if status >= 500]

    def pages(self) -> list[str]:
        """Full pages (not fragments) that rendered as HTML."""
        return [
            link.url
            for link, status in self.statuses.items()
            if not link.htmx and status == 200 and self.content_types[link].startswith("text/html")
        ]


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[Link] = []
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "a" and attributes.get("href"):
            self.links.append(Link(attributes["href"], htmx=False))
        if attributes.get("hx-get"):
            self.links.append(Link(attributes["hx-get"], htmx=True))
        if tag == "form":
            self._form = {
                "action": attributes.get("action") or attributes.get("hx-post") or "",
                "method": _form_method(attributes),
                "fields": {},
                "kinds": {},
                "options": {},
            }
        elif self._form is None:
            return
        elif tag == "option" and self._select:
            self._option(attributes)
        elif attributes.get("name"):
            self._form_field(tag, attributes)

    def _option(self, attributes):
        form, name = self._form, self._select
        value = attributes.get("value", "")
        form["options"].setdefault(name, []).append(value)
        if "selected" in attributes or name not in form["fields"]:
            form["fields"][name] = value

    def _form_field(self, tag, attributes):
        form, name = self._form, attributes["name"]
        kind = tag if tag in ("select", "textarea") else attributes.get("type", "text")
        form["kinds"].setdefault(name, kind)
        if tag == "select":
            self._select = name
        elif tag == "textarea":
            self._textarea = name
            form["fields"].setdefault(name, "")
        elif kind in ("checkbox", "radio"):
            if "checked" in attributes or name not in form["fields"]:
                form["fields"][name] = attributes.get("value", "on")
        elif kind not in ("submit", "button", "file", "image", "reset"):
            form["fields"][name] = attributes.get("value", "")

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None


def _form_method(attributes: dict) -> str:
    if attributes.get("hx-post"):
        return "post"
    return (attributes.get("method") or "get").lower()


def parse(html: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser


def _same_origin_path(base: str, href: str) -> str | None:
    href = href.strip()
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
        return None
    absolute = urljoin("http://localhost" + base, href)
    parts = urlsplit(absolute)
    if parts.netloc != "localhost":
        return None
    url = urldefrag(parts.path + (f"?{parts.query}" if parts.query else ""))[0]
    return None if url.startswith(SKIPPED_PREFIXES) else url


def _shape(path: str) -> str:
    return re.sub(r"/\d+(?=/|$)", "/<n>", path)


def crawl(client, start: str = "/") -> CrawlResult:
    """Breadth-first over every link and hx-get of every page `client` can see."""
    result = CrawlResult()
    queue: deque[tuple[Link, str]] = deque([(Link(start, htmx=False), "")])
    seen: set[Link] = set()
    per_shape: Counter = Counter()
    per_path_queries: Counter = Counter()
    while queue:
        link, referrer = queue.popleft()
        if link in seen:
            continue
        path = link.url.split("?", 1)[0]
        if "?" in link.url and per_path_queries[path] >= MAX_QUERIES_PER_PATH:
            continue
        if per_shape[_shape(path)] >= MAX_PER_PATH_SHAPE or len(seen) >= MAX_PAGES:
            result.truncated = True
            continue
        seen.add(link)
        per_shape[_shape(path)] += 1
        per_path_queries[path] += "?" in link.url
        headers = {"HX-Request": "true", "HX-Current-URL": referrer} if link.htmx else {}
        response = client.get(link.url, headers=headers, follow_redirects=True, buffered=True)
        result.statuses[link] = response.status_code
        result.content_types[link] = response.content_type or ""
        body = response.get_data(as_text=True)
        if not (response.content_type or "").startswith("text/html"):
            continue
        result.bodies[link] = body
        page = parse(body)
        final = response.request.path + (
            f"?{response.request.query_string.decode()}" if response.request.query_string else ""
        )
        for form in page.forms:
            action = _same_origin_path(final, form["action"] or final)
            if action:
                result.forms.append(
                    Form(final, action, form["method"], form["fields"], form["kinds"], form["options"])
                )
        for found in page.links:
            url = _same_origin_path(final, found.url)
            if url:
                queue.append((Link(url, found.htmx), final))
    return result
