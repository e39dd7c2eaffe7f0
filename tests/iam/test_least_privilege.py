"""Least privilege, proven: every AWS call the control plane makes is allowed by its role, and
every grant is used by some call or says which path needs it.

The module's fixture runs real rollouts on the session's local engine (every
path that needs a grant: prepare with a stale-lock takeover and the baseline
pin, publish from $LATEST, both hooks, shift, check, promote, finish, rollbacks,
first deploys, an abort and the API, a stopped execution and its release, starts
by EventBridge) while ``faults.recording()`` keeps every call each stack
function and the state machine made, with its parameters. ``iam_requests``
turns each into IAM requests, and @cloud-copilot/iam-simulate (``simulator``)
evaluates them against the caller's role as moto's CloudFormation created it
from the translated template (``stack_roles``), with the target bus's
resource policy for PutEvents.

Calls by functions that are not stack resources (the test's targets and hooks)
are not the control plane's, and are left out.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from iam_requests import IamRequest, UnknownOperationError, Where, requests_for
from simulator import Decision, Question, evaluate
from stack_roles import Grant, Role, StackRoles, unexercised_comments

from rollouts_cli.local import timescale
from rollouts_cli.local.deploy import project_root
from rollouts_cli.local.engine import LocalEngine
from rollouts_cli.local.faults import STATES, Call, FaultPoint, faults
from rollouts_cli.local.pytest_plugin import (
    V2,
    Rollouts,
    Target,
    alias_lock,
    create_alarm,
    create_hook,
    eventually,
    rollout_id,
    rollout_record,
)
from rollouts_cli.local.samples import create_function, update_code

pytestmark = pytest.mark.e2e

ROOT = project_root()
TEMPLATE = ROOT / "template.yaml"
API_EVENTS = ROOT / "events" / "api"
CLOUDTRAIL_UPDATE = ROOT / "events" / "eventbridge" / "cloudtrail-update-function-code.json"
HOOK_OK = "def handler(event, context):\n    return {'status': 'Succeeded'}\n"
HOOK_FAILS = "def handler(event, context):\n    return {'status': 'Failed', 'reason': 'smoke'}\n"
HOOK_PENDING = "def handler(event, context):\n    return {'status': 'Pending'}\n"

# Policies SAM attaches that hold no call of our code: they serve the Lambda and Step
# Functions services themselves (never a call a handler or the interpreter makes).
EXPLAINED_MANAGED_POLICIES = {
    # Lambda writes the function's logs with it.
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": "function logs",
    # Tracing (Globals, and the state machine's): Lambda and Step Functions send X-Ray
    # segments with it.
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": "X-Ray tracing",
}
# Inline grants that serve the services, not a call of ours: (Sid, or the suffix of the
# policy name SAM gives, action) -> why.
EXPLAINED_GRANTS = {
    # EventInvokeConfig OnFailure SQS: Lambda itself sends a failed async event there.
    ("EventInvokeConfigOnFailureSQSPolicy", "sqs:SendMessage"): "Lambda's on-failure destination",
    # Logging on the state machine: Step Functions' vended log delivery (Resource "*").
    **{
        ("DeliverExecutionLogs", f"logs:{action}"): "Step Functions execution log delivery"
        for action in (
            "CreateLogDelivery",
            "GetLogDelivery",
            "UpdateLogDelivery",
            "DeleteLogDelivery",
            "ListLogDeliveries",
            "PutResourcePolicy",
            "DescribeResourcePolicies",
            "DescribeLogGroups",
        )
    },
}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- driving the control plane -------------------------------------------------------------
def api_event(sample: str, body: Any = None, **path: str) -> dict[str, Any]:
    """``events/api/<sample>.json`` with its path parameters (and body) replaced."""
    event: dict[str, Any] = json.loads((API_EVENTS / f"{sample}.json").read_text())
    event = copy.deepcopy(event)
    parameters = {**(event.get("pathParameters") or {}), **path}
    resource = str(event["resource"])
    for key, value in parameters.items():
        resource = resource.replace(f"{{{key}}}", value)
    event["path"] = resource
    event["pathParameters"] = parameters
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{resource}"
    if body is not None:
        event["body"] = json.dumps(body)
    # Each start is a request of its own (the sample's key would make a second one a replay).
    key = _name("lp-start")
    if "Idempotency-Key" in (event.get("headers") or {}):
        event["headers"]["Idempotency-Key"] = key
        event.setdefault("multiValueHeaders", {})["Idempotency-Key"] = [key]
    return event


@dataclass
class ControlPlane:
    engine: LocalEngine
    roles: StackRoles
    recorded: list[Call]

    def function(self, logical_id: str) -> str:
        (name,) = [n for n, r in self.roles.by_caller.items() if r.logical_id == logical_id]
        return name

    def api(self, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke the deployed ApiFunction with an API Gateway proxy event; its decoded answer."""
        answer = self.engine.client("lambda").invoke(
            FunctionName=self.function("ApiFunction"), Payload=json.dumps(event).encode()
        )
        proxy = json.loads(answer["Payload"].read())
        assert "statusCode" in proxy, proxy
        body = json.loads(proxy["body"]) if proxy.get("body") else None
        return {"status": proxy["statusCode"], "body": body}

    def put_event(self, source: str, detail_type: str, detail: Mapping[str, Any], bus: str) -> None:
        entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}
        answer = self.engine.client("events").put_events(Entries=[{**entry, "EventBusName": bus}])
        assert answer["FailedEntryCount"] == 0, answer

    def status_events(self) -> list[Call]:
        """The refusals put so far by the start and API functions (their PutEvents calls)."""
        callers = {self.function("StartRolloutFunction"), self.function("ApiFunction")}
        return [c for c in self.recorded if c.operation == "PutEvents" and c.function in callers]

    def started_for(self, function: str) -> str:
        sfn = self.engine.client("stepfunctions")

        def find() -> list[str]:
            listed = sfn.list_executions(stateMachineArn=self.engine.info.state_machine_arn)
            return [
                e["executionArn"]
                for e in listed["executions"]
                if e["name"].startswith(f"{function}-live-")
            ]

        (arn,) = eventually(find, f"an execution for {function}")
        return str(arn)

    @contextlib.contextmanager
    def rule_disabled(self, function: str) -> Iterator[None]:
        """The events for ``function`` (a logical name) are late while this block runs:
        e.g. the cleanup after a stop (ReleaseRolloutFunction), an alarm's wake."""
        events = self.engine.client("events")
        (rule,) = [
            r["Name"]
            for r in events.list_rules()["Rules"]
            if any(
                self.function(function) in t["Arn"]
                for t in events.list_targets_by_rule(Rule=r["Name"])["Targets"]
            )
        ]
        events.disable_rule(Name=rule)
        try:
            yield
        finally:
            events.enable_rule(Name=rule)


