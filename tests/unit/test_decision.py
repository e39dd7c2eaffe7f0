from datetime import UTC, datetime, timedelta, timezone

import pytest

from rollouts.decision import Action, Decision, Health, Progress, decide, describe
from rollouts.plan import Step

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

CANARY = (Step(10, 300),)
THREE = (Step(10, 300), Step(20, 300), Step(50, 600))
NO_BAKE = (Step(10, 0), Step(50, 0))
HEALTHY = Health()


def at(steps: tuple[Step, ...], index: int, baked: int = 0, interval: int = 60) -> Progress:
    return Progress(steps, index, baked, interval)


def made(action: Action, index: int, wait: int = 0, reason: str | None = None) -> Decision:
    return Decision(
        action=action, step_index=index, decided_at=NOW, wait_seconds=wait, reason=reason
    )


@pytest.mark.parametrize(
    ("progress", "health", "expected"),
    [
        # Drift wins over everything: someone else owns the alias now.
        pytest.param(
            at(THREE, 1, 120),
            Health(
                alarms_firing=("orders-api-errors",),
                abort_reason="aborted by alice: bad latency",
                drift="alias live points at version 9, expected 6 with 20% on 7",
            ),
            made(
                Action.STOP_ON_DRIFT,
                1,
                reason="alias live points at version 9, expected 6 with 20% on 7 "
                "at step 2 of 3 (20% on the target)",
            ),
            id="drift-wins-over-abort-and-alarms",
        ),
        pytest.param(
            at(THREE, -1),
            Health(drift="alias live was deleted"),
            made(
                Action.STOP_ON_DRIFT, -1, reason="alias live was deleted before any traffic moved"
            ),
            id="drift-before-first-shift",
        ),
        pytest.param(
            at(THREE, 1, 120),
            Health(alarms_firing=("orders-api-errors",), abort_reason="aborted by alice: slow"),
            made(
                Action.ROLL_BACK,
                1,
                reason="aborted by alice: slow at step 2 of 3 (20% on the target)",
            ),
            id="abort-wins-over-alarms",
        ),
        pytest.param(
            at(THREE, -1),
            Health(abort_reason="aborted by bob"),
            made(Action.ROLL_BACK, -1, reason="aborted by bob before any traffic moved"),
            id="abort-before-first-shift",
        ),
        pytest.param(
            at(CANARY, 0, 120),
            Health(alarms_firing=("orders-api-errors",)),
            made(
                Action.ROLL_BACK,
                0,
                reason="alarm orders-api-errors is in ALARM at step 1 of 1 (10% on the target)",
            ),
            id="one-alarm",
        ),
        pytest.param(
            at(THREE, 2, 600),
            Health(alarms_firing=("orders-api-errors", "orders-api-latency")),
            made(
                Action.ROLL_BACK,
                2,
                reason="alarms orders-api-errors, orders-api-latency are in ALARM "
                "at step 3 of 3 (50% on the target)",
            ),
            id="two-alarms-even-when-bake-is-done",
        ),
        pytest.param(
            at(THREE, -1),
            Health(alarms_firing=("orders-api-errors",)),
            made(
                Action.ROLL_BACK,
                -1,
                reason="alarm orders-api-errors is in ALARM before any traffic moved",
            ),
            id="alarm-before-first-shift",
        ),
        pytest.param(at(THREE, -1), HEALTHY, made(Action.SHIFT, 0), id="first-shift"),
        pytest.param(at((), -1), HEALTHY, made(Action.PROMOTE, -1), id="all-at-once-promotes"),
        pytest.param(
            at(CANARY, 0, 0), HEALTHY, made(Action.BAKE, 0, wait=60), id="bake-just-started"
        ),
        pytest.param(
            at(CANARY, 0, 120), HEALTHY, made(Action.BAKE, 0, wait=60), id="bake-in-progress"
        ),
        pytest.param(
            at(CANARY, 0, 270), HEALTHY, made(Action.BAKE, 0, wait=30), id="bake-remainder"
        ),
        pytest.param(
            at(CANARY, 0, 0, interval=600),
            HEALTHY,
            made(Action.BAKE, 0, wait=300),
            id="interval-longer-than-bake",
        ),
        pytest.param(
            at(CANARY, 0, 299, interval=1),
            HEALTHY,
            made(Action.BAKE, 0, wait=1),
            id="one-second-left",
        ),
        pytest.param(at(THREE, 0, 300), HEALTHY, made(Action.SHIFT, 1), id="baked-shift-next"),
        pytest.param(at(THREE, 1, 360), HEALTHY, made(Action.SHIFT, 2), id="over-baked-shift-next"),
        pytest.param(at(THREE, 2, 600), HEALTHY, made(Action.PROMOTE, 2), id="last-step-baked"),
        pytest.param(at(CANARY, 0, 300), HEALTHY, made(Action.PROMOTE, 0), id="canary-baked"),
        pytest.param(at(NO_BAKE, 0, 0), HEALTHY, made(Action.SHIFT, 1), id="bake-0-shifts-on"),
        pytest.param(
            at(NO_BAKE, 1, 0), HEALTHY, made(Action.PROMOTE, 1), id="bake-0-last-promotes"
        ),
    ],
)
def test_decide(progress: Progress, health: Health, expected: Decision) -> None:
    assert decide(progress, health, NOW) == expected


