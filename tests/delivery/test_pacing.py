"""Pacing on a fake clock: headers learned, 429s honoured by scope, channel and host budgets,
one request in flight, and whole runs against a simulated Discord with its three limits."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from leyden.delivery.pacing import Pacer, PacingConfig, Throttle
from leyden.notify.base import RateLimit

A, B, C = "webhook/111", "webhook/222", "webhook/333"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _headers(remaining: int, reset_after: float, limit: int = 5) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": "abcd",
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _send(pacer: Pacer, dest: str, status: int = 204, **headers: str) -> None:
    pacer.started(dest)
    pacer.finished(dest, status=status, headers=headers or None)


def test_a_fresh_destination_may_send_now(clock: FakeClock) -> None:
    pacer = Pacer(clock=clock)
    assert pacer.next_send(A) == clock.now
    assert pacer.ready(A)
    assert pacer.delay(A) == 0.0


def test_one_request_in_flight_per_destination(clock: FakeClock) -> None:
    pacer = Pacer(clock=clock)
    pacer.started(A)
    assert pacer.in_flight(A)
    assert pacer.next_send(A) == math.inf
    assert pacer.delay(A) == math.inf
    assert pacer.ready(B)  # others are not held back
    with pytest.raises(RuntimeError, match="already in flight"):
        pacer.started(A)
    pacer.finished(A, status=None)  # no answer at all (timeout)
    assert not pacer.in_flight(A)
    assert pacer.ready(A)


def test_bucket_is_learned_from_the_headers(clock: FakeClock) -> None:
    pacer = Pacer(clock=clock)
    pacer.started(A)
    pacer.finished(A, status=204, headers=_headers(remaining=0, reset_after=1.5))
    assert pacer.next_send(A) == clock.now + 1.5
    assert pacer.ready(B)
    clock.advance(1.5)
    assert pacer.ready(A)
    pacer.started(A)  # a new window: the learned limit is the budget again
    pacer.finished(A, status=204, headers=_headers(remaining=2, reset_after=2.0, limit=3))
    for _ in range(2):
        assert pacer.ready(A)
        pacer.started(A)
        pacer.finished(A, status=204)  # no headers: counted down by the pacer itself
    assert pacer.next_send(A) == pytest.approx(clock.now + 2.0)


def test_without_headers_the_default_bucket_applies(clock: FakeClock) -> None:
    pacer = Pacer(PacingConfig(bucket_limit=2, bucket_window=3.0), clock=clock)
    _send(pacer, A)
    _send(pacer, A)
    assert pacer.next_send(A) == clock.now + 3.0


def test_garbage_headers_are_ignored(clock: FakeClock) -> None:
    pacer = Pacer(clock=clock)
    pacer.started(A)
    pacer.finished(
        A,
        status=204,
        headers={"X-RateLimit-Remaining": "lots", "X-RateLimit-Reset-After": "-3"},
    )
    assert pacer.ready(A)


def test_user_429_holds_back_that_webhook_only(clock: FakeClock) -> None:
    pacer = Pacer(clock=clock)
    pacer.started(A)
    headers = {**_headers(0, 0.5), "Retry-After": "5", "X-RateLimit-Scope": "user"}
    pacer.finished(A, status=429, headers=headers, retry_after=4.25)
    assert pacer.next_send(A) == clock.now + 4.25  # the body's exact value wins
    assert pacer.ready(B)


def test_429_without_a_body_uses_the_retry_after_header(clock: FakeClock) -> None:
    pacer = Pacer(clock=clock)
    pacer.started(A)
    pacer.finished(A, status=429, headers={"Retry-After": "7"})
    assert pacer.next_send(A) == clock.now + 7


def test_shared_429_holds_back_every_webhook_of_the_channel(clock: FakeClock) -> None:
    pacer = Pacer(channels={A: "ops", B: "ops"}, clock=clock)
    pacer.set_channel(C, "dev")
    pacer.started(A)
    headers = {**_headers(3, 1.0), "Retry-After": "42", "X-RateLimit-Scope": "shared"}
    pacer.finished(A, status=429, headers=headers, retry_after=41.5)
    assert pacer.next_send(A) == pacer.next_send(B) == clock.now + 41.5
    assert pacer.ready(C)


def test_global_429_holds_back_the_host(clock: FakeClock) -> None:
    pacer = Pacer(clock=clock)
    pacer.started(A)
    headers = {"Retry-After": "1", "X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}
    pacer.finished(A, status=429, headers=headers, retry_after=0.75)
    assert pacer.next_send(A) == pacer.next_send(B) == clock.now + 0.75


def test_channel_budget_is_a_sliding_window(clock: FakeClock) -> None:
    pacer = Pacer(PacingConfig(bucket_limit=1000, channel_limit=3, channel_window=60), clock=clock)
    for _ in range(3):
        _send(pacer, A)
        clock.advance(10)
    assert pacer.next_send(A) == 1060.0  # the first of the three leaves the window then
    assert pacer.ready(B)  # its own channel
    clock.now = 1060.0
    _send(pacer, A)
    assert pacer.next_send(A) == 1070.0


def test_channel_budget_is_shared_by_the_webhooks_of_a_channel(clock: FakeClock) -> None:
    pacer = Pacer(PacingConfig(channel_limit=2), channels={A: "ops", B: "ops"}, clock=clock)
    _send(pacer, A)
    _send(pacer, B)
    assert pacer.next_send(A) == pacer.next_send(B) == clock.now + 60
    assert pacer.ready(C)


def test_host_cap_spans_every_destination(clock: FakeClock) -> None:
    pacer = Pacer(PacingConfig(host_limit=3, host_window=1.0), clock=clock)
    for dest in (A, B, C):
        _send(pacer, dest)
    assert pacer.next_send("webhook/444") == clock.now + 1.0
    clock.advance(1.0)
    assert pacer.ready("webhook/444")


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="channel_limit"):
        PacingConfig(channel_limit=0)
    with pytest.raises(ValueError, match="host_window"):
        PacingConfig(host_window=0)


# --- whole runs against a simulated Discord -------------------------------------------------------


@dataclass
class _Window:
    limit: int
    length: float
    start: float = -math.inf
    used: int = 0

    def take(self, now: float) -> tuple[bool, float]:
        if now >= self.start + self.length:
            self.start, self.used = now, 0
        if self.used >= self.limit:
            return False, self.start + self.length - now
        self.used += 1
        return True, self.start + self.length - now


@dataclass
class SimulatedDiscord:
    """Discord's three fixed-window limits, as the emulator models them, on a fake clock."""

    clock: FakeClock
    channel_of: dict[str, str] = field(default_factory=dict)
    webhooks: dict[str, _Window] = field(default_factory=dict)
    channels: dict[str, _Window] = field(default_factory=dict)
    host: _Window = field(default_factory=lambda: _Window(50, 1.0))
    storm: dict[str, int] = field(default_factory=dict)  # 429s to answer regardless, per webhook
    delivered: list[tuple[float, str]] = field(default_factory=list)
    answered_429: int = 0

    def post(self, dest: str) -> tuple[int, dict[str, str], float | None]:
        now = self.clock()
        ok, host_reset = self.host.take(now)
        bucket = self.webhooks.setdefault(dest, _Window(5, 2.0))
        if not ok:
            self.answered_429 += 1
            return 429, {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global"}, host_reset
        ok, reset_after = bucket.take(now)
        headers = _headers(bucket.limit - bucket.used, reset_after)
        if self.storm.get(dest, 0) > 0:  # e.g. another client spending the channel's budget
            self.storm[dest] -= 1
            self.answered_429 += 1
            return 429, {**headers, "X-RateLimit-Scope": "user"}, 5.0
        if not ok:
            self.answered_429 += 1
            return 429, {**headers, "X-RateLimit-Scope": "user"}, reset_after
        channel = self.channels.setdefault(self.channel_of.get(dest, dest), _Window(30, 60.0))
        ok, channel_reset = channel.take(now)
        if not ok:
            self.answered_429 += 1
            return 429, {**headers, "X-RateLimit-Scope": "shared"}, channel_reset
        self.delivered.append((now, dest))
        return 204, headers, None


def _drain(
    pacer: Pacer,
    discord: SimulatedDiscord,
    clock: FakeClock,
    backlog: dict[str, int],
    *,
    latency: float = 0.05,
    until: float = 3600.0,
) -> None:
    """A dispatcher: send each destination's backlog as fast as the pacer allows."""
    end = clock.now + until
    while any(backlog.values()) and clock.now < end:
        waiting = [d for d, n in backlog.items() if n]
        due = min(pacer.next_send(d) for d in waiting)
        clock.now = max(clock.now, due)
        for dest in waiting:
            if pacer.ready(dest):
                pacer.started(dest)
                status, headers, retry_after = discord.post(dest)
                clock.advance(latency)
                pacer.finished(dest, status=status, headers=headers, retry_after=retry_after)
                if status == 204:
                    backlog[dest] -= 1


def test_a_500_alert_backlog_drains_at_the_channel_limit_without_a_single_429(
    clock: FakeClock,
) -> None:
    pacer = Pacer(clock=clock)
    discord = SimulatedDiscord(clock)
    start = clock.now
    _drain(pacer, discord, clock, {A: 500})
    assert len(discord.delivered) == 500
    assert discord.answered_429 == 0
    minutes = (clock.now - start) / 60
    assert 500 / 30 - 1 <= minutes <= 500 / 30 + 1  # the physical limit, and reaching it


def test_webhooks_sharing_a_channel_share_its_budget_without_429s(clock: FakeClock) -> None:
    pacer = Pacer(channels={A: "ops", B: "ops"}, clock=clock)
    discord = SimulatedDiscord(clock, channel_of={A: "ops", B: "ops"})
    _drain(pacer, discord, clock, {A: 45, B: 45, C: 30})
    assert len(discord.delivered) == 120
    assert discord.answered_429 == 0
    per_minute: dict[int, int] = {}
    for when, dest in discord.delivered:
        if dest in (A, B):
            minute = int((when - 1000.0) // 60)
            per_minute[minute] = per_minute.get(minute, 0) + 1
    assert max(per_minute.values()) <= 30


def test_many_destinations_stay_under_the_host_cap(clock: FakeClock) -> None:
    pacer = Pacer(clock=clock)
    discord = SimulatedDiscord(clock)
    backlog = {f"webhook/{i}": 5 for i in range(100)}
    _drain(pacer, discord, clock, backlog, latency=0.0)
    assert len(discord.delivered) == 500
    assert discord.answered_429 == 0


def test_a_429_storm_on_one_webhook_is_waited_out_and_holds_back_nothing_else(
    clock: FakeClock,
) -> None:
    pacer = Pacer(clock=clock)
    discord = SimulatedDiscord(clock, storm={A: 10})
    _drain(pacer, discord, clock, {A: 20, B: 20})
    assert len(discord.delivered) == 40
    assert discord.answered_429 == 10  # one per retry_after, never a burst
    a_times = [t for t, d in discord.delivered if d == A]
    b_times = [t for t, d in discord.delivered if d == B]
    assert a_times[0] >= 1000.0 + 10 * 5.0  # the storm's ten retry_afters were honoured
    assert b_times[-1] < a_times[0]  # B was never refused meanwhile


# --- Throttle: the documented limits of other services -----------------------------------------


def test_throttle_keeps_every_limit_of_a_request(clock: FakeClock) -> None:
    per_chat = RateLimit("telegram:chat:1", 1, 1.0)
    per_bot = RateLimit("telegram:bot", 3, 1.0)
    other_chat = RateLimit("telegram:chat:2", 1, 1.0)
    throttle = Throttle(clock=clock)
    assert throttle.next_send([per_chat, per_bot]) == clock.now
    throttle.started([per_chat, per_bot])
    assert throttle.next_send([per_chat, per_bot]) == clock.now + 1.0  # the chat's one a second
    throttle.started([other_chat, per_bot])
    throttle.started([RateLimit("telegram:chat:3", 1, 1.0), per_bot])
    # the bot's three a second are spent: a fourth chat waits for the bot, not for itself
    assert throttle.next_send([RateLimit("telegram:chat:4", 1, 1.0), per_bot]) == clock.now + 1.0
    clock.advance(1.0)
    assert throttle.next_send([per_chat, per_bot]) == clock.now


def test_throttle_hold_after_a_429_holds_every_key(clock: FakeClock) -> None:
    limit = RateLimit("slack:hook", 1, 1.0)
    throttle = Throttle(clock=clock)
    throttle.hold([limit], 30.0)
    assert throttle.next_send([limit]) == clock.now + 30.0
    throttle.hold([limit], math.inf)  # nonsense hints change nothing
    throttle.hold([limit], -1)
    assert throttle.next_send([limit]) == clock.now + 30.0


def test_rate_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimit("x", 0, 1.0)
    with pytest.raises(ValueError):
        RateLimit("x", 1, 0.0)


def test_a_429_leaves_limits_that_are_not_held_alone(clock: FakeClock) -> None:
    chat = RateLimit("telegram:chat:1", 1, 1.0)
    bot = RateLimit("telegram:bot", 30, 1.0, held=False)
    throttle = Throttle(clock=clock)
    throttle.hold([chat, bot], 35.0)
    assert throttle.next_send([chat, bot]) == clock.now + 35.0
    assert throttle.next_send([RateLimit("telegram:chat:2", 1, 1.0), bot]) == clock.now