def _at_first_step(target: Target) -> None:
    eventually(lambda: target.alias() == ("1", {"2": 0.1}), f"{target.name} at 10%")


def _waiting(engine: LocalEngine, arn: str, kind: str) -> bool:
    """Whether the rollout has left the token of a wait of ``kind`` (bake, PreTraffic)."""
    record = rollout_record(engine, rollout_id(arn)) or {}
    return (record.get("waiting") or {}).get("kind") == kind


def _held(engine: LocalEngine, arn: str) -> bool:
    """Whether the rollout holds its weight now (paused)."""
    record = rollout_record(engine, rollout_id(arn)) or {}
    return bool((record.get("state") or {}).get("held"))


def run_every_path(plane: ControlPlane) -> None:
    """Rollouts along every path that needs a grant (each asserted only as far as it must)."""
    engine = plane.engine
    rollouts = Rollouts(engine)
    canary_30 = {"strategy": "Canary10Percent30Minutes", "checkIntervalSeconds": 60}

    # Publish from $LATEST, pin the baseline, both hooks, alarms, shift, checks, promote, finish.
    target = Target(engine, _name("lp-canary"), second="upload")
    pre = create_hook(engine, _name("lp-hook-pre"), HOOK_OK)
    post = create_hook(engine, _name("lp-hook-post"), HOOK_OK)
    alarm = create_alarm(engine, _name("lp-errors"))
    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "strategy": "Canary10Percent5Minutes",
            "alarms": [alarm],
            "hooks": {"preTraffic": pre, "postTraffic": post},
        }
    )
    assert ended.status == "SUCCEEDED", ended.cause

    # A failing PostTraffic hook after promotion: the rollback moves the alias back.
    target = Target(engine, _name("lp-rollback"))
    failing = create_hook(engine, _name("lp-hook-fails"), HOOK_FAILS)
    ended = rollouts.run(
        {
            "functionName": target.name,
            "alias": "live",
            "version": "2",
            "strategy": "AllAtOnce",
            "hooks": {"postTraffic": failing},
        }
    )
    assert (ended.status, ended.error) == ("FAILED", "RolledBack"), ended.cause

    # First deploys: one creates the alias, one fails after and deletes the alias it created.
    for hooks, status in (({}, "SUCCEEDED"), ({"postTraffic": failing}, "FAILED")):
        fresh = _name("lp-fresh")
        create_function(engine.client("lambda"), engine.client("iam"), fresh, V2)
        ended = rollouts.run(
            {
                "functionName": fresh,
                "alias": "live",
                "version": "1",
                "strategy": "AllAtOnce",
                "hooks": hooks,
                "createAlias": True,
            }
        )
        assert ended.status == status, ended.cause

    timescale.set_time_scale(0.01)  # a 60 s check interval lasts 0.6 s
    try:
        # The API: start (once per Idempotency-Key), describe, list, abort -> rolled back.
        target = Target(engine, _name("lp-api"))
        path = {"functionName": target.name, "alias": "live"}
        started = plane.api(api_event("start-rollout", {"version": "2", **canary_30}, **path))
        assert started["status"] == 202, started
        arn = plane.started_for(target.name)
        _at_first_step(target)
        rollout = rollout_id(arn)
        assert plane.api(api_event("describe-rollout", rolloutId=rollout, **path))["status"] == 200
        assert plane.api(api_event("list-rollouts", **path))["status"] == 200
        aborted = plane.api(
            api_event("abort-rollout", {"reason": "bad"}, rolloutId=rollout, **path)
        )
        assert aborted["status"] == 202, aborted
        assert rollouts.wait(arn).error == "RolledBack"

        # An alarm entering ALARM during a bake: the wake function finds the rollouts
        # watching it and ends their bakes (SendTaskSuccess) -> rolled back.
        target = Target(engine, _name("lp-woken"))
        alarm = create_alarm(engine, _name("lp-woken-errors"))
        arn = rollouts.start(
            {"functionName": target.name, "alias": "live", "version": "2", "alarms": [alarm]}
            | canary_30
        )
        eventually(lambda: _waiting(engine, arn, "bake"), "the first bake")
        engine.client("cloudwatch").set_alarm_state(
            AlarmName=alarm, StateValue="ALARM", StateReason="errors"
        )
        assert rollouts.wait(arn).error == "RolledBack"

        # An alarm that fired after ShiftTraffic looked and before the bake left its
        # token, its event late: the bake's own first look ends its wait (CheckHealth's
        # SendTaskSuccess).
        target = Target(engine, _name("lp-raced"))
        alarm = create_alarm(engine, _name("lp-raced-errors"))
        cloudwatch = engine.client("cloudwatch")
        token_write = FaultPoint("dynamodb", "UpdateItem", plane.function("CheckHealthFunction"), 1)

        def fire() -> None:
            cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx")

        with plane.rule_disabled("WakeRolloutsFunction"), faults.before(token_write, fire):
            ended = rollouts.run(
                {"functionName": target.name, "alias": "live", "version": "2", "alarms": [alarm]}
                | canary_30
            )
        assert ended.error == "RolledBack", ended.cause

        # The API's abort of a rollout waiting for a hook's answer fails the wait
        # (SendTaskFailure).
        target = Target(engine, _name("lp-pending"))
        pending = create_hook(engine, _name("lp-hook-pending"), HOOK_PENDING)
        arn = rollouts.start(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": "AllAtOnce",
                "hooks": {"preTraffic": pending},
            }
        )
        eventually(lambda: _waiting(engine, arn, "PreTraffic"), "the hook's wait")
        path = {"functionName": target.name, "alias": "live", "rolloutId": rollout_id(arn)}
        aborted = plane.api(api_event("abort-rollout", {"reason": "bad"}, **path))
        assert aborted["status"] == 202, aborted
        assert rollouts.wait(arn).error == "RolledBack"

        # An alarm entering ALARM while a PostTraffic hook's answer is awaited: the wake
        # function fails the hook's wait (SendTaskFailure) -> rolled back.
        target = Target(engine, _name("lp-hook-alarm"))
        alarm = create_alarm(engine, _name("lp-hook-alarm-errors"))
        arn = rollouts.start(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": "AllAtOnce",
                "alarms": [alarm],
                "hooks": {"postTraffic": pending},
            }
        )
        eventually(lambda: _waiting(engine, arn, "PostTraffic"), "the hook's wait")
        engine.client("cloudwatch").set_alarm_state(
            AlarmName=alarm, StateValue="ALARM", StateReason="errors"
        )
        assert rollouts.wait(arn).error == "RolledBack"

        # Analysis: CheckHealth reads both versions' own traffic (GetMetricData), and an
        # inconclusive step (no traffic here) goes on as asked.
        target = Target(engine, _name("lp-analysis"))
        ended = rollouts.run(
            {
                "functionName": target.name,
                "alias": "live",
                "version": "2",
                "strategy": {"steps": [{"weight": 50, "bakeSeconds": 180}]},
                "checkIntervalSeconds": 60,
                "analysis": {"maxErrorRate": 5, "settleSeconds": 60, "inconclusive": "continue"},
            }
        )
        assert ended.status == "SUCCEEDED", ended.cause

        # The API's pause and resume: CheckHealth announces the hold (paused, resumed).
        target = Target(engine, _name("lp-paused"))
        arn = rollouts.start(
            {"functionName": target.name, "alias": "live", "version": "2"} | canary_30
        )
        eventually(lambda: _waiting(engine, arn, "bake"), "the first bake")
        path = {"functionName": target.name, "alias": "live", "rolloutId": rollout_id(arn)}
        assert plane.api(api_event("pause-rollout", {"reason": "look"}, **path))["status"] == 202
        eventually(lambda: _held(engine, arn), "the hold")
        assert plane.api(api_event("resume-rollout", None, **path))["status"] == 202
        eventually(lambda: _waiting(engine, arn, "bake") and not _held(engine, arn), "the bake")
        assert plane.api(api_event("abort-rollout", {"reason": "done"}, **path))["status"] == 202
        assert rollouts.wait(arn).error == "RolledBack"

        # A stopped execution: the release function restores the alias and frees the lock.
        # It watched an alarm: the release forgets the watch.
        target = Target(engine, _name("lp-stopped"))
        alarm = create_alarm(engine, _name("lp-stopped-errors"))
        arn = rollouts.start(
            {"functionName": target.name, "alias": "live", "version": "2", "alarms": [alarm]}
            | canary_30
        )
        _at_first_step(target)
        engine.client("stepfunctions").stop_execution(executionArn=arn, cause="stopped")
        eventually(lambda: alias_lock(engine, target.name) is None, "the release", 30)

        # A lock left by an execution that ended without cleanup; then a Rollout Requested
        # event: the start function tells the lock is stale (DescribeExecution), and the
        # preparation takes it over and restores the alias.
        target = Target(engine, _name("lp-stale"))
        with plane.rule_disabled("ReleaseRolloutFunction"):
            arn = rollouts.start(
                {"functionName": target.name, "alias": "live", "version": "2", **canary_30}
            )
            _at_first_step(target)
            engine.client("stepfunctions").stop_execution(executionArn=arn)
            assert rollouts.wait(arn).status == "ABORTED"
    finally:
        timescale.set_time_scale(0.0)
    assert alias_lock(engine, target.name) is not None
    request = {
        "functionName": target.name,
        "alias": "live",
        "version": "2",
        "strategy": "AllAtOnce",
    }
    plane.put_event("lambda-rollouts", "Rollout Requested", request, engine.info.request_bus_name)
    ended = rollouts.wait(plane.started_for(target.name))
    assert ended.status == "SUCCEEDED", ended.cause

    # Refusals, announced on the status bus: a bad request by event, and by the API.
    bad = {**request, "strategy": "Bogus"}
    refused = len(plane.status_events())
    plane.put_event("lambda-rollouts", "Rollout Requested", bad, engine.info.request_bus_name)
    path = {"functionName": target.name, "alias": "live"}
    refusal = plane.api(api_event("start-rollout", {"version": "2", "strategy": "Bogus"}, **path))
    assert 400 <= refusal["status"] < 500, refusal
    eventually(lambda: len(plane.status_events()) >= refused + 2, "two refusals")

    # An automatic rollout: CloudTrail's record of a code update of a tagged function.
    target = Target(
        engine,
        _name("lp-tagged"),
        second=None,
        tags={"rollouts:alias": "live", "rollouts:strategy": "AllAtOnce"},
    )
    update_code(target.lam, target.name, V2)
    event = json.loads(CLOUDTRAIL_UPDATE.read_text())
    detail = event["detail"]
    sha = target.lam.get_function(FunctionName=target.name)["Configuration"]["CodeSha256"]
    detail["requestParameters"]["functionName"] = target.name
    detail["responseElements"].update(
        functionName=target.name, functionArn=target.arn, codeSha256=sha
    )
    plane.put_event(event["source"], event["detail-type"], detail, "default")
    assert rollouts.wait(plane.started_for(target.name)).status == "SUCCEEDED"


