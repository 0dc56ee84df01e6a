"""Session pins: TTL from insertion, LRU cap, key sources in order (SPEC §4.5); the clock is injected."""

from __future__ import annotations

from plano_daemon.routing.affinity import SessionPins, affinity_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_pin_is_returned_until_the_ttl_from_insertion_expires():
    clock = Clock()
    pins = SessionPins(ttl=600, max_entries=10, clock=clock)
    pins.put("s1", model="anthropic/claude", route="code_generation", models=["anthropic/claude", "openai/gpt-4o"])
    clock.now += 599
    pin = pins.get("s1")
    assert pin is not None and pin.model == "anthropic/claude" and pin.models == ("anthropic/claude", "openai/gpt-4o")
    clock.now += 1  # reading it did not extend it: TTL counts from insertion
    assert pins.get("s1") is None
    assert len(pins) == 0


def test_the_least_recently_used_pin_goes_first_when_full():
    pins = SessionPins(ttl=600, max_entries=2, clock=Clock())
    pins.put("a", model="m1", route="r")
    pins.put("b", model="m2", route="r")
    assert pins.get("a") is not None  # a is now more recent than b
    pins.put("c", model="m3", route="r")
    assert pins.get("b") is None
    assert pins.get("a") is not None and pins.get("c") is not None


def test_configure_applies_a_smaller_cap_at_once():
    pins = SessionPins(ttl=600, max_entries=5, clock=Clock())
    for key in "abcde":
        pins.put(key, model="m", route=None)
    pins.configure(ttl=600, max_entries=2)
    assert len(pins) == 2 and pins.get("e") is not None and pins.get("a") is None


def test_key_sources_follow_the_profile_order():
    headers = {"X-Model-Affinity": "explicit", "X-Session-Id": "session", "X-Anthesis-Execution-Id": "exec"}
    assert affinity_key(headers) == "exec"
    assert affinity_key({"X-Model-Affinity": "explicit", "X-Session-Id": "session"}) == "session"
    assert affinity_key({"X-Model-Affinity": " explicit "}) == "explicit"
    assert affinity_key({"X-Model-Affinity": "  "}) is None
    assert affinity_key({}) is None
    assert affinity_key(headers, ["X-Model-Affinity"]) == "explicit"