def test_decide_records_now_with_its_zone() -> None:
    now = datetime(2025, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))

    assert decide(at(THREE, -1), HEALTHY, now).decided_at is now


def test_decide_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(at(THREE, -1), HEALTHY, datetime(2025, 3, 1, 12, 0))


def test_a_whole_canary_rollout() -> None:
    """Walk Canary10Percent5Minutes at a 120 s interval from start to promotion."""
    progress = Progress.start(CANARY, 120)
    actions: list[tuple[Action, int, int]] = []
    while True:
        decision = decide(progress, HEALTHY, NOW)
        actions.append((decision.action, decision.step_index, decision.wait_seconds))
        if decision.action is Action.SHIFT:
            progress = progress.at_step(decision.step_index)
        elif decision.action is Action.BAKE:
            progress = progress.after_wait(decision.wait_seconds)
        else:
            break

    assert actions == [
        (Action.SHIFT, 0, 0),
        (Action.BAKE, 0, 120),
        (Action.BAKE, 0, 120),
        (Action.BAKE, 0, 60),
        (Action.PROMOTE, 0, 0),
    ]


def test_progress_moves() -> None:
    progress = Progress.start(THREE, 60)

    assert progress == Progress(THREE, -1, 0, 60)
    assert progress.weight == 0
    assert progress.at_step(1).after_wait(60).after_wait(30) == Progress(THREE, 1, 90, 60)
    assert progress.at_step(1).after_wait(60).at_step(2) == Progress(THREE, 2, 0, 60)
    assert progress.at_step(2).weight == 50


@pytest.mark.parametrize(
    ("steps", "index", "baked", "interval", "message"),
    [
        pytest.param(THREE, 3, 0, 60, "step_index must be between -1 and 2, not 3", id="past-end"),
        pytest.param(THREE, -2, 0, 60, "step_index must be between -1 and 2, not -2",
                     id="before-start"),
        pytest.param((), 0, 0, 60, "step_index must be between -1 and -1, not 0",
                     id="no-steps"),
        pytest.param(THREE, 0, -1, 60, "baked_seconds must be >= 0, not -1", id="negative-bake"),
        pytest.param(THREE, 0, 0, 0, "check_interval_seconds must be >= 1, not 0",
                     id="zero-interval"),
    ],
)  # fmt: skip
def test_progress_refuses_impossible_states(
    steps: tuple[Step, ...], index: int, baked: int, interval: int, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        Progress(steps, index, baked, interval)

    assert str(caught.value) == message


def test_after_wait_refuses_negative_time() -> None:
    with pytest.raises(ValueError, match="seconds must be >= 0, not -5"):
        Progress.start(THREE, 60).after_wait(-5)


@pytest.mark.parametrize(
    ("progress", "health", "summary"),
    [
        pytest.param(at(THREE, -1), HEALTHY, "shifting to step 1 of 3: 10% on the target for 5 min",
                     id="shift"),
        pytest.param(at(CANARY, 0, 120), HEALTHY,
                     "baking step 1 of 1 at 10%: 2 min of 5 min, next check in 1 min", id="bake"),
        pytest.param(at(THREE, 2, 600), HEALTHY,
                     "promoting: 100% on the target after step 3 of 3", id="promote"),
        pytest.param(at((), -1), HEALTHY, "promoting: 100% on the target (all at once)",
                     id="promote-all-at-once"),
        pytest.param(at(CANARY, 0, 10), Health(alarms_firing=("errors",)),
                     "rolling back: alarm errors is in ALARM at step 1 of 1 (10% on the target)",
                     id="roll-back"),
        pytest.param(at(CANARY, 0, 10), Health(drift="alias live points at version 9"),
                     "stopping on drift, alias left as found: alias live points at version 9 "
                     "at step 1 of 1 (10% on the target)", id="drift"),
    ],
)  # fmt: skip
def test_describe(progress: Progress, health: Health, summary: str) -> None:
    assert describe(decide(progress, health, NOW), progress) == summary


def test_action_values() -> None:
    # The values NextAction, PromotionOutcome? and FinishOutcome? route on.
    assert [a.value for a in Action] == ["shift", "bake", "promote", "finish", "rollback", "drift"]