# -- evaluating -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluated:
    call: Call
    role: Role
    request: IamRequest
    decision: Decision

    def describe(self) -> str:
        return (
            f"{self.role.logical_id} ({self.call.function}) {self.call.service}"
            f" {self.call.operation} -> {self.request.describe()}: {self.decision.reason()}"
        )


@dataclass(frozen=True)
class Recording:
    roles: StackRoles
    calls: list[Call]
    evaluated: list[Evaluated]
    unknown: list[str]
    skipped: Counter[str]


def resource_policy(roles: StackRoles, request: IamRequest) -> Mapping[str, Any] | None:
    return (
        roles.bus_policies.get(request.resource) if request.action == "events:PutEvents" else None
    )


def evaluate_calls(roles: StackRoles, calls: list[Call]) -> Recording:
    where = Where(roles.region, roles.account)
    pending: list[tuple[Call, Role, IamRequest]] = []
    unknown: list[str] = []
    skipped: Counter[str] = Counter()
    for call in calls:
        role = roles.by_caller.get(call.function)
        if role is None:
            skipped[call.function] += 1
            continue
        try:
            requests = requests_for(call.service, call.operation, call.params, where)
        except UnknownOperationError as error:
            unknown.append(f"{call.function}: {error}")
            continue
        pending += [(call, role, request) for request in requests]
    questions = [
        Question(role.arn, roles.account, request, role.policies, resource_policy(roles, request))
        for _, role, request in pending
    ]
    decisions = evaluate(questions)
    evaluated = [
        Evaluated(call, role, request, decision)
        for (call, role, request), decision in zip(pending, decisions, strict=True)
    ]
    return Recording(roles, calls, evaluated, unknown, skipped)


