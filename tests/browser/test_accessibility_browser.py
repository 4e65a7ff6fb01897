"""Every page is accessible: axe-core finds no WCAG 2 A/AA violation on any page the crawl reaches,
as each persona of the demo, on a phone (390x844) and on a desktop (1440x900).

axe-core (tests/browser/vendor/, from npm, MPL-2.0) is run by the test only: it is evaluated in
the page through the browser's debugging protocol, which the page's Content-Security-Policy does
not apply to, and it is never served to anyone. The pages come from tests/crawl.py, so a page
added later is checked without editing this test. Each page is checked after htmx has loaded
its fragments (the chat widget, the counts, the portal's chat entry).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_csp_browser import NOT_PAGES
from tests.conftest import demo_client, sign_in_persona
from tests.crawl import crawl

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
PERSONAS = ("admin", "agent", "manager", "collaborator", "company_manager", "device")
SIZES = {"390x844": (390, 844), "1440x900": (1440, 900)}
# WCAG 2.0, 2.1 and 2.2, levels A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + ": " + n.failureSummary.replace(/\\s+/g, " ")),
    count: v.nodes.length,
  }));
}"""
SETTLED = "() => !document.querySelector('.htmx-request') && document.readyState === 'complete'"


def axe_violations(page) -> list[dict]:
    """Run axe-core on the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    return page.evaluate(RUN_AXE, WCAG_TAGS)


def settle(page) -> None:
    page.wait_for_load_state("load")
    page.wait_for_timeout(50)  # htmx has sent what it loads at once (hx-trigger="load"): wait for it
    page.wait_for_function(SETTLED)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_no_page_has_an_accessibility_violation(app, demo, new_page, persona, size):
    urls = [url for url in crawl(demo_client(app, persona), "/").pages() if not url.endswith(NOT_PAGES)]
    assert len(urls) >= 10, urls
    page = new_page()
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    sign_in_persona(page, app, persona)
    found = []
    for url in urls:
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        settle(page)
        found += [{"url": url, **violation} for violation in axe_violations(page)]
    print(f"{persona} {size}: {len(urls)} pages checked, {len(found)} violations")
    for violation in found:
        print(violation)
    assert found == []


# Pages no signed-in crawl reaches: the sign-in page and an error page.
ANONYMOUS_PAGES = ("/login", "/nao-existe")


@pytest.mark.parametrize("size", SIZES)
def test_the_pages_before_signing_in_have_no_violation(app, new_page, size):
    page = new_page()
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    found = []
    for url in ANONYMOUS_PAGES:
        page.goto(url)
        settle(page)
        found += [{"url": url, **violation} for violation in axe_violations(page)]
    assert found == []
