"""Fixtures for the desktop agent under a virtual screen (Xvfb)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _missing(what: str, install: str):
    message = f"{what} not found; install it with `apt-get install {install}` (or `make test-deps`)"
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def xvfb():
    """A virtual screen of its own (Xvfb picks a free display number); yields ":N"."""
    binary = shutil.which("Xvfb")
    if binary is None:
        _missing("Xvfb", "xvfb")
    read, write = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        _missing(f"Chromium ({CHROMIUM})", "chromium")
    return CHROMIUM


def save_screen(display: str, name: str) -> Path | None:
    """The whole virtual screen as a PNG in test-artifacts/screenshots/ (Pillow reads X itself)."""
    from PIL import ImageGrab

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    try:
        ImageGrab.grab(xdisplay=display).save(path)
    except OSError:
        return None
    return path