@pytest.fixture(scope="module")
def recording(local_engine: LocalEngine) -> Recording:
    roles = StackRoles.load(
        local_engine.session(), local_engine.endpoint, local_engine.info.stack_name
    )
    with faults.recording() as calls:
        run_every_path(ControlPlane(local_engine, roles, calls))
    return evaluate_calls(roles, list(calls))


def test_every_call_is_allowed_by_the_callers_role(recording: Recording) -> None:
    assert not recording.unknown, "calls with no IAM mapping:\n" + "\n".join(recording.unknown)
    denied = [e.describe() for e in recording.evaluated if not e.decision.allowed]
    assert not denied, f"{len(denied)} denied:\n" + "\n".join(sorted(set(denied)))


# Every path the scenarios must have taken (a call each): a grant proven used only if its
# path ran. (logical id, action)
PATHS = {
    ("RolloutStateMachine", "lambda:InvokeFunction"),
    ("PrepareRolloutFunction", "states:DescribeExecution"),  # a stale lock's execution
    ("PrepareRolloutFunction", "lambda:CreateAlias"),  # the baseline pin
    ("PrepareRolloutFunction", "lambda:UpdateAlias"),  # a stale rollout's alias restored
    ("PublishVersionFunction", "lambda:PublishVersion"),
    ("RunHookFunction", "lambda:InvokeFunction"),
    ("ShiftTrafficFunction", "lambda:UpdateAlias"),
    ("CheckHealthFunction", "cloudwatch:DescribeAlarms"),
    ("PromoteTargetFunction", "lambda:CreateAlias"),  # a first deploy
    ("RollBackFunction", "lambda:UpdateAlias"),
    ("RollBackFunction", "lambda:DeleteAlias"),  # a failed first deploy
    ("FinishRolloutFunction", "lambda:DeleteAlias"),  # the pin removed
    ("ReleaseRolloutFunction", "lambda:UpdateAlias"),
    ("StartRolloutFunction", "states:DescribeExecution"),  # refuse_if_busy on a stale lock
    ("StartRolloutFunction", "states:StartExecution"),
    ("StartRolloutFunction", "lambda:ListTags"),
    ("StartRolloutFunction", "events:PutEvents"),  # a refusal
    ("ApiFunction", "events:PutEvents"),  # a refusal
    ("ApiFunction", "states:StartExecution"),
    ("ApiFunction", "dynamodb:Query"),
    ("ApiFunction", "dynamodb:UpdateItem"),
}


