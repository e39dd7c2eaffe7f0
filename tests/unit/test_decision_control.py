"""The decision with people in control: pauses, promotes, pause steps, and waking a bake."""

from datetime import UTC, datetime

import pytest

from rollouts.decision import (
    HOLD_CHECK_SECONDS,
    Action,
    Control,
    Decision,
    Health,
    Progress,
    alarms_firing,
    decide,
    describe,
    wake_reason,
)
from rollouts.plan import Step

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
THREE = (Step(10, 600), Step(20, 600), Step(50, 600))
# 10% for 10 min, then held at 10% until promoted, then 50% for 10 min.
GATED = (Step(10, 600), Step(10, 0, pause=True, until_promoted=True), Step(50, 600))
TIMED_PAUSE = (Step(10, 60), Step(10, 900, pause=True))
PAUSED = Control(paused="paused by alice: checking logs")
FIRING = Health(alarms_firing=("orders-api-errors",))


def at(steps: tuple[Step, ...], index: int, baked: int = 0, interval: int = 300) -> Progress:
    return Progress(steps, index, baked, interval)


def made(
    action: Action, index: int, wait: int = 0, reason: str | None = None, held: bool = False
) -> Decision:
    return Decision(
        action=action,
        step_index=index,
        decided_at=NOW,
        wait_seconds=wait,
        reason=reason,
        held=held,
    )


@pytest.mark.parametrize(
    ("progress", "health", "control", "expected"),
    [
        pytest.param(
            at(THREE, 0, 120),
            Health(),
            PAUSED,
            made(
                Action.BAKE,
                0,
                HOLD_CHECK_SECONDS,
                "paused by alice: checking logs at step 1 of 3 (10% on the target)",
                held=True,
            ),
            id="paused-holds-and-bakes-nothing",
        ),
        pytest.param(
            at(THREE, 0, 120, interval=3600),
            Health(),
            PAUSED,
            made(
                Action.BAKE,
                0,
                3600,
                "paused by alice: checking logs at step 1 of 3 (10% on the target)",
                held=True,
            ),
            id="a-hold-looks-every-check-interval-when-that-is-longer",
        ),
        pytest.param(
            at(THREE, 0, 120),
            FIRING,
            PAUSED,
            made(
                Action.ROLL_BACK,
                0,
                reason="alarm orders-api-errors is in ALARM at step 1 of 3 (10% on the target)",
            ),
            id="a-firing-alarm-rolls-back-a-paused-rollout",
        ),
        pytest.param(
            at(THREE, 0, 120),
            Health(abort_reason="aborted by bob: bad"),
            Control(promote_full=True),
            made(
                Action.ROLL_BACK, 0, reason="aborted by bob: bad at step 1 of 3 (10% on the target)"
            ),
            id="abort-wins-over-promote-full",
        ),
        pytest.param(
            at(THREE, -1),
            Health(),
            PAUSED,
            made(
                Action.BAKE,
                -1,
                HOLD_CHECK_SECONDS,
                "paused by alice: checking logs before any traffic moved",
                held=True,
            ),
            id="paused-before-the-first-shift-moves-nothing",
        ),
        pytest.param(
            at(THREE, 0, 120),
            Health(),
            Control(promote_step=0),
            made(Action.SHIFT, 1),
            id="promote-ends-the-bake-and-shifts-the-next-step",
        ),
        pytest.param(
            at(THREE, 2, 10),
            Health(),
            Control(promote_step=2),
            made(Action.PROMOTE, 2),
            id="promote-at-the-last-step-promotes",
        ),
        pytest.param(
            at(THREE, 1, 10),
            Health(),
            Control(promote_step=0),
            made(Action.BAKE, 1, 300),
            id="a-promote-of-an-earlier-step-moves-nothing-more",
        ),
        pytest.param(
            at(THREE, 0, 10),
            Health(),
            Control(promote_full=True),
            made(Action.PROMOTE, 0),
            id="promote-full-goes-to-100",
        ),
        pytest.param(
            at(GATED, 1, 0),
            Health(),
            Control(),
            made(
                Action.BAKE,
                1,
                HOLD_CHECK_SECONDS,
                "waiting for rollouts promote at step 2 of 3 (10% on the target)",
                held=True,
            ),
            id="a-pause-step-waits-until-promoted",
        ),
        pytest.param(
            at(GATED, 1, 0),
            Health(),
            Control(promote_step=1),
            made(Action.SHIFT, 2),
            id="a-pause-step-ends-on-promote",
        ),
        pytest.param(
            at(TIMED_PAUSE, 1, 600),
            Health(),
            Control(),
            made(Action.BAKE, 1, 300),
            id="a-timed-pause-bakes-its-seconds",
        ),
        pytest.param(
            at(TIMED_PAUSE, 1, 900),
            Health(),
            Control(),
            made(Action.PROMOTE, 1),
            id="a-timed-pause-ends-by-itself",
        ),
    ],
)
def test_decide_with_control(
    progress: Progress, health: Health, control: Control, expected: Decision
) -> None:
    assert decide(progress, health, NOW, control) == expected


