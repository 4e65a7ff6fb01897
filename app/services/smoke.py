"""The post-deploy smoke check (`flask smoke --url URL`), as the seed's CI does it.

Registers a throwaway device with the provisioning secret (expects 201 and a
token), sends one heartbeat (expects 200), then removes the device and the
person created for it. It talks HTTP to the deployed server, like the agent.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass


class SmokeFailed(Exception):
    """A step did not answer what it should; the message says which and what came back."""


@dataclass
class SmokeStep:
    name: str
    status: int
    detail: str


def _call(url: str, method: str, body: dict | None, headers: dict, timeout: float) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read())
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SmokeFailed(f"{method} {url}: servidor inacessível ({reason})") from None


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {"raw": value}


def _expect(step: str, status: int, expected: int, body: dict) -> None:
    if status != expected:
        error = body.get("error") or {}
        reason = f"{error.get('code')}: {error.get('message')}" if error else json.dumps(body)[:200]
        raise SmokeFailed(f"{step}: esperava HTTP {expected}, veio {status} ({reason})")


def run_smoke(base_url: str, company_code: str, secret: str, timeout: float = 15) -> list[SmokeStep]:
    base = base_url.rstrip("/") + "/api/machines"
    suffix = secrets.token_hex(4)
    status, body = _call(
        f"{base}/register",
        "POST",
        {
            "companyCode": company_code,
            "email": f"smoke-{suffix}@chamados.invalid",
            "hostname": f"smoke-{suffix}",
            "os": {"name": "Smoke", "version": "1", "build": "0", "arch": "x86_64"},
            "macAddresses": [],
            "serialNumbers": [f"SMOKE-{suffix}"],
        },
        {"X-Provisioning-Secret": secret},
        timeout,
    )
    _expect("registro", status, 201, body)
    token = body.get("machineToken")
    if not token:
        raise SmokeFailed("registro: a resposta 201 não trouxe machineToken")
    steps = [SmokeStep("registro", status, f"dispositivo {body.get('machineId')} smoke-{suffix}")]
    auth = {"Authorization": f"Bearer {token}"}
    try:
        status, body = _call(
            f"{base}/heartbeat", "POST", {"metrics": {"cpuPercent": 1.0, "memoryPercent": 1.0}}, auth, timeout
        )
        _expect("heartbeat", status, 200, body)
        steps.append(SmokeStep("heartbeat", status, f"próximo em {body.get('nextIntervalSeconds')} s"))
    finally:
        # Clean up even when the heartbeat failed: a smoke check must not leave devices behind.
        status, body = _call(
            f"{base}/self", "DELETE", None, {**auth, "X-Provisioning-Secret": secret}, timeout
        )
    _expect("remoção", status, 200, body)
    steps.append(SmokeStep("remoção", status, "dispositivo removido"))
    return steps
