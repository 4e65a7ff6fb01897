"""Chamados agent: registers a computer, sends heartbeats, and puts the support team one click
(or one chat) away from the person who uses it.

python -m agent register --server URL --code CODE --email E-MAIL
python -m agent run            # the background service: heartbeats, every interval the server asks for
python -m agent run --once     # one heartbeat (handy for cron and tests)
python -m agent desktop        # the person's part: tray icon, chat window, notifications
python -m agent ticket         # the "Abrir chamado" window alone
"""

__version__ = "1.1.0"