def test_the_scenarios_took_every_path(recording: Recording) -> None:
    taken = {(e.role.logical_id, e.request.action) for e in recording.evaluated}
    assert not PATHS - taken, f"paths not taken: {sorted(PATHS - taken)}"


def _explained_inline(grant: Grant) -> str | None:
    for (name, action), why in EXPLAINED_GRANTS.items():
        if action == grant.action and name in (
            grant.sid,
            grant.policy.removeprefix(grant.logical_id),
        ):
            return why
    return None


def test_every_grant_is_used_or_says_which_path_needs_it(recording: Recording) -> None:
    template_text = TEMPLATE.read_text()
    used = {
        (e.role.logical_id, ref.policy, ref.index, e.request.action)
        for e in recording.evaluated
        for ref in e.decision.allowed_by
    }
    idle: list[str] = []
    stale: list[str] = []
    for role in {r.logical_id: r for r in recording.roles.by_caller.values()}.values():
        for managed in role.managed_policy_arns:
            if managed not in EXPLAINED_MANAGED_POLICIES:
                idle.append(f"{role.logical_id}: managed policy {managed} is not explained")
        for grant in role.grants():
            explained = grant.sid is not None and grant.action in unexercised_comments(
                template_text, grant.logical_id, grant.sid
            )
            if (grant.logical_id, grant.policy, grant.index, grant.action) in used:
                if explained:
                    stale.append(grant.describe())
            elif not explained and not _explained_inline(grant):
                idle.append(grant.describe())
    assert not idle, (
        "grants no recorded call used (remove them, or say which path needs them with"
        " '# unexercised: <path>' above the action):\n" + "\n".join(idle)
    )
    assert not stale, "used, yet commented '# unexercised' in template.yaml:\n" + "\n".join(stale)


