"""The real app plus one slow route, to prove gunicorn lets requests in flight finish."""

import time

from app import create_app

app = create_app()


@app.get("/test-only/slow")
def slow():
    time.sleep(2)
    return "terminou"
