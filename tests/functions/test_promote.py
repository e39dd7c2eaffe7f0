"""PromoteTarget (functions/promote): 100% on the target, or the alias created on a first deploy."""

from __future__ import annotations


def test_the_alias_points_at_the_target_with_no_split(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    baking = tasks.baked(tasks.shift(tasks.prepare()))

    promoted = tasks.promote(baking)

    assert aws.routing() == ("2", {})
    assert (promoted["action"], promoted["promoted"]) == ("finish", True)
    assert promoted["aliasRevisionId"] == aws.alias()["RevisionId"]
    assert "promoted to version 2 (was 1)" in promoted["summary"]
    record = aws.record("rollout-1")
    assert "promotedAt" in record
    assert record["state"] == promoted


def test_promoting_twice_gives_the_same_result(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    baking = tasks.baked(tasks.shift(tasks.prepare()))

    first = tasks.promote(baking)
    again = tasks.promote(baking)

    assert again == first
    assert aws.routing() == ("2", {})


def test_all_at_once_promotes_straight_from_the_baseline(aws, tasks):
    aws.function(versions=2)
    aws.create_alias("1")
    state = tasks.prepare(strategy="AllAtOnce")
    assert state["action"] == "promote"

    tasks.promote(state)

    assert aws.routing() == ("2", {})


def test_a_first_deploy_creates_the_alias_on_the_target(aws, tasks):
    aws.function(versions=1)
    state = tasks.prepare(version="1")

    promoted = tasks.promote(state)

    assert aws.routing() == ("1", {})
    assert promoted["aliasRevisionId"] == aws.alias()["RevisionId"]
    assert "first deploy" in promoted["summary"]
    # Run again (a retry): the alias it created is ours, nothing changes.
    assert tasks.promote(state)["action"] == "finish"
    assert aws.routing() == ("1", {})


def test_a_first_deploy_finding_an_alias_someone_else_created_stops_on_drift(aws, tasks):
    aws.function(versions=2)
    state = tasks.prepare(version="2")
    aws.create_alias("1")

    drifted = tasks.promote(state)

    assert drifted["action"] == "drift"
    assert "created by someone else" in drifted["reason"]
    assert aws.routing() == ("1", {})


def test_a_promotion_after_drift_leaves_the_alias_alone(aws, tasks):
    aws.function(versions=3)
    aws.create_alias("1")
    baking = tasks.shift(tasks.prepare())
    aws.recreate_alias("3")

    drifted = tasks.promote(baking)

    assert drifted["action"] == "drift"
    assert aws.routing() == ("3", {})