@pytest.mark.parametrize(
    ("progress", "health", "control", "held", "expected"),
    [
        pytest.param(at(THREE, 0, 0), Health(), Control(), False, None, id="healthy-waits"),
        pytest.param(
            at(THREE, 0, 0),
            FIRING,
            Control(),
            False,
            "rolling back: alarm orders-api-errors is in ALARM at step 1 of 3 (10% on the target)",
            id="a-firing-alarm-ends-the-wait",
        ),
        pytest.param(
            at(THREE, 0, 0),
            Health(abort_reason="aborted by bob: no"),
            Control(),
            False,
            "rolling back: aborted by bob: no at step 1 of 3 (10% on the target)",
            id="an-abort-ends-the-wait",
        ),
        pytest.param(at(THREE, 0, 0), Health(), PAUSED, False, "paused", id="a-pause-ends-a-bake"),
        pytest.param(
            at(THREE, 0, 0), Health(), Control(), True, "resumed", id="a-resume-ends-a-hold"
        ),
        pytest.param(at(THREE, 0, 0), Health(), PAUSED, True, None, id="a-hold-stays-held"),
        pytest.param(
            at(THREE, 0, 0),
            Health(),
            Control(promote_step=0),
            False,
            "shifting to step 2 of 3: 20% on the target for 10 min",
            id="a-promote-ends-the-wait",
        ),
    ],
)
def test_wake_reason(
    progress: Progress, health: Health, control: Control, held: bool, expected: str | None
) -> None:
    assert wake_reason(progress, health, control, NOW, held=held) == expected


def test_describe_a_hold_in_human_units() -> None:
    progress = at(GATED, 1, 0)
    decision = decide(progress, Health(), NOW, Control())
    assert describe(decision, progress) == (
        "holding: waiting for rollouts promote at step 2 of 3 (10% on the target);"
        " next look in 15 min"
    )


def test_a_gated_rollout_from_start_to_promotion() -> None:
    """Bakes 10 min at 10%, holds until promoted, then 10 min at 50%, then promotes."""
    progress = Progress.start(GATED, 300)
    actions = []
    control = Control()
    for _ in range(20):
        decision = decide(progress, Health(), NOW, control)
        actions.append(decision.action.value)
        if decision.action == Action.SHIFT:
            progress = progress.at_step(decision.step_index)
        elif decision.action == Action.BAKE:
            progress = progress.after_wait(0 if decision.held else decision.wait_seconds)
            if decision.held:
                control = Control(promote_step=progress.step_index)  # someone promotes
        else:
            break
    assert actions == [
        "shift",
        "bake",
        "bake",
        "shift",
        "bake",
        "shift",
        "bake",
        "bake",
        "promote",
    ]


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        pytest.param({"a": "OK", "b": "OK"}, None, id="none-firing"),
        pytest.param({"a": "ALARM", "b": "OK"}, "alarm a is in ALARM", id="one"),
        pytest.param({"a": "ALARM", "b": "ALARM"}, "alarms a, b are in ALARM", id="two"),
        pytest.param({"a": "INSUFFICIENT_DATA"}, None, id="no-data-is-not-firing"),
        pytest.param({"c": "ALARM"}, None, id="an-alarm-not-watched"),
    ],
)
def test_alarms_firing_names_the_watched_alarms_in_alarm(
    states: dict[str, str], expected: str | None
) -> None:
    assert alarms_firing(("a", "b"), states) == expected
