"""deploy/nginx-three-pools.conf, run by the real nginx (README, "Three pools"): each path reaches
the pool it names, with the headers the app relies on (the Host with its port, for the Origin
check; X-Forwarded-Proto), the websocket's upgrade passed on, and bodies up to an attachment's
size let through. The pools are stand-ins that answer with their name and what they received:
what is under test is nginx's routing, from the file as shipped (only its ports and certificate
paths are swapped for the test's)."""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy" / "nginx-three-pools.conf"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
POOL_PORTS = {"staff": 8000, "sockets": 8001, "devices": 8002}  # as the file has them
HOST = "chamados.test"

pytestmark = pytest.mark.process


class _Pool(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # nginx keeps connections to the staff and device pools alive

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        received = len(self.rfile.read(length)) if length else 0
        body = json.dumps(
            {
                "pool": self.server.pool_name,
                "path": self.path,
                "host": self.headers.get("Host"),
                "proto": self.headers.get("X-Forwarded-Proto"),
                "upgrade": self.headers.get("Upgrade"),
                "connection": self.headers.get("Connection"),
                "received": received,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _swap(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{CONFIG.name} no longer has exactly one {old!r}: update this test"
    return text.replace(old, new)


@pytest.fixture(scope="module")
def nginx_three_pools(tmp_path_factory):
    """nginx with the shipped server block and three stand-in pools, once for the module."""
    tmp_path = tmp_path_factory.mktemp("nginx")
    if NGINX is None or shutil.which("openssl") is None:
        message = "nginx or openssl is not installed (make test installs the Debian packages as root)"
        if os.environ.get("REQUIRE_NGINX"):
            pytest.fail(message)  # CI: a missing nginx is a failure, not a skip
        pytest.skip(message)
    pools = []
    server_block = CONFIG.read_text()
    for name, port in POOL_PORTS.items():
        pool = ThreadingHTTPServer(("127.0.0.1", 0), _Pool)
        pool.pool_name = name
        threading.Thread(target=pool.serve_forever, daemon=True).start()
        pools.append(pool)
        server_block = _swap(server_block, f"127.0.0.1:{port};", f"127.0.0.1:{pool.server_port};")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={HOST}",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    port = _free_port()
    server_block = _swap(server_block, "listen 443 ssl", f"listen 127.0.0.1:{port} ssl")
    server_block = _swap(server_block, "/etc/ssl/chamados/fullchain.pem", str(tmp_path / "cert.pem"))
    server_block = _swap(server_block, "/etc/ssl/chamados/privkey.pem", str(tmp_path / "key.pem"))
    (tmp_path / "chamados.conf").write_text(server_block)
    temp_paths = "\n".join(
        f"    {kind}_temp_path {tmp_path / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"""{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
pid {tmp_path / "nginx.pid"};
error_log {tmp_path / "error.log"} warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temp_paths}
    include {tmp_path / "chamados.conf"};
}}
"""
    )
    main_config = str(tmp_path / "nginx.conf")
    checked = subprocess.run([NGINX, "-t", "-c", main_config], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr  # the shipped file is valid for this nginx
    process = subprocess.Popen([NGINX, "-c", main_config], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "error.log").read_text()
                time.sleep(0.05)
        else:
            pytest.fail("nginx did not listen within 5 s: " + (tmp_path / "error.log").read_text())
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        for pool in pools:
            pool.shutdown()
            pool.server_close()


def _request(port, method, path, body=None, headers=None):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.request(method, path, body=body, headers={"Host": f"{HOST}:{port}", **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if response.status == 200 else None)
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("method", "path", "pool"),
    [
        ("GET", "/", "staff"),
        ("GET", "/chamados?f=1&status=PENDING", "staff"),
        ("GET", "/static/app.css?v=1", "staff"),
        ("GET", "/health/live", "staff"),
        ("GET", "/portal/", "staff"),
        # what agents send on their own, at fleet rate: the niced device pool
        ("POST", "/api/machines/heartbeat", "devices"),
        ("POST", "/api/machines/register", "devices"),
        ("POST", "/api/machines/usb-policy/ack", "devices"),
        ("DELETE", "/api/machines/self", "devices"),
        ("POST", "/api/inventory/ABC123", "devices"),
        ("POST", "/api/inventory/", "devices"),
        # what a person at the computer waits on stays with the staff pool
        ("POST", "/api/machines/tickets", "staff"),
        ("GET", "/api/machines/chat/12/messages", "staff"),
        ("POST", "/api/machines/chat/12/read", "staff"),
        ("GET", "/api/machines/chat/updates", "staff"),
        ("POST", "/api/machines/sessions", "staff"),
        ("GET", "/api/machines/session", "staff"),
        # every websocket
        ("GET", "/ws/chat", "sockets"),
    ],
)
def test_each_path_reaches_its_pool_with_the_headers_the_app_needs(nginx_three_pools, method, path, pool):
    port = nginx_three_pools
    status, seen = _request(port, method, path, body=b"{}" if method == "POST" else None)
    assert status == 200
    assert (seen["pool"], seen["path"]) == (pool, path)
    assert seen["host"] == f"{HOST}:{port}"  # the Origin check compares with the host and its port
    assert seen["proto"] == "https"


def test_a_websocket_upgrade_is_passed_on_to_the_sockets_pool(nginx_three_pools):
    headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # fmt: skip
    status, seen = _request(nginx_three_pools, "GET", "/ws/chat", headers=headers)
    assert status == 200 and seen["pool"] == "sockets"
    assert (seen["upgrade"], seen["connection"]) == ("websocket", "upgrade")


def test_an_attachment_sized_body_passes_and_a_larger_one_is_a_413(nginx_three_pools):
    ten_megabytes = b"x" * (10 * 1024 * 1024)
    status, seen = _request(nginx_three_pools, "POST", "/chamados/7/comentarios", body=ten_megabytes)
    assert status == 200 and seen["received"] == len(ten_megabytes)
    status, _ = _request(nginx_three_pools, "POST", "/chamados/7/comentarios", body=b"x" * (12 * 1024 * 1024))
    assert status == 413
