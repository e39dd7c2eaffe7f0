"""The pure rules every task follows: is the alias still ours, what an ending does, and
the decision before the first shift and after promotion. One named row per case."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rollouts.decision import (
    Action,
    Cleanup,
    Health,
    Progress,
    Routing,
    decide,
    decide_cleanup,
    owns,
)
from rollouts.strategy import Step

NOW = datetime(2026, 12, 1, tzinfo=UTC)
BASELINE = Routing.of("1")
TEN = Routing.of("1", {"2": 10})
FIFTY = Routing.of("1", {"2": 50})
TARGET = Routing.of("2")
HOTFIX = Routing.of("3")


@pytest.mark.parametrize(
    ("expected", "pending", "current", "ours"),
    [
        pytest.param(TEN, None, TEN, True, id="as-left"),
        pytest.param(TEN, None, Routing.of("1", {"2": 10}), True, id="re-saved-same-routing"),
        pytest.param(TEN, FIFTY, FIFTY, True, id="announced-write-landed-answer-lost"),
        pytest.param(TEN, FIFTY, TEN, True, id="announced-write-never-landed"),
        pytest.param(TEN, None, HOTFIX, False, id="repointed-by-hand"),
        pytest.param(TEN, None, Routing.of("1", {"3": 10}), False, id="other-version-weighted"),
        pytest.param(TEN, None, None, False, id="deleted"),
        pytest.param(None, None, None, True, id="first-deploy-not-yet-created"),
        pytest.param(None, TARGET, TARGET, True, id="first-deploy-created-answer-lost"),
        pytest.param(None, None, TARGET, False, id="first-deploy-created-by-someone-else"),
    ],
)
def test_owns(
    expected: Routing | None, pending: Routing | None, current: Routing | None, ours: bool
) -> None:
    assert owns(expected, pending, current) is ours


def cleanup(**overrides: object) -> Cleanup:
    inputs: dict[str, object] = {
        "expected": TEN,
        "pending": None,
        "current": TEN,
        "first_deploy": False,
        "drift_reported": False,
        "lock_taken_by_other": False,
        "baseline": BASELINE,
        "fence": True,
    }
    inputs.update(overrides)
    return decide_cleanup(**inputs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({}, Cleanup.RESTORE, id="split-restored"),
        pytest.param({"expected": TARGET, "current": TARGET}, Cleanup.RESTORE, id="promoted"),
        pytest.param(
            {"expected": BASELINE, "current": BASELINE},
            Cleanup.RESTORE,
            id="nothing-moved-fenced-renews-revision",
        ),
        pytest.param(
            {"expected": BASELINE, "current": BASELINE, "fence": False},
            Cleanup.NOTHING,
            id="nothing-moved-no-task-running",
        ),
        pytest.param({"current": HOTFIX}, Cleanup.LEAVE, id="someone-elses-change"),
        pytest.param({"current": None}, Cleanup.LEAVE, id="deleted-by-someone"),
        pytest.param({"lock_taken_by_other": True}, Cleanup.LEAVE, id="another-rollout-holds-it"),
        pytest.param({"drift_reported": True}, Cleanup.LEAVE, id="drift-already-reported"),
        pytest.param(
            {"first_deploy": True, "expected": None, "current": None, "baseline": None},
            Cleanup.NOTHING,
            id="first-deploy-never-created",
        ),
        pytest.param(
            {"first_deploy": True, "expected": TARGET, "current": TARGET, "baseline": None},
            Cleanup.DELETE,
            id="first-deploy-created",
        ),
        pytest.param(
            {"first_deploy": True, "expected": None, "pending": TARGET, "current": TARGET},
            Cleanup.DELETE,
            id="first-deploy-created-late",
        ),
    ],
)
def test_decide_cleanup(overrides: dict[str, object], expected: Cleanup) -> None:
    assert cleanup(**overrides) == expected


CANARY = (Step(10, 300),)


@pytest.mark.parametrize(
    ("progress", "health", "action", "reason"),
    [
        pytest.param(
            Progress.start(CANARY, 60),
            Health(abort_reason="aborted by alice: bad build"),
            Action.ROLL_BACK,
            "aborted by alice: bad build before any traffic moved",
            id="abort-before-the-first-shift",
        ),
        pytest.param(
            Progress.start((), 60),
            Health(alarms_firing=("errors",)),
            Action.ROLL_BACK,
            "alarm errors is in ALARM before any traffic moved",
            id="alarm-before-all-at-once",
        ),
        pytest.param(
            Progress(CANARY, 0, 0, 60),
            Health(alarms_missing=("errors",)),
            Action.ROLL_BACK,
            "alarm errors no longer exists, so health cannot be judged"
            " at step 1 of 1 (10% on the target)",
            id="alarm-deleted-mid-bake",
        ),
        pytest.param(
            Progress(CANARY, 0, 300, 60, promoted=True),
            Health(),
            Action.FINISH,
            None,
            id="promoted-and-healthy-finishes",
        ),
        pytest.param(
            Progress(CANARY, 0, 300, 60, promoted=True),
            Health(abort_reason="aborted by bob: errors at 100%"),
            Action.ROLL_BACK,
            "aborted by bob: errors at 100% after promotion (100% on the target)",
            id="abort-after-promotion",
        ),
        pytest.param(
            Progress(CANARY, 0, 300, 60, promoted=True),
            Health(drift="alias live now routes version 3"),
            Action.STOP_ON_DRIFT,
            "alias live now routes version 3 after promotion (100% on the target)",
            id="repointed-after-promotion",
        ),
    ],
)
def test_decide_before_the_first_shift_and_after_promotion(
    progress: Progress, health: Health, action: Action, reason: str | None
) -> None:
    decision = decide(progress, health, NOW)

    assert (decision.action, decision.reason) == (action, reason)


@pytest.mark.parametrize(
    ("error", "fenced"),
    [
        pytest.param("States.Timeout", True, id="step-functions-stopped-waiting"),
        pytest.param("Lambda.SdkClientException", True, id="invocation-answer-lost"),
        pytest.param("Lambda.ServiceException", True, id="lambda-service-failed"),
        pytest.param("HookFailedError", False, id="our-task-raised"),
        pytest.param("TransientError", False, id="our-task-raised-after-retries"),
        pytest.param(None, False, id="decided-rollback"),
    ],
)
def test_a_rollback_fences_when_the_failed_task_may_still_run(
    error: str | None, fenced: bool
) -> None:
    from rollouts.tasks import may_still_run

    assert may_still_run({"Error": error} if error else None) is fenced
