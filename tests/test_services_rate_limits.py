"""Rate limits: one fixed-window counter per client and limit."""

import pytest

from app.services import rate_limits
from tests.conftest import TEST_REDIS_URL


def test_limits_parse_like_the_flask_limiter_settings():
    assert rate_limits.parse_limit("120 per minute") == (120, 60)
    assert rate_limits.parse_limit("5/second") == (5, 1)


def test_a_key_is_refused_past_its_limit_until_the_window_ends(app, monkeypatch):
    now = [1_000_040.0]  # 20 s into a one-minute window (windows start at multiples of 60 s)
    monkeypatch.setattr(rate_limits.time, "time", lambda: now[0])
    verdicts = [rate_limits.hit("machine:a", "3 per minute") for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].retry_after == 40
    assert rate_limits.hit("machine:b", "3 per minute").allowed  # other devices are not affected
    now[0] += 40  # the next minute
    assert rate_limits.hit("machine:a", "3 per minute").allowed


def test_disabled_rate_limits_let_everything_through(app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)
    assert all(rate_limits.hit("machine:a", "1 per minute").allowed for _ in range(5))


@pytest.mark.skipif(not TEST_REDIS_URL, reason="a count shared by processes needs Redis (TEST_REDIS_URL)")
def test_with_redis_the_count_is_shared_by_every_process(make_app):
    process_a, process_b = make_app(), make_app()
    verdicts = []
    for application in (process_a, process_b, process_a):
        with application.app_context():
            verdicts.append(rate_limits.hit("machine:shared", "2 per minute").allowed)
    assert verdicts == [True, True, False]


def test_with_redis_unreachable_each_process_counts_in_memory(make_app):
    dead_redis = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with dead_redis.app_context():
        assert [rate_limits.hit("login:1.2.3.4", "2 per minute").allowed for _ in range(3)] == [
            True,
            True,
            False,
        ]
