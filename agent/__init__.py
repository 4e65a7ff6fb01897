"""Chamados reference agent: registers a computer and sends heartbeats.

python -m agent register --server URL --code CODE --email E-MAIL
python -m agent run            # forever, every interval the server asks for
python -m agent run --once     # one heartbeat (handy for cron and tests)
"""

__version__ = "1.0.0"
