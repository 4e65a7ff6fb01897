"""Browsers run only our code: every page the crawl reaches, opened in Chromium as each persona
of the demo, reports no Content-Security-Policy violation and no script error.

The pages come from tests/crawl.py (what the pages link to), so a page added later is checked
without editing this test; htmx then loads each page's own fragments in the browser too.
"""

import re
from collections import Counter

import pytest

from tests.conftest import demo_client, sign_in_persona
from tests.crawl import crawl

PERSONAS = ("admin", "agent", "collaborator", "company_manager", "device")
# Answers that are not our pages' business: a CSV download.
NOT_PAGES = (".csv",)
# Pages of one template (the 52 demo tickets) are alike for the policy: a few of each will do.
PER_TEMPLATE = 4


def _sample(urls):
    taken, chosen = Counter(), []
    for url in urls:
        shape = re.sub(r"/\d+(?=/|$)", "/<n>", url.split("?", 1)[0])
        if taken[shape] < PER_TEMPLATE and not url.endswith(NOT_PAGES):
            taken[shape] += 1
            chosen.append(url)
    return chosen


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_page_breaks_the_content_security_policy(app, demo, page, persona):
    pages = _sample(crawl(demo_client(app, persona), "/").pages())
    assert len(pages) >= 5, pages
    problems = []
    page.on(
        "console",
        lambda message: (
            ("Content Security Policy" in message.text or "Refused to" in message.text)
            and problems.append((page.url, message.text))
        ),
    )
    page.on("pageerror", lambda error: problems.append((page.url, f"erro de script: {error}")))
    sign_in_persona(page, app, persona)
    for url in pages:
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        assert "script-src 'self';" in response.headers["content-security-policy"]
        page.wait_for_load_state("load")
        page.wait_for_timeout(100)  # the fragments htmx loads at once (hx-trigger="load")
    print(f"{persona}: {len(pages)} pages in Chromium")
    assert problems == []
