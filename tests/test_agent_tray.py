"""agent/tray.py: the menu's wiring (each choice runs its action), without a display: once with
a stand-in for pystray, once with pystray's own dummy backend; and no display is no failure."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent import tray

ROOT = Path(__file__).resolve().parent.parent


class FakePystray:
    class Menu:
        SEPARATOR = "---"

        def __init__(self, *items):
            self.items = list(items)

    class MenuItem:
        def __init__(self, text, action, default=False, visible=True):
            self.text, self.action, self.default, self.visible = text, action, default, visible


def _actions():
    done = []
    items = tray.entries(
        *(lambda name=name: done.append(name) for name in ("ticket", "portal", "chat", "quit"))
    )
    return items, done


def test_each_choice_runs_its_action():
    items, done = _actions()
    menu = tray.build_menu(FakePystray, items)
    labels = [getattr(item, "text", item) for item in menu.items]
    assert labels == ["Abrir chamado", "Meus chamados", "Falar com o suporte", "---", "Sair"]
    for item in menu.items:
        if item != "---":
            item.action("icon", item)
    assert done == ["ticket", "portal", "chat", "quit"]
    assert [item.text for item in menu.items if item != "---" and item.default] == ["Falar com o suporte"]


def test_without_menus_a_click_opens_the_menu_window():
    items, done = _actions()
    popups = []
    menu = tray.build_menu(FakePystray, items, has_menu=False, popup=lambda: popups.append(1))
    (default,) = [item for item in menu.items if item != "---" and item.default]
    assert default.visible is False
    default.action("icon", default)
    assert popups == [1] and done == []


PROBE = """
import sys
from agent import tray
done = []
items = tray.entries(*(lambda n=n: done.append(n) for n in ("ticket", "portal", "chat", "quit")))
import pystray
menu = tray.build_menu(pystray, items, has_menu=pystray.Icon.HAS_MENU)
for item in menu.items:
    if item is not pystray.Menu.SEPARATOR:
        item(None)
print(pystray.Icon.__module__, done, str(menu.items[2]))
"""


@pytest.mark.process  # starts another process
def test_the_menu_with_pystray_itself():
    env = {**os.environ, "PYSTRAY_BACKEND": "dummy"}
    env.pop("DISPLAY", None)
    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "pystray._base ['ticket', 'portal', 'chat', 'quit'] Falar com o suporte"


@pytest.mark.process  # starts another process
def test_no_display_is_a_warning_not_a_failure():
    code = "from agent import tray; print(tray.Tray(tray.entries(*[print] * 4)).run(setup=print))"
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("PYSTRAY_BACKEND", None)
    probe = subprocess.run(
        [sys.executable, "-c", "import logging; logging.basicConfig(); " + code],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "False" and "bandeja indisponível" in probe.stderr


def test_the_icon_is_drawn():
    image = tray.icon_image()
    assert image.size == (64, 64) and image.getpixel((32, 4))[2] > 150  # blue edge
    assert image.getpixel((32, 28))[:3] == (255, 255, 255)  # the balloon
