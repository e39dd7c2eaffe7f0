"""Property tests (hypothesis) of the pure decision and the ownership rule.

For any sequence of observations: nothing moves traffic while an abort, a firing
(or missing) alarm or drift is observed; every rollout reaches an end; and no
end leaves a split that the rollout made.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

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
MOVES = {Action.SHIFT, Action.PROMOTE, Action.BAKE, Action.FINISH}

steps_strategy = st.lists(
    st.tuples(st.integers(1, 99), st.integers(0, 3_600)), min_size=0, max_size=6
).map(
    lambda raw: tuple(
        Step(weight, bake)
        for weight, bake in sorted({w: b for w, b in raw}.items())  # strictly increasing
    )
)
health_strategy = st.builds(
    Health,
    alarms_firing=st.lists(st.sampled_from(["errors", "latency"]), max_size=2).map(tuple),
    alarms_missing=st.lists(st.sampled_from(["gone"]), max_size=1).map(tuple),
    abort_reason=st.none() | st.just("aborted by alice: bad build"),
    drift=st.none() | st.just("alias live now routes version 9"),
    lock_lost=st.none() | st.just("this rollout no longer holds the lock on orders-api:live"),
)


def unhealthy(health: Health) -> bool:
    return bool(
        health.alarms_firing
        or health.alarms_missing
        or health.abort_reason
        or health.drift
        or health.lock_lost
    )


@settings(max_examples=300, deadline=None)
@given(
    steps=steps_strategy,
    interval=st.integers(30, 3_600),
    observations=st.lists(health_strategy, min_size=1, max_size=60),
)
def test_nothing_moves_while_anything_is_wrong_and_every_rollout_ends(
    steps: tuple[Step, ...], interval: int, observations: list[Health]
) -> None:
    progress = Progress.start(steps, interval)
    ended = None
    # After the observations given, all is well: at most 6 steps x 120 checks remain.
    for health in [*observations, *([Health()] * 1_000)]:
        decision = decide(progress, health, NOW)
        if unhealthy(health):
            assert decision.action not in MOVES, (progress, health, decision)
            expected = Action.STOP_ON_DRIFT if health.drift else Action.ROLL_BACK
            assert decision.action == expected
            assert decision.reason
            ended = decision.action
            break
        if decision.action == Action.SHIFT:
            assert decision.step_index == progress.step_index + 1
            progress = progress.at_step(decision.step_index)
        elif decision.action == Action.BAKE:
            assert 0 < decision.wait_seconds <= interval
            progress = progress.after_wait(decision.wait_seconds)
        elif decision.action == Action.PROMOTE:
            assert progress.step_index == len(steps) - 1
            progress = Progress(steps, progress.step_index, 0, interval, promoted=True)
        else:
            assert decision.action == Action.FINISH and progress.promoted
            ended = decision.action
            break
    assert ended is not None, "the rollout never ended"


routing_strategy = st.builds(
    Routing.of,
    st.sampled_from(["1", "2", "3"]),
    st.dictionaries(st.sampled_from(["2", "3"]), st.integers(1, 99), max_size=1),
)


@settings(max_examples=500, deadline=None)
@given(
    expected=st.none() | routing_strategy,
    pending=st.none() | routing_strategy,
    current=st.none() | routing_strategy,
    first_deploy=st.booleans(),
    drift_reported=st.booleans(),
    other=st.booleans(),
    fence=st.booleans(),
)
def test_no_ending_leaves_a_split_the_rollout_made(
    expected: Routing | None,
    pending: Routing | None,
    current: Routing | None,
    first_deploy: bool,
    drift_reported: bool,
    other: bool,
    fence: bool,
) -> None:
    baseline = Routing.of("1")
    action = decide_cleanup(
        expected=expected,
        pending=pending,
        current=current,
        first_deploy=first_deploy,
        drift_reported=drift_reported,
        lock_taken_by_other=other,
        baseline=None if first_deploy else baseline,
        fence=fence,
    )
    ours = current is not None and owns(expected, pending, current)
    # Someone else's alias (or an alias another rollout holds) is never touched, unless it
    # is on the baseline already (writing the baseline again moves no traffic).
    at_baseline = not first_deploy and current == baseline
    if other or drift_reported or (not ours and not at_baseline):
        assert action in (Cleanup.LEAVE, Cleanup.NOTHING)
        if current is not None:
            assert action == Cleanup.LEAVE
        return
    # The rollout's own alias ends at 100% on one version: the baseline, or none at all.
    after = {
        Cleanup.RESTORE: baseline,
        Cleanup.DELETE: None,
        Cleanup.NOTHING: current,
    }[action]
    assert after is None or after.extra == ()
    if first_deploy:
        assert action == Cleanup.DELETE
    else:
        assert after == baseline
        # With a task possibly still running, the RevisionId is always renewed.
        if fence:
            assert action == Cleanup.RESTORE


@given(current=routing_strategy, pending=st.none() | routing_strategy)
def test_a_revision_id_change_alone_is_never_drift(
    current: Routing, pending: Routing | None
) -> None:
    # owns() compares routings only: the same routing re-saved (a description edit) is ours.
    assert owns(current, pending, Routing.of(current.version, dict(current.extra)))
