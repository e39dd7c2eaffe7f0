"""Helpers for the REST API tests: sample events, the handler, and moto behind it.

Each test builds API Gateway proxy events from the samples in events/api/ with
small changes, passes them to ``lambda_handler`` and reads the proxy answer.
moto holds the rollout table (records, locks and idempotency records) and a
state machine; nothing runs the executions (no ``execute_state_machine``), so a
started execution stays RUNNING and its record is written by the test, the way
PrepareRollout and the later tasks would write it.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import rollouts.aws
from rollouts.state import lock_key
from rollouts.store import RolloutStore
from rollouts_cli.local.pytest_plugin import create_rollout_table
from rollouts_cli.local.runtime import LambdaContext

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events" / "api"

REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE = "lambda-rollouts-api-test"
STATE_MACHINE = "lambda-rollouts-rollout"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE}"
CALLER = "arn:aws:sts::123456789012:assumed-role/deploy-pipeline/GitHubActions"
API_HOST = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"

ENVIRONMENT = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "TABLE_NAME": TABLE,
    "STATE_MACHINE_ARN": STATE_MACHINE_ARN,
    "POWERTOOLS_SERVICE_NAME": "lambda-rollouts",
    "POWERTOOLS_METRICS_NAMESPACE": "LambdaRollouts",
    "POWERTOOLS_TRACE_DISABLED": "true",
}

_module: list[ModuleType] = []


def api_module() -> ModuleType:
    """``functions/api/app.py`` as the module ``functions_api_app`` (loaded once)."""
    if not _module:
        name = "functions_api_app"
        spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / "api" / "app.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        # Powertools reads its settings (e.g. the metrics namespace) when the module loads.
        with pytest.MonkeyPatch.context() as patch:
            for variable, value in ENVIRONMENT.items():
                patch.setenv(variable, value)
            spec.loader.exec_module(module)
        _module.append(module)
    return _module[0]


def lambda_context() -> LambdaContext:
    """The Lambda context the engine's runtime hands a handler, here for ``lambda-rollouts-api``."""
    return LambdaContext(
        function_name="lambda-rollouts-api",
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:lambda-rollouts-api",
        memory_limit_in_mb=256,
        timeout_seconds=30,
        log_group_name="/aws/lambda/lambda-rollouts-api",
    )


