"""RollBack / StopOnDrift (functions/roll_back), with the event the ASL sends.

Both states pass ``{"state.$": "$", "rolloutId.$": "$$.Execution.Name", "drift": ...}``:
the whole execution state, that is ``request`` (the execution input, as ReadRequest
keeps it) plus ``rollout`` (the last task output) and ``failure`` (a caught task
error), when they exist.
"""

from __future__ import annotations

from typing import Any


def execution_state(tasks: Any, rollout: dict[str, Any] | None, **more: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"request": dict(tasks.request())}
    if rollout is not None:
        state["rollout"] = rollout
    state.update(more)
    return state


def test_an_alarm_rollback_restores_the_baseline_records_why_and_releases_the_lock(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    aws.alarm("orders-api-errors", "OK")
    baking = tasks.shift(tasks.prepare(alarms=["orders-api-errors"]))
    aws.set_alarm("orders-api-errors", "ALARM")
    failing = tasks.check(baking)
    assert failing["action"] == "rollback"

    outcome = tasks.roll_back(execution_state(tasks, failing))

    assert aws.routing() == ("1", {})
    assert outcome["drifted"] is False
    assert outcome["status"] == "ROLLED_BACK"
    assert "orders-api-errors" in outcome["cause"]
    assert "to version 1" in outcome["cause"]
    record = aws.record("rollout-1")
    assert record["status"] == "ROLLED_BACK"
    assert "orders-api-errors" in record["reason"]
    assert "endedAt" in record
    assert aws.lock() is None


def test_a_caught_task_failure_is_the_reason(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    state = tasks.prepare()
    baking = tasks.shift(state)
    failure = tasks.failure("HookFailedError", "PostTraffic hook orders-api-post failed: 5xx")

    outcome = tasks.roll_back(execution_state(tasks, baking, failure=failure))

    assert aws.routing() == ("1", {})
    assert "PostTraffic hook orders-api-post failed: 5xx" in outcome["cause"]
    assert "PostTraffic hook orders-api-post failed: 5xx" in aws.record("rollout-1")["reason"]
    assert aws.lock() is None


def test_a_failure_before_any_shift_leaves_the_baseline_and_ends_rolled_back(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    state = tasks.prepare()
    failure = tasks.failure("HookFailedError", "PreTraffic hook orders-api-pre failed: no")

    outcome = tasks.roll_back(execution_state(tasks, state, failure=failure))

    assert aws.routing() == ("1", {})
    assert outcome["status"] == "ROLLED_BACK"
    assert aws.record("rollout-1")["status"] == "ROLLED_BACK"
    assert aws.lock() is None


def test_rolling_back_twice_is_safe(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    baking = tasks.shift(tasks.prepare())
    aws.request_abort("rollout-1", by="alice", reason="stop")
    failing = tasks.check(baking)
    event_state = execution_state(tasks, failing)

    first = tasks.roll_back(event_state)
    again = tasks.roll_back(event_state)

    assert again == first
    assert aws.routing() == ("1", {})
    assert aws.record("rollout-1")["status"] == "ROLLED_BACK"
    assert aws.lock() is None


def test_stop_on_drift_leaves_the_alias_as_found_and_records_drifted(aws, tasks):
    aws.function(versions=3)
    aws.create_alias("1")
    baking = tasks.shift(tasks.prepare())
    aws.recreate_alias("3")
    drifted = tasks.check(baking)
    assert drifted["action"] == "drift"

    outcome = tasks.roll_back(execution_state(tasks, drifted), drift=True)

    assert aws.routing() == ("3", {})
    assert outcome["drifted"] is True
    assert outcome["status"] == "DRIFTED"
    assert "left as found" in outcome["cause"]
    record = aws.record("rollout-1")
    assert record["status"] == "DRIFTED"
    assert "version 3" in record["reason"]
    assert aws.lock() is None


def test_a_rollback_finding_the_alias_changed_by_someone_else_leaves_it_and_drifts(aws, tasks):
    aws.function(versions=3)
    aws.create_alias("1")
    baking = tasks.shift(tasks.prepare())
    aws.recreate_alias("3", {"2": 0.2})
    failure = tasks.failure("ThrottlingError", "TooManyRequestsException: Rate exceeded")

    outcome = tasks.roll_back(execution_state(tasks, baking, failure=failure))

    assert aws.routing() == ("3", {"2": 0.2})
    assert outcome["drifted"] is True
    assert aws.record("rollout-1")["status"] == "DRIFTED"
    assert aws.lock() is None


def test_a_first_deploy_rolled_back_after_promotion_deletes_the_alias_it_created(aws, tasks):
    aws.function(versions=1)
    promoted = tasks.promote(tasks.prepare(version="1"))
    failure = tasks.failure("HookFailedError", "PostTraffic hook orders-api-post failed: no")

    outcome = tasks.roll_back(execution_state(tasks, promoted, failure=failure))

    assert aws.alias() is None
    assert outcome["status"] == "ROLLED_BACK"
    assert aws.lock() is None


def test_when_prepare_failed_the_lock_it_took_is_released(aws, tasks):
    # PrepareRollout took the lock, then failed before it answered (no $.rollout).
    aws.function(versions=2)
    aws.create_alias("1")
    aws.put_lock("rollout-1")
    failure = tasks.failure("Lambda.Unknown", "The task timed out")

    outcome = tasks.roll_back(execution_state(tasks, None, failure=failure))

    assert aws.lock() is None
    assert outcome["drifted"] is False
    assert "before it changed anything" in outcome["cause"]
    assert aws.routing() == ("1", {})


def test_when_prepare_failed_another_rollouts_lock_is_kept(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    aws.put_lock("rollout-0")
    failure = tasks.failure("Lambda.Unknown", "The task timed out")

    tasks.roll_back(execution_state(tasks, None, failure=failure))

    assert aws.lock()["rolloutId"] == "rollout-0"


def test_when_prepare_wrote_its_record_but_no_output_the_record_is_used(aws, tasks):
    # PrepareRollout finished its writes, but its answer was lost (no $.rollout).
    aws.function(versions=2)
    aws.create_alias("1")
    tasks.prepare()
    failure = tasks.failure("Lambda.Unknown", "The task timed out")

    outcome = tasks.roll_back(execution_state(tasks, None, failure=failure))

    assert outcome["status"] == "ROLLED_BACK"
    assert aws.record("rollout-1")["status"] == "ROLLED_BACK"
    assert aws.lock() is None
    assert aws.routing() == ("1", {})


def test_a_first_deploy_failing_before_promotion_has_no_alias_to_restore(aws, tasks):
    aws.function(versions=1)
    state = tasks.prepare(version="1")
    failure = tasks.failure("HookFailedError", "PreTraffic hook orders-api-pre failed: no")

    outcome = tasks.roll_back(execution_state(tasks, state, failure=failure))

    assert aws.alias() is None
    assert outcome["status"] == "ROLLED_BACK"
    assert "never created" in outcome["cause"]
    assert aws.lock() is None


def test_when_prepare_failed_for_a_function_arn_the_lock_is_released(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    aws.put_lock("rollout-1")
    failure = tasks.failure("Lambda.Unknown", "The task timed out")
    state = {**execution_state(tasks, None, failure=failure), "functionName": tasks.function_arn}

    tasks.roll_back(state)

    assert aws.lock() is None


def test_a_first_deploy_that_failed_after_creating_the_alias_deletes_it(aws, tasks):
    # PromoteTarget created the alias, then failed before answering: the state the
    # Catch hands to RollBack still has no RevisionId, and its action is "promote".
    aws.function(versions=1)
    state = tasks.prepare(version="1")
    assert state["firstDeploy"] is True and state["action"] == "promote"
    # What PromoteTarget records just before it creates the alias.
    aws.table.update_item(
        Key={"pk": "ROLLOUT#rollout-1", "sk": "ROLLOUT"},
        UpdateExpression="SET writing = :w",
        ExpressionAttributeValues={":w": {"version": "1", "extra": {}}},
    )
    aws.create_alias("1")
    failure = tasks.failure("States.Timeout", "PromoteTarget timed out")

    outcome = tasks.roll_back(execution_state(tasks, state, failure=failure))

    assert outcome["status"] == "ROLLED_BACK"
    assert "deleting the alias this first deploy created" in outcome["cause"]
    assert aws.alias() is None
    assert aws.lock() is None


def test_a_shift_that_failed_after_writing_is_rolled_back_as_its_own(aws, tasks):
    # ShiftTraffic wrote 10% and failed before saving the new RevisionId.
    aws.function(versions=2)
    aws.create_alias("1")
    state = tasks.prepare()
    assert state["action"] == "shift"
    # What ShiftTraffic records just before it writes the alias.
    aws.table.update_item(
        Key={"pk": "ROLLOUT#rollout-1", "sk": "ROLLOUT"},
        UpdateExpression="SET writing = :w",
        ExpressionAttributeValues={":w": {"version": "1", "extra": {"2": 10}}},
    )
    aws.lambda_.update_alias(
        FunctionName="orders-api",
        Name="live",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )
    failure = tasks.failure("States.Timeout", "ShiftTraffic timed out")

    outcome = tasks.roll_back(execution_state(tasks, state, failure=failure))

    assert outcome["status"] == "ROLLED_BACK"
    assert aws.routing() == ("1", {})


def test_a_change_the_rollout_was_not_making_is_left_alone(aws, tasks):
    # Baking at 10%, an operator promotes by hand (a routing the rollout would only
    # write at PromoteTarget, which it was not doing), then the execution stops.
    aws.function(versions=2)
    aws.create_alias("1")
    baking = tasks.shift(tasks.prepare())
    assert baking["action"] == "bake"
    aws.lambda_.delete_alias(FunctionName="orders-api", Name="live")
    aws.create_alias("2")

    outcome = tasks.roll_back(execution_state(tasks, baking))

    assert outcome["status"] == "DRIFTED"
    assert aws.routing() == ("2", {})
    assert aws.record("rollout-1")["status"] == "DRIFTED"
    assert aws.lock() is None


def test_a_rollout_recorded_succeeded_stays_promoted(aws, tasks):
    # FinishRollout recorded SUCCEEDED, then failed (say, releasing the lock): the
    # Catch sends it to RollBack, which must not undo the promotion.
    aws.function(versions=2)
    aws.create_alias("1")
    promoted = tasks.promote(tasks.prepare(strategy="AllAtOnce"))
    tasks.finish(promoted)

    outcome = tasks.roll_back(execution_state(tasks, promoted, failure=tasks.failure("X", "y")))

    assert outcome["status"] == "SUCCEEDED"
    assert aws.routing() == ("2", {})
    assert aws.record("rollout-1")["status"] == "SUCCEEDED"


def test_an_alias_created_by_someone_else_during_a_failing_hook_is_left_alone(aws, tasks):
    # First deploy: while the PreTraffic hook runs (and then fails), another tool
    # creates the alias on the target. The rollout never wrote it: hands off.
    aws.function(versions=1)
    state = tasks.prepare(version="1")
    aws.create_alias("1")
    failure = tasks.failure("HookFailedError", "PreTraffic hook orders-api-pre failed: no")

    outcome = tasks.roll_back(execution_state(tasks, state, failure=failure))

    assert outcome["status"] == "DRIFTED"
    assert aws.routing() == ("1", {})
    assert aws.lock() is None


def test_a_cleanup_of_an_ended_rollout_does_not_restore_again(aws, tasks):
    # A redriven or late cleanup of a rollout that already ended keeps its ending.
    aws.function(versions=2)
    aws.create_alias("1")
    baking = tasks.shift(tasks.prepare())
    tasks.roll_back(execution_state(tasks, baking, failure=tasks.failure("X", "first end")))
    assert aws.routing() == ("1", {})
    aws.lambda_.update_alias(
        FunctionName="orders-api",
        Name="live",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
    )  # a later rollout (or a person) shifts it again

    outcome = tasks.roll_back(execution_state(tasks, baking, failure=tasks.failure("X", "again")))

    assert outcome["status"] == "ROLLED_BACK"
    assert aws.routing() == ("1", {"2": 0.1})