# -- scoped by prefix, and by item ----------------------------------------------------------------
def misjudged(roles: StackRoles, expected: Mapping[tuple[str, IamRequest], bool]) -> list[str]:
    """Each (logical id, request) whose decision is not the expected one (True: allowed), why."""
    by_logical = {r.logical_id: r for r in roles.by_caller.values()}
    questions = [
        Question(by_logical[logical].arn, roles.account, request, by_logical[logical].policies)
        for logical, request in expected
    ]
    decisions = evaluate(questions)
    return [
        f"{logical}: {request.describe()} should be {'allowed' if allowed else 'denied'}:"
        f" {decision.reason()}"
        for ((logical, request), allowed), decision in zip(expected.items(), decisions, strict=True)
        if decision.allowed != allowed
    ]


def test_no_task_may_touch_the_control_plane_s_own_functions(recording: Recording) -> None:
    """The engine's prefixes are "*": still, what this stack made is out of every task's reach."""
    roles = recording.roles
    own = next(arn for arn in _function_arns(roles) if "ApiFunction" in arn)
    tagged = (("aws:ResourceTag/aws:cloudformation:stack-name", (roles.stack_name,)),)
    other = (("aws:ResourceTag/aws:cloudformation:stack-name", ("orders-service",)),)
    user = own.rsplit(":function:", 1)[0] + ":function:orders-api"

    expected = {
        ("RunHookFunction", IamRequest("lambda:InvokeFunction", own, tagged)): False,
        ("ShiftTrafficFunction", IamRequest("lambda:UpdateAlias", own, tagged)): False,
        ("PublishVersionFunction", IamRequest("lambda:PublishVersion", own, tagged)): False,
        ("PrepareRolloutFunction", IamRequest("lambda:CreateAlias", own, tagged)): False,
        # A function of another stack, or of none, is a target like any other.
        ("RunHookFunction", IamRequest("lambda:InvokeFunction", user, other)): True,
        ("ShiftTrafficFunction", IamRequest("lambda:UpdateAlias", user, other)): True,
        ("ShiftTrafficFunction", IamRequest("lambda:UpdateAlias", user)): True,
    }
    wrong = misjudged(roles, expected)
    assert not wrong, "\n".join(wrong)