def sample(name: str) -> dict[str, Any]:
    """``events/api/<name>.json``: an API Gateway REST proxy event."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    return event


def request(
    name: str,
    *,
    body: Any = ...,
    raw_body: str | None = None,
    headers: dict[str, str | None] | None = None,
    query: Any = ...,
    function_name: str | None = None,
    alias: str | None = None,
    rollout_id: str | None = None,
    caller: str | None = CALLER,
    domain: str | None = API_HOST,
) -> dict[str, Any]:
    """A sample event with changes; ``...`` keeps the sample's, a ``None`` header drops it.

    ``function_name``, ``alias`` and ``rollout_id`` replace the sample's path parameters
    (and so its path), as API Gateway would send them for that path.
    """
    event = copy.deepcopy(sample(name))
    if raw_body is not None:
        event["body"] = raw_body
    elif body is not ...:
        event["body"] = None if body is None else json.dumps(body)
    for header, value in (headers or {}).items():
        event["headers"] = {
            k: v for k, v in event["headers"].items() if k.lower() != header.lower()
        }
        if value is not None:
            event["headers"][header] = value
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    if query is not ...:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = (
            {k: [v] for k, v in query.items()} if query else None
        )
    changed = {"functionName": function_name, "alias": alias, "rolloutId": rollout_id}
    parameters = {
        key: value if value is not None else event["pathParameters"][key]
        for key, value in changed.items()
        if key in event["pathParameters"]
    }
    path = event["resource"]
    for parameter, value in parameters.items():
        path = path.replace(f"{{{parameter}}}", value)
    event["path"] = path
    event["requestContext"]["path"] = f"/v1{path}"
    event["pathParameters"] = parameters
    event["requestContext"]["identity"]["userArn"] = caller
    event["requestContext"]["domainName"] = domain
    if domain is None:
        event["headers"].pop("Host", None)
        event["multiValueHeaders"].pop("Host", None)
    return event


@dataclass
class Answer:
    """A proxy integration's answer, decoded."""

    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Api:
    """The API handler, the table and the state machine behind it, on moto."""

    sfn: Any
    table: Any
    context: LambdaContext

    @property
    def store(self) -> RolloutStore:
        return RolloutStore(self.table)

    def call(self, event: dict[str, Any]) -> Answer:
        raw = api_module().lambda_handler(event, self.context)
        headers = {k: v for k, v in (raw.get("headers") or {}).items()}
        for name, values in (raw.get("multiValueHeaders") or {}).items():
            headers.setdefault(name, values[0])
        body = json.loads(raw["body"]) if raw.get("body") else None
        return Answer(status=raw["statusCode"], body=body, headers=headers)

    # -- shortcuts for each route (on the samples' orders-api:live unless told) ---------
    def start(self, payload: Any = ..., key: str | None = None, **changes: Any) -> Answer:
        headers = {"Idempotency-Key": key}
        return self.call(request("start-rollout", body=payload, headers=headers, **changes))

    def describe(self, rollout_id: str, **changes: Any) -> Answer:
        return self.call(request("describe-rollout", rollout_id=rollout_id, **changes))

    def list(self, query: dict[str, str] | None = None, **changes: Any) -> Answer:
        return self.call(request("list-rollouts", query=query or {}, **changes))

    def abort(self, rollout_id: str, body: Any = ..., **changes: Any) -> Answer:
        return self.verb("abort", rollout_id, body, **changes)

    def verb(self, verb: str, rollout_id: str, body: Any = ..., **changes: Any) -> Answer:
        """``POST .../rollouts/{rolloutId}/<verb>`` (abort, pause, resume, promote)."""
        return self.call(request(f"{verb}-rollout", rollout_id=rollout_id, body=body, **changes))

    # -- what the state machine would have done -----------------------------------------
    def executions(self) -> list[dict[str, Any]]:
        listed = self.sfn.list_executions(stateMachineArn=STATE_MACHINE_ARN)["executions"]
        return [dict(e) for e in listed]

    def write_record(
        self,
        rollout_id: str,
        *,
        function_name: str = "orders-api",
        alias: str = "live",
        started_at: str = "2026-01-01T00:00:00+00:00",
        steps: tuple[int, ...] = (10,),
        step_index: int = -1,
    ) -> dict[str, Any]:
        """The record PrepareRollout writes for ``rollout_id`` (a canary 6 -> 7 by default)."""
        state = {
            "rolloutId": rollout_id,
            "executionArn": STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:")
            + f":{rollout_id}",
            "startedAt": started_at,
            "functionName": function_name,
            "alias": alias,
            "baselineVersion": "6",
            "targetVersion": "7",
            "strategy": "Canary10Percent5Minutes",
            "steps": [{"weight": w, "bakeSeconds": 300} for w in steps],
            "stepIndex": step_index,
        }
        self.store.create_record(state, lock_key(function_name, alias), started_at)
        return state

    def wait(self, rollout_id: str, kind: str = "bake", **more: str) -> str:
        """Leave a wait's token on the record, as Bake (kind ``bake``) or RunHook does.

        Returns the token: what a wake answers.
        """
        token = f"token-{kind}-{rollout_id}"
        waiting = {"kind": kind, "token": token, "since": "2026-01-01T00:00:05+00:00", **more}
        assert self.store.set_waiting(rollout_id, waiting, "2026-01-01T00:00:05+00:00")
        return token

    def task_answers(self) -> list[dict[str, Any]]:
        """What the API sends Step Functions on task tokens from now on (its wakes).

        Watches the client the handler uses (``rollouts.aws`` caches it): each
        SendTaskSuccess or SendTaskFailure, as ``{"operation": ..., **its parameters}``.
        """
        sent: list[dict[str, Any]] = []
        sfn = rollouts.aws.client("stepfunctions", retries=rollouts.aws.CALLER)

        def keep(params: dict[str, Any], model: Any, **_: Any) -> None:
            sent.append({"operation": model.name, **params})

        for operation in ("SendTaskSuccess", "SendTaskFailure"):
            sfn.meta.events.register(f"before-parameter-build.sfn.{operation}", keep)
        return sent

    def take_lock(
        self, rollout_id: str, function_name: str = "orders-api", alias: str = "live"
    ) -> None:
        """The per-alias lock, as PrepareRollout takes it."""
        self.store.acquire(lock_key(function_name, alias), rollout_id, "", "2026-01-01T00:00:00Z")

    def release_lock(
        self, rollout_id: str, function_name: str = "orders-api", alias: str = "live"
    ) -> None:
        self.store.release(lock_key(function_name, alias), rollout_id)

    def items(self, pk_prefix: str) -> list[dict[str, Any]]:
        scanned = self.table.scan(ConsistentRead=True)["Items"]
        return [i for i in scanned if str(i["pk"]).startswith(pk_prefix)]


def create_table(dynamodb: Any) -> Any:
    """The RolloutTable of template.yaml: pk/sk, and byAlias on aliasKey + startedAt."""
    return create_rollout_table(dynamodb, TABLE)
