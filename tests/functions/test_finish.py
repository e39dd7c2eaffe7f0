"""FinishRollout (functions/finish): the last look, then record success and release the lock.

Its answer is the rollout state, whose ``outcome`` is the execution's output.
"""

from __future__ import annotations


def test_a_promoted_rollout_ends_succeeded_and_releases_the_lock(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    promoted = tasks.promote(tasks.baked(tasks.shift(tasks.prepare())))

    output = tasks.finish(promoted)["outcome"]

    assert output["status"] == "SUCCEEDED"
    assert output["rolloutId"] == "rollout-1"
    assert (output["fromVersion"], output["toVersion"]) == ("1", "2")
    assert output["functionName"] == "orders-api"
    assert output["alias"] == "live"
    assert output["firstDeploy"] is False
    assert output["steps"] == [{"weight": 10, "bakeSeconds": 300}]
    assert "promoted to version 2 (was 1) after 1 step" in output["summary"]
    record = aws.record("rollout-1")
    assert record["status"] == "SUCCEEDED"
    assert record["reason"] == output["summary"]
    assert "endedAt" in record
    assert aws.lock() is None
    assert aws.routing() == ("2", {})


def test_finishing_twice_is_safe(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    promoted = tasks.promote(tasks.prepare(strategy="AllAtOnce"))

    first = tasks.finish(promoted)
    again = tasks.finish(promoted)

    assert again == first
    assert "all at once" in first["outcome"]["summary"]
    assert aws.record("rollout-1")["status"] == "SUCCEEDED"
    assert aws.lock() is None


def test_nothing_to_do_ends_succeeded_with_the_reason(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("2")
    state = tasks.prepare(version="2")

    output = tasks.finish(state)["outcome"]

    assert output["status"] == "SUCCEEDED"
    assert "already runs version 2" in output["summary"]
    assert aws.lock() is None
    assert aws.routing() == ("2", {})


def test_a_first_deploy_says_so(aws, tasks):
    aws.function(versions=1)
    promoted = tasks.promote(tasks.prepare(version="1"))

    output = tasks.finish(promoted)["outcome"]

    assert output["firstDeploy"] is True
    assert output["fromVersion"] is None
    assert output["toVersion"] == "1"
    assert "first deploy" in output["summary"]
    assert aws.lock() is None


def test_the_last_look_rolls_back_on_an_abort_accepted_after_promotion(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    promoted = tasks.promote(tasks.prepare(strategy="AllAtOnce"))
    aws.request_abort("rollout-1", by="alice", reason="errors at 100%")

    looked = tasks.finish(promoted)

    assert looked["action"] == "rollback"
    assert looked["outcome"] is None
    assert "aborted by alice: errors at 100%" in looked["reason"]
    assert aws.record("rollout-1")["status"] == "RUNNING"
    assert aws.lock()["rolloutId"] == "rollout-1"


def test_the_last_look_rolls_back_on_a_firing_alarm(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    aws.alarm("orders-api-errors", "OK")
    promoted = tasks.promote(tasks.prepare(strategy="AllAtOnce", alarms=["orders-api-errors"]))
    aws.set_alarm("orders-api-errors", "ALARM")

    looked = tasks.finish(promoted)

    assert looked["action"] == "rollback"
    assert "alarm orders-api-errors is in ALARM after promotion" in looked["reason"]


def test_the_last_look_stops_on_an_alias_repointed_after_promotion(aws, tasks):
    aws.function(versions=3)
    aws.create_alias("1")
    promoted = tasks.promote(tasks.prepare(strategy="AllAtOnce"))
    aws.recreate_alias("3")

    looked = tasks.finish(promoted)

    assert looked["action"] == "drift"
    assert "version 3" in looked["reason"]
    assert aws.routing() == ("3", {})
