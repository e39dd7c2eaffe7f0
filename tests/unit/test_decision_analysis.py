"""The analysis's verdict in the decision: a fail rolls back at once; a step whose bake
ended with no pass does what ``inconclusive`` says; everything else is as before."""

from datetime import UTC, datetime

import pytest

from rollouts.decision import (
    HOLD_CHECK_SECONDS,
    Action,
    Control,
    Decision,
    Health,
    Inconclusive,
    Judgement,
    Progress,
    decide,
    wake_reason,
)
from rollouts.plan import Step

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TWO = (Step(10, 600), Step(50, 600))
WORSE = "target 21.4% errors over 70 invocations vs baseline 0.0% over 630: worse at 99% confidence"
FEW = "target 12 invocations, fewer than the 50 needed"


def at(index: int, baked: int = 0, promoted: bool = False) -> Progress:
    return Progress(TWO, index, baked, 60, promoted=promoted)


def verdict(outcome: str, reason: str = FEW, then: Inconclusive = Inconclusive.PAUSE) -> Health:
    return Health(analysis=Judgement(outcome=outcome, reason=reason, inconclusive=then))


def made(action: Action, index: int, **more: object) -> Decision:
    return Decision(action=action, step_index=index, decided_at=NOW, **more)  # type: ignore[arg-type]


WHERE_1 = "at step 1 of 2 (10% on the target)"


@pytest.mark.parametrize(
    ("progress", "health", "control", "expected"),
    [
        pytest.param(
            at(0, 120),
            verdict("fail", WORSE),
            None,
            made(Action.ROLL_BACK, 0, reason=f"analysis failed {WHERE_1}: {WORSE}"),
            id="fail-mid-bake-rolls-back-at-once",
        ),
        pytest.param(
            at(0, 600),
            verdict("fail", WORSE, Inconclusive.CONTINUE),
            None,
            made(Action.ROLL_BACK, 0, reason=f"analysis failed {WHERE_1}: {WORSE}"),
            id="fail-rolls-back-whatever-inconclusive-says",
        ),
        pytest.param(
            at(0, 120),
            verdict("fail", WORSE),
            Control(promote_step=0),
            made(Action.ROLL_BACK, 0, reason=f"analysis failed {WHERE_1}: {WORSE}"),
            id="fail-beats-a-promote",
        ),
        pytest.param(
            at(0, 120),
            verdict("inconclusive"),
            None,
            made(Action.BAKE, 0, wait_seconds=60),
            id="inconclusive-mid-bake-bakes-on",
        ),
        pytest.param(
            at(0, 120),
            verdict("pass"),
            None,
            made(Action.BAKE, 0, wait_seconds=60),
            id="pass-bakes-its-time",
        ),
        pytest.param(
            at(0, 600), verdict("pass"), None, made(Action.SHIFT, 1), id="pass-after-bake-shifts"
        ),
        pytest.param(
            at(1, 600),
            verdict("pass"),
            None,
            made(Action.PROMOTE, 1),
            id="pass-after-last-promotes",
        ),
        pytest.param(
            at(0, 600),
            verdict("inconclusive"),
            None,
            made(
                Action.BAKE,
                0,
                wait_seconds=HOLD_CHECK_SECONDS,
                held=True,
                reason=f"analysis inconclusive {WHERE_1} after its bake: {FEW};"
                " holding until a verdict passes, or rollouts promote",
            ),
            id="inconclusive-after-bake-pauses",
        ),
        pytest.param(
            at(0, 600),
            verdict("inconclusive", then=Inconclusive.ROLL_BACK),
            None,
            made(
                Action.ROLL_BACK,
                0,
                reason=f"analysis inconclusive {WHERE_1} after its bake: {FEW}",
            ),
            id="inconclusive-after-bake-rolls-back",
        ),
        pytest.param(
            at(0, 600),
            verdict("inconclusive", then=Inconclusive.CONTINUE),
            None,
            made(Action.SHIFT, 1),
            id="inconclusive-after-bake-continues",
        ),
        pytest.param(
            at(0, 600),
            verdict("inconclusive"),
            Control(promote_step=0),
            made(Action.SHIFT, 1),
            id="a-promote-ends-an-inconclusive-hold",
        ),
        pytest.param(
            at(1, 600, promoted=True),
            verdict("fail", WORSE),
            None,
            made(Action.FINISH, 1),
            id="after-promotion-no-baseline-no-verdict-weighs",
        ),
        pytest.param(
            at(0, 600),
            Health(alarms_firing=("errors",), analysis=Judgement("pass", "fine")),
            None,
            made(Action.ROLL_BACK, 0, reason=f"alarm errors is in ALARM {WHERE_1}"),
            id="an-alarm-still-rolls-back-a-passing-step",
        ),
        pytest.param(at(0, 600), Health(), None, made(Action.SHIFT, 1), id="no-analysis-as-before"),
    ],
)
def test_decide_with_analysis(
    progress: Progress, health: Health, control: Control | None, expected: Decision
) -> None:
    assert decide(progress, health, NOW, control) == expected


def test_a_bake_held_for_an_inconclusive_verdict_is_not_woken_by_its_own_look() -> None:
    # The bake's first look sees the same verdict (the state's), so it keeps waiting:
    # a hold that woke itself at once would loop without end.
    assert wake_reason(at(0, 600), verdict("inconclusive"), Control(), NOW, held=True) is None


def test_a_bake_woken_by_a_failed_verdict_ends() -> None:
    assert wake_reason(at(0, 120), verdict("fail", WORSE), Control(), NOW, held=False) == (
        f"rolling back: analysis failed {WHERE_1}: {WORSE}"
    )
