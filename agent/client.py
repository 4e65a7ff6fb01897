"""HTTP to the Chamados server (standard library only) and the heartbeat loop."""

import gzip
import json
import logging
import random
import time
import urllib.error
import urllib.request

from agent import collect, config, posture, usb

log = logging.getLogger("chamados.agent")
MAX_BACKOFF_SECONDS = 300
COMPRESS_ABOVE_BYTES = 2048


class ServerError(Exception):
    """The server answered with an error body; `status` and `code` say which."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


def request(
    server: str,
    path: str,
    body: dict | None = None,
    token: str | None = None,
    headers: dict | None = None,
    timeout: float = 30,
) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json", "User-Agent": "chamados-agent/1.0", **(headers or {})}
    if data is not None and len(data) > COMPRESS_ABOVE_BYTES:
        # A full inventory is ~90 KB of JSON and ~10 KB gzipped: less for the network and the server.
        data = gzip.compress(data, compresslevel=6)
        all_headers["Content-Encoding"] = "gzip"
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(
        server.rstrip("/") + path,
        data=data,
        headers=all_headers,
        method="POST" if data is not None else "GET",
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read())["error"]
        except (ValueError, KeyError):
            detail = {"code": "http_error", "message": error.reason}
        raise ServerError(error.code, detail.get("code", "?"), detail.get("message", "")) from None


def backoff_delays(base: float = 2.0, cap: float = MAX_BACKOFF_SECONDS):
    """2, 4, 8 … seconds, capped, with jitter so many agents do not retry in step."""
    attempt = 0
    while True:
        delay = min(cap, base * (2**attempt))
        yield delay * random.uniform(0.8, 1.2)
        attempt += 1


def register(server: str, code: str, email: str, secret: str) -> dict:
    body = {
        "companyCode": code,
        "email": email,
        "hostname": collect.socket.gethostname(),
        "os": collect.os_info(),
        "macAddresses": collect.mac_addresses(),
        "serialNumbers": collect.serial_numbers(),
    }
    answer = request(server, "/api/machines/register", body, headers={"X-Provisioning-Secret": secret})
    path = config.save(
        {
            "server": server,
            "token": answer["machineToken"],
            "machineId": answer["machineId"],
            "expiresAt": answer["expiresAt"],
            "inventoryHash": None,
        }
    )
    log.info(
        "Registrado como dispositivo %s para %s; configuração em %s",
        answer["machineId"],
        answer["assignedUser"]["email"],
        path,
    )
    return answer


def heartbeat_once(settings: dict, services: list[str] = ()) -> dict:
    """One heartbeat: metrics and posture always, the inventory only when it changed."""
    current = collect.metrics()
    body = {"metrics": current, "alerts": posture.checks(current, services)}
    inventory = collect.inventory()
    digest = collect.inventory_hash(inventory)
    if digest != settings.get("inventoryHash"):
        body["inventory"] = inventory
    answer = request(settings["server"], "/api/machines/heartbeat", body, token=settings["token"])
    if "inventory" in body:
        settings["inventoryHash"] = digest
        config.save(settings)
    for command in answer.get("commands", []):
        if command.get("type") == "usb_policy":
            status, message = usb.apply(command["mode"])
            request(
                settings["server"],
                "/api/machines/usb-policy/ack",
                {"status": status, **({"message": message} if message else {})},
                token=settings["token"],
            )
    return answer


def run(
    once: bool = False, services: list[str] = (), sleep=time.sleep, max_failures: int | None = None
) -> int:
    """Send heartbeats forever (or once). Network errors and server restarts are
    retried with backoff; a revoked or expired token stops the agent (exit 2)."""
    settings = config.load()
    delays = backoff_delays()
    failures = 0
    while True:
        try:
            answer = heartbeat_once(settings, services)
        except ServerError as error:
            if error.status in (401, 403):
                log.error("O servidor recusou o token (%s). Registre o agente de novo.", error.code)
                return 2
            failures += 1
            wait = next(delays)
            log.warning("Erro do servidor (%s); nova tentativa em %.0f s", error, wait)
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            failures += 1
            wait = next(delays)
            log.warning("Servidor inacessível (%s); nova tentativa em %.0f s", error, wait)
        else:
            failures = 0
            delays = backoff_delays()
            if once:
                return 0
            wait = answer.get("nextIntervalSeconds", 60)
        if max_failures is not None and failures >= max_failures:
            return 1
        sleep(wait)
