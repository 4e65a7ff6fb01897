"""wsgi.py under the real gunicorn with gunicorn.conf.py: serves, and shuts down gracefully."""

import os
import runpy
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.process  # gunicorn, as in production

ROOT = Path(__file__).resolve().parent.parent


def _wait_until_up(url, process, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                response.read()
                return response.status
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start")


def spawn_gunicorn(test_env, workdir, app_path="wsgi:app", **env_overrides) -> tuple[subprocess.Popen, int]:
    """One gunicorn process (gunicorn.conf.py, one worker) on a free port, with the test settings."""
    port = free_port()
    env = {
        **os.environ,
        **test_env,
        "INSTANCE_PATH": str(workdir / "instance"),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        **env_overrides,
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "-c", "gunicorn.conf.py", app_path],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return process, port


def test_gunicorn_finishes_requests_in_flight_on_sigterm(app, test_env, workdir):
    process, port = spawn_gunicorn(test_env, workdir, "tests.slow_wsgi:app")
    try:
        assert _wait_until_up(f"http://127.0.0.1:{port}/health", process) == 200

        result = {}

        def slow_request():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/test-only/slow", timeout=10) as response:
                result["status"], result["body"] = response.status, response.read()

        worker = threading.Thread(target=slow_request)
        worker.start()
        time.sleep(1.0)  # the request is now inside the worker
        process.send_signal(signal.SIGTERM)
        worker.join(timeout=15)
        exit_code = process.wait(timeout=35)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = process.stderr.read().decode()
    assert result == {"status": 200, "body": b"terminou"}, log
    assert exit_code == 0, log
    assert "Handling signal: term" in log and "GET /test-only/slow 200" in log


def _load_gunicorn_conf(monkeypatch, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


@pytest.mark.parametrize("raw", ["-5", "20", "dez", "1.5"])
def test_gunicorn_nice_refuses_a_bad_value_and_names_the_variable(monkeypatch, raw):
    with pytest.raises(
        ValueError, match=rf"GUNICORN_NICE must be a whole number from 0 .* to 19 .*got '{raw}'"
    ):
        _load_gunicorn_conf(monkeypatch, GUNICORN_NICE=raw)


def test_gunicorn_nice_defaults_to_normal_priority(monkeypatch):
    monkeypatch.delenv("GUNICORN_NICE", raising=False)
    assert _load_gunicorn_conf(monkeypatch)["nice"] == 0


def _niceness(pid: int) -> int:
    # /proc/<pid>/stat: the 19th field is the nice value (the name in parentheses may hold spaces).
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_gunicorn_nice_lowers_the_priority_of_the_master_and_its_workers(app, test_env, workdir):
    """GUNICORN_NICE=7 on a process at nice 0: the master and the worker it forks run at 7."""
    assert os.getpriority(os.PRIO_PROCESS, 0) < 7
    process, port = spawn_gunicorn(test_env, workdir, GUNICORN_NICE="7")
    try:
        assert _wait_until_up(f"http://127.0.0.1:{port}/health/live", process) == 200
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert len(children) == 1  # WEB_CONCURRENCY=1
        assert (_niceness(process.pid), _niceness(int(children[0]))) == (7, 7)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=35)
    assert "CPU priority: nice 7" in process.stderr.read().decode()
