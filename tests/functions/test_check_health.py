"""CheckHealth (functions/check_health): alarms, abort requests and the alias, then decide."""

from __future__ import annotations

import pytest

ONE_MINUTE_STEP = {"steps": [{"weight": 10, "bakeSeconds": 60}]}
TWO_STEPS = {"steps": [{"weight": 10, "bakeSeconds": 60}, {"weight": 50, "bakeSeconds": 60}]}


def test_an_alarm_in_alarm_rolls_back_naming_the_alarm(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    aws.alarm("orders-api-errors", "OK")
    aws.alarm("orders-api-latency", "OK")
    baking = tasks.shift(tasks.prepare(alarms=["orders-api-errors", "orders-api-latency"]))
    aws.set_alarm("orders-api-latency", "ALARM")

    checked = tasks.check(baking)

    assert checked["action"] == "rollback"
    assert "orders-api-latency" in checked["reason"]
    assert "orders-api-errors" not in checked["reason"]
    assert "step 1 of 1 (10% on the target)" in checked["reason"]
    assert aws.routing() == ("1", {"2": 0.1})  # RollBack restores it, not the check
    (check,) = aws.record("rollout-1")["checks"]
    assert check["action"] == "rollback"
    # Only the alarms that are not OK are named (the record stays bounded).
    assert (check["alarmsWatched"], check["alarmsNotOk"]) == (2, {"orders-api-latency": "ALARM"})
    assert "orders-api-latency" in check["reason"]


@pytest.mark.parametrize(
    ("strategy", "action", "wait_seconds"),
    [
        pytest.param("Canary10Percent5Minutes", "bake", 60, id="bake-remaining-keeps-baking"),
        pytest.param(TWO_STEPS, "shift", 0, id="baked-step-shifts-to-the-next"),
        pytest.param(ONE_MINUTE_STEP, "promote", 0, id="baked-last-step-promotes"),
    ],
)
def test_healthy_alarms_follow_the_bake_progress(aws, tasks, strategy, action, wait_seconds):
    aws.function(versions=2)
    aws.create_alias("1")
    aws.alarm("orders-api-errors", "OK")
    baking = tasks.shift(tasks.prepare(strategy=strategy, alarms=["orders-api-errors"]))
    assert baking["waitSeconds"] == 60

    checked = tasks.check(baking)

    assert checked["action"] == action
    assert checked["waitSeconds"] == wait_seconds
    assert checked["bakedSeconds"] == 60
    assert checked["reason"] is None


def test_an_abort_request_in_the_record_rolls_back(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    baking = tasks.shift(tasks.prepare())
    aws.request_abort("rollout-1", by="alice", reason="latency looks wrong")

    checked = tasks.check(baking)

    assert checked["action"] == "rollback"
    assert "aborted by alice: latency looks wrong" in checked["reason"]


def test_an_alias_changed_by_someone_else_stops_on_drift(aws, tasks):
    aws.function(versions=3)
    aws.create_alias("1")
    baking = tasks.shift(tasks.prepare())
    aws.recreate_alias("1", {"3": 0.5})

    checked = tasks.check(baking)

    assert checked["action"] == "drift"
    assert "50% on 3" in checked["reason"]
    assert aws.routing() == ("1", {"3": 0.5})


def test_each_check_is_appended_to_the_record(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    aws.alarm("orders-api-errors", "OK")
    baking = tasks.shift(tasks.prepare(alarms=["orders-api-errors"]))

    first = tasks.check(baking)
    tasks.check(first)

    record = aws.record("rollout-1")
    assert record["checkCount"] == 2
    assert [c["bakedSeconds"] for c in record["checks"]] == [60, 120]
    assert [c["action"] for c in record["checks"]] == ["bake", "bake"]
    assert (record["checks"][0]["alarmsWatched"], record["checks"][0]["alarmsNotOk"]) == (1, {})


def test_a_deleted_alarm_cannot_be_judged_so_the_rollout_rolls_back(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    aws.alarm("orders-api-errors", "OK")
    baking = tasks.shift(tasks.prepare(alarms=["orders-api-errors"]))
    aws.cloudwatch.delete_alarms(AlarmNames=["orders-api-errors"])

    checked = tasks.check(baking)

    assert checked["action"] == "rollback"
    assert "alarm orders-api-errors no longer exists" in checked["reason"]
    assert aws.routing() == ("1", {"2": 0.1})  # RollBack restores it, not the check
