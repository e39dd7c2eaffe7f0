import pytest

from rollouts.errors import ValidationError
from rollouts.plan import (
    DEFAULT_CHECK_INTERVAL_SECONDS,
    HISTORY_EVENT_LIMIT,
    HISTORY_EVENTS_FIXED,
    HISTORY_EVENTS_PER_CHECK,
    HISTORY_EVENTS_PER_SHIFT,
    HISTORY_HEADROOM,
    Step,
    check_interval_for,
    checks_for,
    estimate_history_events,
    history_budget,
    min_check_interval,
    plan,
    total_bake_seconds,
)
from rollouts.strategy import parse_strategy


def steps_of(name: str) -> tuple[Step, ...]:
    return plan(parse_strategy(name))


def linear(percent: int, bake: int) -> tuple[Step, ...]:
    return tuple(Step(w, bake) for w in range(percent, 100, percent))


def test_constants() -> None:
    assert (HISTORY_EVENT_LIMIT, HISTORY_EVENTS_FIXED) == (25_000, 60)
    assert (HISTORY_EVENTS_PER_SHIFT, HISTORY_EVENTS_PER_CHECK) == (7, 13)
    assert (HISTORY_HEADROOM, DEFAULT_CHECK_INTERVAL_SECONDS) == (0.8, 300)
    assert history_budget() == 20_000


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("Canary10Percent5Minutes", (Step(10, 300),), id="canary-10-5-minutes"),
        pytest.param("Canary10Percent10Minutes", (Step(10, 600),), id="canary-10-10-minutes"),
        pytest.param("Canary10Percent15Minutes", (Step(10, 900),), id="canary-10-15-minutes"),
        pytest.param("Canary10Percent30Minutes", (Step(10, 1800),), id="canary-10-30-minutes"),
        pytest.param(
            "Linear10PercentEvery1Minute",
            (
                Step(10, 60), Step(20, 60), Step(30, 60), Step(40, 60), Step(50, 60),
                Step(60, 60), Step(70, 60), Step(80, 60), Step(90, 60),
            ),
            id="linear-10-every-1-minute",
        ),
        pytest.param(
            "Linear10PercentEvery2Minutes",
            (
                Step(10, 120), Step(20, 120), Step(30, 120), Step(40, 120), Step(50, 120),
                Step(60, 120), Step(70, 120), Step(80, 120), Step(90, 120),
            ),
            id="linear-10-every-2-minutes",
        ),
        pytest.param(
            "Linear10PercentEvery3Minutes",
            (
                Step(10, 180), Step(20, 180), Step(30, 180), Step(40, 180), Step(50, 180),
                Step(60, 180), Step(70, 180), Step(80, 180), Step(90, 180),
            ),
            id="linear-10-every-3-minutes",
        ),
        pytest.param(
            "Linear10PercentEvery10Minutes",
            (
                Step(10, 600), Step(20, 600), Step(30, 600), Step(40, 600), Step(50, 600),
                Step(60, 600), Step(70, 600), Step(80, 600), Step(90, 600),
            ),
            id="linear-10-every-10-minutes",
        ),
        pytest.param("AllAtOnce", (), id="all-at-once"),
        pytest.param("CodeDeployDefault.LambdaCanary10Percent5Minutes", (Step(10, 300),),
                     id="prefixed-canary"),
        pytest.param("Canary99Percent1Minute", (Step(99, 60),), id="canary-99-1-minute"),
        pytest.param("Linear30PercentEvery1Minute", (Step(30, 60), Step(60, 60), Step(90, 60)),
                     id="linear-30-stops-below-100"),
        pytest.param("Linear50PercentEvery2Minutes", (Step(50, 120),),
                     id="linear-50-is-one-step"),
        pytest.param("Linear33PercentEvery1Minute", (Step(33, 60), Step(66, 60), Step(99, 60)),
                     id="linear-33-reaches-99"),
        pytest.param("Linear51PercentEvery1Minute", (Step(51, 60),), id="linear-over-half"),
        pytest.param("Linear99PercentEvery5Minutes", (Step(99, 300),), id="linear-99"),
        pytest.param("Linear1PercentEvery1Minute", linear(1, 60), id="linear-1-is-99-steps"),
    ],
)  # fmt: skip
def test_plan(name: str, expected: tuple[Step, ...]) -> None:
    assert steps_of(name) == expected


