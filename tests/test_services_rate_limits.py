"""Rate limits: one fixed-window counter per client and limit."""

import pytest
from redis.exceptions import RedisError

from app.redis_client import get_redis
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


class FakeClock:
    """Stands in for the `time` module inside rate_limits only."""

    def __init__(self, now: float):
        self.now = now

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


redis_only = pytest.mark.skipif(not TEST_REDIS_URL, reason="counts shared through Redis need TEST_REDIS_URL")


@redis_only
def test_with_redis_calls_far_from_the_limit_cost_no_round_trip(make_app, monkeypatch):
    monkeypatch.setattr(rate_limits, "time", FakeClock(1_000_020.0))  # the start of a one-minute window
    with make_app().app_context():
        redis = get_redis()
        shared = lambda: int(redis.get(f"{rate_limits.REDIS_PREFIX}machine:quiet:1000020") or 0)  # noqa: E731
        assert all(rate_limits.hit("machine:quiet", "100 per minute").allowed for _ in range(10))
        assert shared() == 0  # a tenth of the limit, counted in this process alone
        assert rate_limits.hit("machine:quiet", "100 per minute").allowed
        assert shared() == 11  # past it, everything counted here goes to Redis at once


@redis_only
def test_with_redis_a_flood_spread_over_processes_stops_at_the_limit(make_app, monkeypatch):
    monkeypatch.setattr(rate_limits, "time", FakeClock(1_000_020.0))
    processes = [make_app(), make_app()]
    admitted = 0
    for _ in range(30):
        for application in processes:
            with application.app_context():
                admitted += rate_limits.hit("machine:flood", "20 per minute").allowed
    # Each process may let through a tenth of the limit that Redis has not seen yet.
    assert 20 <= admitted <= 22
    with make_app().app_context():  # a third process, which has not seen the flood yet
        verdicts = [rate_limits.hit("machine:flood", "20 per minute").allowed for _ in range(4)]
    assert sum(verdicts) <= 2 and verdicts[-2:] == [False, False]  # its tenth at most, then Redis's answer


@redis_only
def test_with_redis_failing_mid_window_the_process_counts_in_memory(make_app, monkeypatch):
    monkeypatch.setattr(rate_limits, "time", FakeClock(1_000_020.0))
    with make_app().app_context():

        def redis_down(*_args, **_kwargs):
            raise RedisError("down")

        monkeypatch.setattr(get_redis(), "pipeline", redis_down)
        verdicts = [rate_limits.hit("machine:stubborn", "10 per minute").allowed for _ in range(12)]
    # Still limited: the limit, plus the tenth this process had counted before Redis failed.
    assert verdicts[:10] == [True] * 10 and verdicts[-1] is False and sum(verdicts) <= 11
