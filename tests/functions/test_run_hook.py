"""RunPreTrafficHook / RunPostTrafficHook (functions/run_hook): the hook contract.

The hook functions exist in moto (PrepareRollout checks them), but moto runs
function code only in Docker, so the ``hooks`` fixture answers for them at
``rollouts.aliases.Lambda.invoke``.
"""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.errors import HookFailedError

HOOKS = {"preTraffic": "orders-api-pre", "postTraffic": "orders-api-post"}


@pytest.fixture
def prepared(aws: Any, tasks: Any) -> dict[str, Any]:
    aws.function(versions=2)
    aws.function("orders-api-pre", versions=0)
    aws.function("orders-api-post", versions=0)
    aws.create_alias("1")
    return dict(tasks.prepare(hooks=HOOKS))


@pytest.mark.parametrize(
    ("lifecycle_event", "hook"),
    [("PreTraffic", "orders-api-pre"), ("PostTraffic", "orders-api-post")],
)
def test_a_hook_answering_succeeded_passes(aws, tasks, hooks, prepared, lifecycle_event, hook):
    hooks.answer(hook, {"status": "Succeeded"})

    state = tasks.hook(prepared, lifecycle_event)

    assert state == prepared
    assert [name for name, _ in hooks.calls] == [hook]
    assert aws.record("rollout-1")[f"hook{lifecycle_event}"]["result"] == "Succeeded"
    assert aws.record("rollout-1")[f"hook{lifecycle_event}"]["function"] == hook


def test_the_payload_is_the_hook_contract_exactly(aws, tasks, hooks, prepared):
    hooks.answer("orders-api-pre", {"status": "Succeeded"})

    tasks.hook(prepared, "PreTraffic")

    ((_, payload),) = hooks.calls
    assert payload == {
        "rolloutId": "rollout-1",
        "lifecycleEvent": "PreTraffic",
        "functionName": "orders-api",
        "alias": "live",
        "fromVersion": "1",
        "toVersion": "2",
        "targetArn": "arn:aws:lambda:us-east-1:123456789012:function:orders-api:2",
    }


def test_the_payload_names_the_version_publish_version_made(aws, tasks, hooks):
    aws.function(versions=1)
    aws.function("orders-api-pre", versions=0)
    aws.create_alias("1")
    aws.new_code()
    published = tasks.publish(tasks.prepare(version=None, hooks={"preTraffic": "orders-api-pre"}))
    hooks.answer("orders-api-pre", {"status": "Succeeded"})

    tasks.hook(published, "PreTraffic")

    ((_, payload),) = hooks.calls
    assert (payload["fromVersion"], payload["toVersion"]) == ("1", "2")
    assert payload["targetArn"].endswith(":function:orders-api:2")


@pytest.mark.parametrize(
    ("body", "function_error", "expected"),
    [
        pytest.param({"status": "Failed", "reason": "x"}, None, "x", id="failed-with-reason"),
        pytest.param(
            {"status": "Failed"}, None, "returned Failed without a reason", id="failed-no-reason"
        ),
        pytest.param(
            {"errorMessage": "boom", "errorType": "RuntimeError", "stackTrace": []},
            "Unhandled",
            "it raised RuntimeError: boom",
            id="hook-raised",
        ),
        pytest.param(
            b"Task timed out after 3.00 seconds", "Unhandled", "Unhandled", id="hook-crashed"
        ),
        pytest.param({"status": "succeeded"}, None, "status", id="wrong-case"),
        pytest.param({"ok": True}, None, '{"ok": true}', id="other-object"),
        pytest.param("Succeeded", None, 'returned "Succeeded"', id="bare-string"),
        pytest.param(None, None, "null", id="null"),
        pytest.param(b"", None, "nothing", id="empty"),
        pytest.param(b"<html>", None, "<html>", id="not-json"),
    ],
)
def test_any_other_answer_fails_naming_the_hook(
    aws, tasks, hooks, prepared, body, function_error, expected
):
    hooks.answer("orders-api-pre", body, function_error)

    with pytest.raises(HookFailedError) as failed:
        tasks.hook(prepared, "PreTraffic")

    message = str(failed.value)
    assert "PreTraffic hook orders-api-pre failed" in message
    assert expected in message
    result = aws.record("rollout-1")["hookPreTraffic"]["result"]
    assert result != "Succeeded"
    assert aws.routing() == ("1", {})


def test_no_hook_configured_returns_the_state_without_invoking(aws, tasks, hooks):
    aws.function(versions=2)
    aws.create_alias("1")
    state = tasks.prepare(hooks={"preTraffic": None})

    assert tasks.hook(state, "PreTraffic") == state
    assert tasks.hook(state, "PostTraffic") == state
    assert hooks.calls == []
    assert "hookPreTraffic" not in aws.record("rollout-1")


def test_an_unknown_lifecycle_event_is_refused(aws, tasks, hooks, prepared):
    with pytest.raises(ValueError, match="lifecycleEvent"):
        tasks.hook(prepared, "BeforeAllowTraffic")
    assert hooks.calls == []


def test_a_hook_is_not_asked_again_when_its_answer_is_remembered(aws, tasks, hooks, prepared):
    hooks.answer("orders-api-pre", {"status": "Succeeded"})

    first = tasks.hook(prepared, "PreTraffic")
    again = tasks.hook(prepared, "PreTraffic")  # Step Functions retried the task

    assert first == again == prepared
    assert [name for name, _ in hooks.calls] == ["orders-api-pre"]


def test_a_hook_whose_answer_was_lost_on_the_way_is_asked_again(
    aws, tasks, hooks, prepared, monkeypatch
):
    from rollouts.aliases import InvocationTimeoutError, Lambda
    from rollouts.errors import TransientError

    answered = Lambda.invoke
    lost: list[str] = []

    def invoke(self: Lambda, function_name: str, payload: bytes) -> tuple[bytes, str | None]:
        if not lost:
            lost.append(function_name)
            raise InvocationTimeoutError(f"{function_name} did not answer in time")
        return answered(self, function_name, payload)

    monkeypatch.setattr(Lambda, "invoke", invoke)
    hooks.answer("orders-api-pre", {"status": "Succeeded"})

    with pytest.raises(TransientError, match="answer was lost"):
        tasks.hook(prepared, "PreTraffic")
    assert "hookPreTraffic" not in aws.record("rollout-1")

    assert tasks.hook(prepared, "PreTraffic") == prepared  # the retry asks again
    assert lost == ["orders-api-pre"]
    assert [name for name, _ in hooks.calls] == ["orders-api-pre"]


def test_a_hook_answer_store_failing_after_the_hook_answered_keeps_the_answer(
    aws, tasks, hooks, prepared, monkeypatch
):
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyPersistenceLayerError,
    )

    failed: list[bool] = []

    def fail(*args: Any, **kwargs: Any) -> None:
        failed.append(True)
        raise IdempotencyPersistenceLayerError("Failed to update record state to success")

    monkeypatch.setattr(DynamoDBPersistenceLayer, "save_success", fail)
    hooks.answer("orders-api-pre", {"status": "Failed", "reason": "smoke test got HTTP 500"})

    with pytest.raises(HookFailedError, match="smoke test got HTTP 500"):
        tasks.hook(prepared, "PreTraffic")
    assert failed == [True]
    assert aws.record("rollout-1")["hookPreTraffic"]["result"] == "smoke test got HTTP 500"
    assert len(hooks.calls) == 1
