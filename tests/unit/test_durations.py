"""Durations as people read them: at most two units, largest first."""

from __future__ import annotations

import pytest

from rollouts.durations import human


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        pytest.param(0, "0 s", id="zero"),
        pytest.param(1, "1 s", id="one-second"),
        pytest.param(45, "45 s", id="seconds"),
        pytest.param(59.9, "59 s", id="rounded-down"),
        pytest.param(60, "1 min", id="one-minute"),
        pytest.param(90, "1 min 30 s", id="minute-and-seconds"),
        pytest.param(300, "5 min", id="canary-bake"),
        pytest.param(1800, "30 min", id="half-hour"),
        pytest.param(3600, "1 h", id="one-hour"),
        pytest.param(3605, "1 h", id="no-skipped-unit"),
        pytest.param(3661, "1 h 1 min", id="two-units-at-most"),
        pytest.param(5400, "1 h 30 min", id="hour-and-a-half"),
        pytest.param(86_400, "1 day", id="one-day"),
        pytest.param(90_000, "1 day 1 h", id="day-and-hour"),
        pytest.param(172_800, "2 days", id="days-plural"),
        pytest.param(172_800 * 90, "180 days", id="many-days"),
        pytest.param(-5, "0 s", id="negative-is-zero"),
    ],
)
def test_human(seconds: float, shown: str) -> None:
    assert human(seconds) == shown