def test_plan_of_explicit_steps_is_the_steps() -> None:
    strategy = parse_strategy(
        {"steps": [{"weight": 5, "bakeSeconds": 300}, {"weight": 50, "bakeSeconds": 0}]}
    )

    assert plan(strategy) == (Step(5, 300), Step(50, 0))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("AllAtOnce", 0, id="all-at-once"),
        pytest.param("Canary10Percent5Minutes", 300, id="canary"),
        pytest.param("Linear10PercentEvery1Minute", 540, id="linear-10-every-1-minute"),
        pytest.param("Linear10PercentEvery10Minutes", 5400, id="linear-10-every-10-minutes"),
    ],
)
def test_total_bake_seconds(name: str, expected: int) -> None:
    assert total_bake_seconds(steps_of(name)) == expected


@pytest.mark.parametrize(
    ("steps", "interval", "checks"),
    [
        pytest.param((), 60, 0, id="no-steps"),
        pytest.param((Step(10, 0),), 60, 0, id="bake-0-needs-no-check"),
        pytest.param((Step(10, 300),), 60, 5, id="exact-multiple"),
        pytest.param((Step(10, 90),), 60, 2, id="remainder-needs-one-more"),
        pytest.param((Step(10, 30),), 60, 1, id="interval-longer-than-bake"),
        pytest.param((Step(10, 300),), 1, 300, id="every-second"),
        pytest.param(linear(10, 60), 60, 9, id="linear-10-every-1-minute"),
        pytest.param(linear(10, 60), 25, 27, id="linear-10-every-1-minute-at-25s"),
    ],
)
def test_checks_for(steps: tuple[Step, ...], interval: int, checks: int) -> None:
    assert checks_for(steps, interval) == checks


@pytest.mark.parametrize("interval", [pytest.param(0, id="zero"), pytest.param(-1, id="negative")])
def test_checks_for_needs_a_positive_interval(interval: int) -> None:
    with pytest.raises(ValueError, match="interval must be a whole number of seconds >= 1"):
        checks_for((Step(10, 60),), interval)


@pytest.mark.parametrize(
    ("steps", "interval", "events"),
    [
        pytest.param((), 60, 60, id="all-at-once"),
        pytest.param((Step(10, 300),), 60, 60 + 7 + 13 * 5, id="canary-10-5-minutes"),
        pytest.param(linear(10, 60), 60, 60 + 7 * 9 + 13 * 9, id="linear-10-every-1-minute"),
        pytest.param(linear(1, 60), 60, 2040, id="linear-1-every-1-minute"),
        pytest.param(
            linear(1, 60), 5, 60 + 7 * 99 + 13 * 99 * 12, id="linear-1-every-1-minute-at-5s"
        ),
        pytest.param(linear(1, 60), 2, 39_363, id="linear-1-every-1-minute-at-2s"),
        pytest.param(linear(1, 60), 1, 77_973, id="linear-1-every-1-minute-at-1s"),
    ],
)
def test_estimate_history_events(steps: tuple[Step, ...], interval: int, events: int) -> None:
    assert estimate_history_events(steps, interval) == events


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("AllAtOnce", 1, id="no-bake-fits-at-once"),
        pytest.param("Canary10Percent5Minutes", 1, id="canary-fits-every-second"),
        pytest.param("Linear1PercentEvery1Minute", 5, id="linear-1-every-1-minute"),
        pytest.param("Linear1PercentEvery60Minutes", 258, id="linear-1-every-hour"),
        pytest.param("Linear1PercentEvery2000Minutes", None, id="too-long-even-hourly"),
    ],
)
def test_min_check_interval(name: str, expected: int | None) -> None:
    assert min_check_interval(steps_of(name)) == expected


