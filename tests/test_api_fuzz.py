"""Schemathesis against the agent API's own OpenAPI document (app/devices/openapi.py).

Every operation, with bodies, paths and query strings generated from the document (and,
in schemathesis's negative phases, ones that break it, and methods it does not list), sent
to the Flask app as WSGI, each once with a real device's token and the provisioning secret
and once with no credentials. A request naming a ticket is sent a third time with the
device's own ticket (a live chat), and a registration with the company's real code, so the
fuzz gets past "not found" into the code behind it. Every answer must be no 5xx, a
documented status, a documented content type and a body the document describes, and an
unlisted method a 405 with Allow. The seed is fixed (derandomize) and the examples bounded,
so a run is the same run every time and stays short on both databases.
"""

import copy

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from app.devices.openapi import OPENAPI
from tests.conftest import PROVISIONING_SECRET

EXAMPLES = 50
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    unsupported_method,
]

schema = schemathesis.openapi.from_dict(copy.deepcopy(OPENAPI))


@pytest.fixture
def device(app, chat_device, agent_user, company, monkeypatch):
    """A registered, online device with a ticket and a live chat on it."""
    # Hundreds of calls a minute from one token: the limits would answer most of them 429.
    for setting in ("AGENT_RATE_LIMIT", "CHAT_RATE_LIMIT"):
        monkeypatch.setitem(app.config, setting, "1000000 per minute")
    setup = chat_device()
    setup.start(agent_user)
    setup.headers = {**setup.auth, "X-Provisioning-Secret": PROVISIONING_SECRET}
    setup.code = company.provisioning_code
    return setup


def _call_and_check(case, app, headers):
    response = case.call(app=app, headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(case, app, device):
    for headers in (device.headers, {}):
        _call_and_check(case, app, headers)
    if "ticket" in (case.path_parameters or {}):
        case.path_parameters["ticket"] = device.ticket.reference
        _call_and_check(case, app, device.headers)
    elif isinstance(case.body, dict) and "companyCode" in case.body:
        case.body = {**case.body, "companyCode": device.code}
        _call_and_check(case, app, device.headers)
