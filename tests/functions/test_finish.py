"""FinishRollout (functions/finish): record success, release the lock, answer the output."""

from __future__ import annotations


def test_a_promoted_rollout_ends_succeeded_and_releases_the_lock(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    promoted = tasks.promote(tasks.shift(tasks.prepare()))

    output = tasks.finish(promoted)

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
    assert "all at once" in first["summary"]
    assert aws.record("rollout-1")["status"] == "SUCCEEDED"
    assert aws.lock() is None


def test_nothing_to_do_ends_succeeded_with_the_reason(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("2")
    state = tasks.prepare(version="2")

    output = tasks.finish(state)

    assert output["status"] == "SUCCEEDED"
    assert "already runs version 2" in output["summary"]
    assert aws.lock() is None
    assert aws.routing() == ("2", {})


def test_a_first_deploy_says_so(aws, tasks):
    aws.function(versions=1)
    promoted = tasks.promote(tasks.prepare(version="1"))

    output = tasks.finish(promoted)

    assert output["firstDeploy"] is True
    assert output["fromVersion"] is None
    assert output["toVersion"] == "1"
    assert "first deploy" in output["summary"]
    assert aws.lock() is None