@pytest.mark.parametrize(
    ("name", "requested", "expected"),
    [
        pytest.param("Canary10Percent5Minutes", None, 300, id="default"),
        pytest.param("AllAtOnce", None, 300, id="default-without-steps"),
        pytest.param("Canary10Percent5Minutes", 1, 1, id="requested-1s-fits"),
        pytest.param("Canary10Percent5Minutes", 3600, 3600, id="requested-hour"),
        pytest.param(
            "Linear1PercentEvery1Minute", None, 300, id="99-short-steps-fit-at-the-default"
        ),
        pytest.param("Linear1PercentEvery1Minute", 5, 5, id="requested-minimum-fits"),
        # 99 two-hour steps checked every 300 s would need 31,641 events: widened to 515 s.
        pytest.param("Linear1PercentEvery120Minutes", None, 515, id="default-widened"),
        pytest.param(
            "Canary10Percent2880Minutes", None, 300, id="two-day-canary-fits-at-the-default"
        ),
        pytest.param("Linear1PercentEvery700Minutes", None, 3000, id="widened-near-an-hour"),
        pytest.param("Linear1PercentEvery60Minutes", 258, 258, id="requested-minimum"),
    ],
)
def test_check_interval_for(name: str, requested: int | None, expected: int) -> None:
    assert check_interval_for(steps_of(name), requested) == expected


OVER = "over the 20,000 allowed (Step Functions' limit of 25,000, less 20% kept for retries)"


@pytest.mark.parametrize(
    ("name", "requested", "field", "message"),
    [
        pytest.param(
            "Linear1PercentEvery1Minute", 1, "checkIntervalSeconds",
            f"checking every 1 s would need about 77,973 history events, {OVER}; "
            "use at least 5 seconds",
            id="linear-1-every-1-minute-at-1s",
        ),
        pytest.param(
            "Linear1PercentEvery1Minute", 2, "checkIntervalSeconds",
            f"checking every 2 s would need about 39,363 history events, {OVER}; "
            "use at least 5 seconds",
            id="linear-1-every-1-minute-at-2s",
        ),
        pytest.param(
            "Linear1PercentEvery60Minutes", 257, "checkIntervalSeconds",
            f"checking every 257 s would need about 20,058 history events, {OVER}; "
            "use at least 258 seconds",
            id="one-below-the-minimum",
        ),
        pytest.param(
            "Linear1PercentEvery2000Minutes", None, "strategy",
            f"99 steps baking 11880000 s would need about 44,511 history events even "
            f"checking every 3600 s, {OVER}; use fewer steps or shorter bakes",
            id="too-long-even-hourly",
        ),
        pytest.param(
            "Linear1PercentEvery2000Minutes", 60, "strategy",
            f"99 steps baking 11880000 s would need about 44,511 history events even "
            f"checking every 3600 s, {OVER}; use fewer steps or shorter bakes",
            id="too-long-with-a-requested-interval",
        ),
        pytest.param(
            "Canary10Percent5Minutes", 0, "checkIntervalSeconds",
            "must be a whole number of seconds between 1 and 3600, not 0",
            id="requested-zero",
        ),
        pytest.param(
            "Canary10Percent5Minutes", 3601, "checkIntervalSeconds",
            "must be a whole number of seconds between 1 and 3600, not 3601",
            id="requested-over-an-hour",
        ),
        pytest.param(
            "Canary10Percent5Minutes", True, "checkIntervalSeconds",
            "must be a whole number of seconds between 1 and 3600, not True",
            id="requested-bool",
        ),
    ],
)  # fmt: skip
def test_check_interval_for_refuses(
    name: str, requested: int | None, field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        check_interval_for(steps_of(name), requested)

    assert caught.value.errors == ((field, message),)
