"""Which function and alias a rollout belongs to (rollouts.service), the rule the API's
scoped routes and the CLI's ``--function``/``--alias`` rest on.

The pure helpers are table tests, one named row per case; describe and abort run on
in-memory fakes of the store and Step Functions (no AWS, no moto).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rollouts.errors import NotFoundError, ValidationError
from rollouts.service import (
    RolloutEndedError,
    abort_rollout,
    belongs_to,
    describe_rollout,
    owner_of,
    path_problems,
    request_for,
)
from rollouts.store import RUNNING, SUCCEEDED

NOW = datetime(2026, 12, 1, tzinfo=UTC)
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:lambda-rollouts-rollout"
ORDERS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders-api"
ROLLOUT = "orders-api-live-v7-1a2b3c4d"


# -- belongs_to -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("owner", "expected", "belongs"),
    [
        pytest.param(("orders-api", "live"), ("orders-api", "live"), True, id="same"),
        pytest.param((ORDERS_ARN, "live"), ("orders-api", "live"), True, id="recorded-arn"),
        pytest.param(("orders-api", "live"), (ORDERS_ARN, "live"), True, id="expected-arn"),
        pytest.param((f"{ORDERS_ARN}:7", "live"), ("orders-api", "live"), True, id="qualified"),
        pytest.param(("orders-api", "live"), ("orders-api", "canary"), False, id="other-alias"),
        pytest.param(("orders-api", "live"), ("payments", "live"), False, id="other-function"),
        pytest.param(("orders-api-evil", "live"), ("orders-api", "live"), False, id="longer"),
        pytest.param(("orders", "live"), ("orders-api", "live"), False, id="shorter"),
        pytest.param(("Orders-Api", "live"), ("orders-api", "live"), False, id="case"),
        pytest.param(("orders-api", "LIVE"), ("orders-api", "live"), False, id="alias-case"),
        pytest.param((None, None), ("orders-api", "live"), False, id="unknown-owner"),
        pytest.param((None, "live"), ("orders-api", "live"), False, id="unknown-function"),
        pytest.param(("orders-api", None), ("orders-api", "live"), False, id="unknown-alias"),
        pytest.param((42, "live"), ("orders-api", "live"), False, id="function-not-text"),
        pytest.param(("orders-api", "live"), (None, "live"), True, id="any-function"),
        pytest.param(("payments", "live"), (None, "live"), True, id="any-function-other"),
        pytest.param(("orders-api", "canary"), ("orders-api", None), True, id="any-alias"),
        pytest.param((None, None), (None, None), True, id="nothing-expected"),
    ],
)
def test_belongs_to(
    owner: tuple[Any, Any], expected: tuple[str | None, str | None], belongs: bool
) -> None:
    assert belongs_to(*owner, *expected) is belongs


# -- owner_of ---------------------------------------------------------------------------
def execution(request: Any) -> dict[str, Any]:
    return {"status": "RUNNING", "input": json.dumps(request)}


@pytest.mark.parametrize(
    ("record", "found", "owner"),
    [
        pytest.param(
            {"functionName": "orders-api", "alias": "live"},
            execution({"functionName": "payments", "alias": "x"}),
            ("orders-api", "live"),
            id="record-first",
        ),
        pytest.param(
            None,
            execution({"functionName": ORDERS_ARN, "alias": "live"}),
            (ORDERS_ARN, "live"),
            id="no-record-yet",
        ),
        pytest.param(
            {"status": "ROLLED_BACK"},
            execution({"functionName": "orders-api", "alias": "live"}),
            ("orders-api", "live"),
            id="mark-without-names",
        ),
        pytest.param({"status": "ROLLED_BACK"}, None, (None, None), id="mark-alone"),
        pytest.param(None, execution(["orders-api"]), (None, None), id="input-not-an-object"),
        pytest.param(None, {"status": "RUNNING", "input": "{oops"}, (None, None), id="not-json"),
        pytest.param(None, None, (None, None), id="nothing"),
    ],
)
def test_owner_of(
    record: dict[str, Any] | None, found: dict[str, Any] | None, owner: tuple[Any, Any]
) -> None:
    assert owner_of(record, found) == owner


# -- path_problems ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("function_name", "alias", "bad"),
    [
        pytest.param("orders-api", "live", [], id="plain"),
        pytest.param("A_b-9" * 12 + "abcd", "x" * 128, [], id="longest"),
        pytest.param("orders-api", "v7", [], id="alias-with-digits"),
        pytest.param(ORDERS_ARN, "live", ["functionName"], id="arn"),
        pytest.param("orders-api:7", "live", ["functionName"], id="qualified"),
        pytest.param("f" * 65, "live", ["functionName"], id="function-65"),
        pytest.param("", "live", ["functionName"], id="function-empty"),
        pytest.param("orders api", "live", ["functionName"], id="function-space"),
        pytest.param("orders-api*", "live", ["functionName"], id="function-wildcard"),
        pytest.param("orders-api", "123", ["alias"], id="alias-only-digits"),
        pytest.param("orders-api", "x" * 129, ["alias"], id="alias-129"),
        pytest.param("orders-api", "$LATEST", ["alias"], id="alias-latest"),
        pytest.param("orders-api", "live/../x", ["alias"], id="alias-slash"),
        pytest.param("a:b", "1", ["functionName", "alias"], id="both"),
    ],
)
def test_path_problems(function_name: str, alias: str, bad: list[str]) -> None:
    problems = path_problems(function_name, alias)

    assert [field for field, _ in problems] == bad
    assert all(message for _, message in problems)


def test_a_bad_path_name_is_quoted_briefly() -> None:
    ((_, message),) = path_problems("f" * 500, "live")

    assert len(message) < 200
    assert "not an ARN" in message


# -- request_for ------------------------------------------------------------------------
BODY = {"version": "7", "strategy": "AllAtOnce"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(BODY, id="names-left-out"),
        pytest.param({**BODY, "functionName": "orders-api"}, id="function-repeated"),
        pytest.param({**BODY, "alias": "live"}, id="alias-repeated"),
        pytest.param({**BODY, "functionName": "orders-api", "alias": "live"}, id="both-repeated"),
    ],
)
def test_request_for_gives_the_body_the_paths_names(body: dict[str, Any]) -> None:
    merged = request_for(body, "orders-api", "live")

    assert merged == {"functionName": "orders-api", "alias": "live", **BODY}
    assert list(merged)[:2] == ["functionName", "alias"]


@pytest.mark.parametrize(
    ("changes", "bad"),
    [
        pytest.param({"functionName": "payments"}, ["functionName"], id="other-function"),
        pytest.param({"functionName": ORDERS_ARN}, ["functionName"], id="arn-same-name"),
        pytest.param({"functionName": "orders-api-evil"}, ["functionName"], id="longer"),
        pytest.param({"functionName": None}, ["functionName"], id="null-function"),
        pytest.param({"alias": "canary"}, ["alias"], id="other-alias"),
        pytest.param({"alias": 7}, ["alias"], id="alias-not-text"),
        pytest.param({"functionName": "x", "alias": "y"}, ["functionName", "alias"], id="both"),
    ],
)
def test_request_for_refuses_a_body_naming_another_function_or_alias(
    changes: dict[str, Any], bad: list[str]
) -> None:
    with pytest.raises(ValidationError) as refused:
        request_for({**BODY, **changes}, "orders-api", "live")

    assert [field for field, _ in refused.value.errors] == bad
    assert all("in the path" in message for _, message in refused.value.errors)


@pytest.mark.parametrize("body", [["orders-api"], "text", None, 7])
def test_request_for_passes_a_body_that_is_not_an_object_on_for_the_model(body: Any) -> None:
    assert request_for(body, "orders-api", "live") == body


# -- describe and abort on fakes ----------------------------------------------------------
class FakeStore:
    """The two reads and the one write describe and abort make, in memory."""

    def __init__(self, *records: dict[str, Any]) -> None:
        self.records = {record["rolloutId"]: dict(record) for record in records}
        self.aborts: list[tuple[str, str, str]] = []

    def record(self, rollout_id: str) -> dict[str, Any] | None:
        found = self.records.get(rollout_id)
        return dict(found) if found else None

    def request_abort(self, rollout_id: str, by: str, reason: str, now: str) -> bool:
        record = self.records[rollout_id]
        if record["status"] != RUNNING:
            return False
        record["abort"] = {"by": by, "reason": reason, "at": now}
        self.aborts.append((rollout_id, by, reason))
        return True


class FakeStepFunctions:
    def __init__(self, executions: dict[str, dict[str, Any]] | None = None) -> None:
        self.executions = executions or {}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803 (boto3's)
        name = executionArn.rsplit(":", 1)[-1]
        if name not in self.executions:
            error = {"Error": {"Code": "ExecutionDoesNotExist", "Message": executionArn}}
            raise ClientError(error, "DescribeExecution")
        return self.executions[name]


def record(function_name: str = "orders-api", alias: str = "live", **more: Any) -> dict[str, Any]:
    return {
        "rolloutId": ROLLOUT,
        "status": RUNNING,
        "functionName": function_name,
        "alias": alias,
        **more,
    }


def describe(store: FakeStore, sfn: FakeStepFunctions, **expected: str) -> dict[str, Any]:
    return describe_rollout(ROLLOUT, store, sfn, STATE_MACHINE, **expected)  # type: ignore[arg-type]


def abort(store: FakeStore, **expected: str) -> dict[str, Any]:
    return abort_rollout(ROLLOUT, "alice", "slow", store, NOW, **expected)  # type: ignore[arg-type]


MINE = [
    pytest.param({}, id="nothing-expected"),
    pytest.param({"function_name": "orders-api", "alias": "live"}, id="both"),
    pytest.param({"function_name": "orders-api"}, id="function-only"),
    pytest.param({"alias": "live"}, id="alias-only"),
    pytest.param({"function_name": ORDERS_ARN, "alias": "live"}, id="expected-as-arn"),
]
NOT_MINE = [
    pytest.param({"function_name": "orders-api", "alias": "canary"}, "orders-api:canary", id="a"),
    pytest.param({"function_name": "payments", "alias": "live"}, "payments:live", id="function"),
    pytest.param({"function_name": "orders-api-evil"}, "orders-api-evil", id="function-only"),
    pytest.param({"alias": "canary"}, "alias canary", id="alias-only"),
]


@pytest.mark.parametrize("expected", MINE)
def test_describe_finds_a_rollout_of_the_expected_alias(expected: dict[str, str]) -> None:
    described = describe(FakeStore(record()), FakeStepFunctions(), **expected)

    assert (described["rolloutId"], described["functionName"]) == (ROLLOUT, "orders-api")


@pytest.mark.parametrize(("expected", "subject"), NOT_MINE)
def test_describe_of_another_alias_is_not_found_like_an_unknown_id(
    expected: dict[str, str], subject: str
) -> None:
    with pytest.raises(NotFoundError) as other:
        describe(FakeStore(record()), FakeStepFunctions(), **expected)
    with pytest.raises(NotFoundError) as unknown:
        describe(FakeStore(), FakeStepFunctions(), **expected)

    assert str(other.value) == str(unknown.value) == f"no rollout {ROLLOUT} for {subject}"


def test_describe_before_the_record_reads_the_execution_input() -> None:
    sfn = FakeStepFunctions({ROLLOUT: execution({"functionName": ORDERS_ARN, "alias": "live"})})

    mine = describe(FakeStore(), sfn, function_name="orders-api", alias="live")
    with pytest.raises(NotFoundError):
        describe(FakeStore(), sfn, function_name="orders-api", alias="canary")

    assert (mine["functionName"], mine["alias"]) == (ORDERS_ARN, "live")


def test_describe_of_a_mark_naming_no_alias_is_not_found_when_one_is_expected() -> None:
    # A rollout that ended before it was prepared, with input too bad to name the alias.
    store = FakeStore({"rolloutId": ROLLOUT, "status": "ROLLED_BACK"})

    assert describe(store, FakeStepFunctions())["outcome"] == "ROLLED_BACK"
    with pytest.raises(NotFoundError):
        describe(store, FakeStepFunctions(), function_name="orders-api", alias="live")


def test_describe_without_an_expected_alias_says_no_rollout_x() -> None:
    with pytest.raises(NotFoundError, match=f"^no rollout {ROLLOUT}$"):
        describe(FakeStore(), FakeStepFunctions())


@pytest.mark.parametrize("expected", MINE)
def test_abort_of_a_rollout_of_the_expected_alias_is_recorded(expected: dict[str, str]) -> None:
    store = FakeStore(record())

    answer = abort(store, **expected)

    assert answer["abortRequested"] is True
    assert store.aborts == [(ROLLOUT, "alice", "slow")]


@pytest.mark.parametrize(("expected", "subject"), NOT_MINE)
def test_abort_of_another_alias_is_not_found_and_writes_nothing(
    expected: dict[str, str], subject: str
) -> None:
    store = FakeStore(record())

    with pytest.raises(NotFoundError, match=f"^no rollout {ROLLOUT} for {subject}$"):
        abort(store, **expected)

    assert store.aborts == []
    assert "abort" not in store.records[ROLLOUT]


def test_abort_of_another_alias_ended_rollout_is_not_found_not_ended() -> None:
    # "already ended" would tell that the id exists, for another alias.
    store = FakeStore(record(status=SUCCEEDED))

    with pytest.raises(NotFoundError):
        abort(store, alias="canary")
    with pytest.raises(RolloutEndedError):
        abort(store, alias="live")


def test_abort_compares_a_recorded_arn_by_function_name() -> None:
    store = FakeStore(record(function_name=ORDERS_ARN))

    assert abort(store, function_name="orders-api", alias="live")["abortRequested"] is True