def _function_arns(roles: StackRoles) -> list[str]:
    return [
        f"arn:aws:lambda:{roles.region}:{roles.account}:function:{name}"
        for name in roles.by_caller
        if name != STATES
    ]


SCOPED_REGION = "eu-west-1"


@pytest.fixture(scope="module")
def scoped_roles(local_engine: LocalEngine) -> StackRoles:
    """The template deployed again, in another region (inert there), with real prefixes."""
    name = "lambda-rollouts-scoped"
    local_engine.deploy_copy(
        name,
        SCOPED_REGION,
        TargetFunctionNamePrefix="orders-",
        HookFunctionNamePrefix="orders-hooks-",
    )
    return StackRoles.load(local_engine.session(SCOPED_REGION), local_engine.endpoint, name)


def _moved(request: IamRequest, old: str, new: str, roles: StackRoles) -> IamRequest:
    """``request`` in the scoped stack's region, on function ``new`` instead of ``old``."""
    resource = request.resource.replace(f":function:{old}", f":function:{new}")
    resource = re.sub(r"^(arn:aws:\w+:)[^:]+(:)", rf"\g<1>{roles.region}\2", resource)
    return IamRequest(request.action, resource, request.context)


def test_a_call_outside_the_target_or_hook_prefix_is_denied(
    recording: Recording, scoped_roles: StackRoles
) -> None:
    """Each recorded Lambda call on a target or hook, moved inside and outside the prefixes."""
    cases: dict[tuple[str, IamRequest], bool] = {}
    for evaluated in recording.evaluated:
        found = re.search(r":function:(lp-[a-z-]+-[0-9a-f]{8})", evaluated.request.resource)
        if not evaluated.request.action.startswith("lambda:") or not found:
            continue
        if found[1].startswith("lp-hook-"):
            inside, outside = "orders-hooks-smoke", "payments-hooks-smoke"
        else:
            inside, outside = "orders-api", "payments-api"
        logical = evaluated.role.logical_id
        cases[(logical, _moved(evaluated.request, found[1], inside, scoped_roles))] = True
        cases[(logical, _moved(evaluated.request, found[1], outside, scoped_roles))] = False
    assert (
        "ShiftTrafficFunction",
        IamRequest(
            "lambda:UpdateAlias",
            f"arn:aws:lambda:{SCOPED_REGION}:{scoped_roles.account}:function:payments-api",
        ),
    ) in cases
    wrong = misjudged(scoped_roles, cases)
    assert not wrong, "\n".join(wrong)


