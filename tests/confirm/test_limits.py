"""Tests for poolsniff.confirm.limits: one probe per endpoint per day, a cap per hour (clock given)."""

from __future__ import annotations

from poolsniff.confirm.limits import HOUR_S, MAX_PER_HOUR, PER_ENDPOINT_S, LimitState

T0 = 1_800_000_000.0


def test_one_probe_per_endpoint_per_day() -> None:
    state = LimitState()
    assert state.refusal("192.0.2.1:3333", T0) is None
    state.claim("192.0.2.1:3333", T0)
    state.record("192.0.2.1:3333", "mining (cryptonote-job)")
    why = state.refusal("192.0.2.1:3333", T0 + PER_ENDPOINT_S - 1)
    assert why is not None and "one probe per endpoint per day" in why and "mining (cryptonote-job)" in why
    assert state.refusal("192.0.2.2:3333", T0 + 1) is None
    assert state.refusal("192.0.2.1:3333", T0 + PER_ENDPOINT_S) is None


def test_the_hourly_cap_counts_every_endpoint() -> None:
    state = LimitState()
    for i in range(MAX_PER_HOUR):
        assert state.refusal(f"192.0.2.{i}:3333", T0 + i) is None
        state.claim(f"192.0.2.{i}:3333", T0 + i)
    why = state.refusal("198.51.100.1:3333", T0 + MAX_PER_HOUR)
    assert why is not None and "global cap" in why
    assert state.refusal("198.51.100.1:3333", T0 + HOUR_S) is None  # the first probe left the window


def test_state_survives_json_and_forgets_old_probes() -> None:
    state = LimitState()
    state.claim("192.0.2.1:3333", T0)
    state.record("192.0.2.1:3333", "not mining (SSH banner)")
    again = LimitState()
    again.load_json(state.to_json())
    assert again.seen == state.seen and again.recent == state.recent
    again.claim("192.0.2.9:1", T0 + PER_ENDPOINT_S)
    assert "192.0.2.1:3333" not in again.seen


def test_damaged_json_is_an_empty_state() -> None:
    for junk in (None, [], "x", {"seen": [1]}, {"seen": {"a": {"at": "x"}}, "recent": ["x", 1]}):
        state = LimitState()
        state.load_json(junk)
        assert state.seen == {}
        assert state.recent in ([], [1.0])