def test_the_table_is_split_by_need(recording: Recording) -> None:
    """The API cannot delete a lock; a task touches only records, locks and hook answers."""
    table = next(
        e.request.resource for e in recording.evaluated if e.request.action == "dynamodb:GetItem"
    )
    table = table.split("/index/")[0]

    def leading(action: str, key: str) -> IamRequest:
        return IamRequest(f"dynamodb:{action}", table, (("dynamodb:LeadingKeys", (key,)),))

    expected = {
        ("ApiFunction", leading("DeleteItem", "LOCK#orders-api:live")): False,
        ("ApiFunction", leading("PutItem", "LOCK#orders-api:live")): False,
        ("ApiFunction", leading("DeleteItem", "ROLLOUT#r1")): False,
        ("ApiFunction", leading("DeleteItem", "IDEMPOTENCY#api")): True,
        # Neither may write the other's idempotency records (a forged hook answer).
        ("ApiFunction", leading("PutItem", "IDEMPOTENCY#hooks")): False,
        ("ApiFunction", leading("UpdateItem", "IDEMPOTENCY#hooks")): False,
        ("RunHookFunction", leading("DeleteItem", "IDEMPOTENCY#api")): False,
        ("ApiFunction", leading("GetItem", "LOCK#orders-api:live")): True,
        ("ApiFunction", leading("UpdateItem", "ROLLOUT#r1")): True,
        ("StartRolloutFunction", leading("GetItem", "LOCK#orders-api:live")): True,
        ("StartRolloutFunction", leading("GetItem", "ROLLOUT#r1")): False,
        ("ShiftTrafficFunction", leading("DeleteItem", "LOCK#orders-api:live")): False,
        ("ShiftTrafficFunction", leading("UpdateItem", "OTHER#x")): False,
        ("RunHookFunction", leading("PutItem", "IDEMPOTENCY#hooks")): True,
        ("RunHookFunction", leading("PutItem", "LOCK#orders-api:live")): False,
        ("PrepareRolloutFunction", leading("PutItem", "LOCK#orders-api:live")): True,
        ("PrepareRolloutFunction", leading("PutItem", "IDEMPOTENCY#hooks")): False,
        ("FinishRolloutFunction", leading("DeleteItem", "LOCK#orders-api:live")): True,
    }
    wrong = misjudged(recording.roles, expected)
    assert not wrong, "\n".join(wrong)


def test_every_call_of_the_control_plane_was_judged(recording: Recording) -> None:
    """No call by a stack function or the state machine went unevaluated (mapped to nothing)."""
    ours = {id(call) for call in recording.calls if call.function in recording.roles.by_caller}
    judged = {id(e.call) for e in recording.evaluated}

    assert recording.unknown == []
    assert ours == judged
    assert len(judged) > 100  # the scenarios made real traffic, not a handful of calls
