"""Who may put events on the stack's buses, decided by a real IAM evaluator.

The template is deployed to the local engine in regions of its own (the
emulator keeps regions apart, and enforces no policy), once with named
requesters and once with none; each bus policy, as CloudFormation resolved it,
is then evaluated by @cloud-copilot/iam-simulate together with the caller's own
identity policy, the way EventBridge authorizes a PutEvents:

- "Rollout Requested" is heard only on the request bus, and only the principals
  of ``RolloutRequesters`` may put there, even when their own role allows
  ``events:PutEvents`` everywhere (as application roles often do);
- only the control plane's roles may put on the status bus, so no one can forge
  a status event that a consumer's rule on it would trust.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from iam_requests import IamRequest
from simulator import Decision, Policy, Question, evaluate
from stack_roles import StackRoles

from rollouts_cli.local.engine import LOCAL_PARAMETERS, LocalEngine

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "444455556666"
PIPELINE = f"arn:aws:iam::{ACCOUNT}:role/orders-pipeline"
APPLICATION = f"arn:aws:iam::{ACCOUNT}:role/orders-api-runtime"
DEPLOYER = f"arn:aws:iam::{OTHER_ACCOUNT}:role/release-deployer"
STRANGER = f"arn:aws:iam::{OTHER_ACCOUNT}:role/anything"
# What many application and CI roles hold: PutEvents on every bus.
PUT_ANYWHERE = Policy(
    "PutEventsAnywhere",
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}],
    },
)


@dataclass(frozen=True)
class Deployed:
    region: str
    request_bus: str
    status_bus: str
    policies: dict[str, dict[str, Any]]
    roles: dict[str, str]
    # Each rule's name -> (bus, event pattern sources), as deployed.
    rules: dict[str, tuple[str, list[str]]]

    def bus_arn(self, name: str) -> str:
        return f"arn:aws:events:{self.region}:{ACCOUNT}:event-bus/{name}"


def _deploy(engine: LocalEngine, region: str, requesters: str) -> Deployed:
    stack = engine.deploy_copy(
        "buses", region, RolloutRequesters=requesters, AutomaticRollouts="Disabled"
    )
    session = engine.session(region)
    stack_roles = StackRoles.load(session, engine.endpoint, stack.name)
    buses = {
        name: f"arn:aws:events:{region}:{ACCOUNT}:event-bus/{name}"
        for name in (stack.outputs["RequestBusName"], stack.outputs["StatusBusName"])
    }
    events = session.client("events", endpoint_url=engine.endpoint)
    rules = {
        rule["Name"]: (bus, json.loads(rule["EventPattern"])["source"])
        for bus in ("default", *buses)
        for rule in events.list_rules(EventBusName=bus)["Rules"]
        if rule.get("EventPattern")
    }
    return Deployed(
        rules=rules,
        region=region,
        request_bus=stack.outputs["RequestBusName"],
        status_bus=stack.outputs["StatusBusName"],
        policies={name: dict(stack_roles.bus_policies[arn]) for name, arn in buses.items()},
        # SAM names each function's role <function>Role (the state machine's too).
        roles={f"{role.logical_id}Role": role.arn for role in stack_roles.by_caller.values()},
    )


@pytest.fixture(scope="module")
def named(local_engine: LocalEngine) -> Iterator[Deployed]:
    yield _deploy(local_engine, "eu-west-1", f"{PIPELINE},{DEPLOYER}")


@pytest.fixture(scope="module")
def nobody(local_engine: LocalEngine) -> Iterator[Deployed]:
    yield _deploy(local_engine, "eu-west-2", "")


def put_events(deployed: Deployed, principal: str, bus: str) -> Decision:
    account = principal.split(":")[4]
    # What IAM sets for a role's session (the evaluator is told, it does not infer it).
    context = (("aws:PrincipalArn", (principal,)), ("aws:PrincipalAccount", (account,)))
    request = IamRequest("events:PutEvents", deployed.bus_arn(bus), context)
    question = Question(
        principal=principal,
        account=account,
        request=request,
        policies=(PUT_ANYWHERE,),
        resource_policy=deployed.policies[bus],
    )
    (decision,) = evaluate([question])
    return decision


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        pytest.param(PIPELINE, True, id="named-requester"),
        pytest.param(DEPLOYER, True, id="named-requester-of-another-account"),
        pytest.param(APPLICATION, False, id="any-other-role-of-the-account"),
        pytest.param(STRANGER, False, id="any-other-account"),
    ],
)
def test_only_the_named_requesters_may_put_on_the_request_bus(
    named: Deployed, principal: str, allowed: bool
) -> None:
    decision = put_events(named, principal, named.request_bus)

    assert decision.allowed is allowed, decision.reason()
    if not allowed:
        assert decision.decision in ("ExplicitlyDenied", "ImplicitlyDenied"), decision.reason()


@pytest.mark.parametrize("principal", [PIPELINE, APPLICATION, DEPLOYER])
def test_with_no_requesters_nobody_may_put_on_the_request_bus(
    nobody: Deployed, principal: str
) -> None:
    decision = put_events(nobody, principal, nobody.request_bus)

    assert not decision.allowed, decision.reason()


def test_the_control_plane_may_put_status_events(named: Deployed) -> None:
    emitters = [
        "PrepareRolloutFunctionRole",
        "ShiftTrafficFunctionRole",
        "CheckHealthFunctionRole",
        "PromoteTargetFunctionRole",
        "RollBackFunctionRole",
        "FinishRolloutFunctionRole",
        "ReleaseRolloutFunctionRole",
        "StartRolloutFunctionRole",
        "ApiFunctionRole",
    ]

    decisions = {role: put_events(named, named.roles[role], named.status_bus) for role in emitters}

    assert {role: d.allowed for role, d in decisions.items()} == dict.fromkeys(emitters, True), {
        role: d.reason() for role, d in decisions.items()
    }


@pytest.mark.parametrize(
    "principal",
    [
        pytest.param(PIPELINE, id="a-requester"),
        pytest.param(APPLICATION, id="any-role-of-the-account"),
        pytest.param(STRANGER, id="another-account"),
    ],
)
def test_nobody_else_may_forge_a_status_event(named: Deployed, principal: str) -> None:
    decision = put_events(named, principal, named.status_bus)

    assert decision.decision == "ExplicitlyDenied", decision.reason()


def test_a_task_without_status_events_may_not_put_them(named: Deployed) -> None:
    """Even a role of the stack: RunHook, PublishVersion and WakeRollouts announce nothing."""
    for role in ("RunHookFunctionRole", "PublishVersionFunctionRole", "WakeRolloutsFunctionRole"):
        decision = put_events(named, named.roles[role], named.status_bus)

        assert decision.decision == "ExplicitlyDenied", (role, decision.reason())


def _sources(deployed: Deployed) -> list[tuple[str, list[str]]]:
    return sorted((bus.removeprefix("buses-"), sources) for bus, sources in deployed.rules.values())


def test_with_automatic_rollouts_off_no_code_update_is_heard(named: Deployed) -> None:
    """Deployed with the default, Disabled: only the cleanup, alarm and request rules exist."""
    assert _sources(named) == [
        ("default", ["aws.cloudwatch"]),
        ("default", ["aws.states"]),
        ("requests", ["lambda-rollouts"]),
    ]


def test_with_automatic_rollouts_on_code_updates_are_heard(local_engine: LocalEngine) -> None:
    """The engine deploys with AutomaticRollouts=Enabled: the code update rule is there."""
    assert LOCAL_PARAMETERS["AutomaticRollouts"] == "Enabled"
    events = local_engine.client("events")
    default = events.list_rules(EventBusName="default")["Rules"]
    sources = sorted(json.loads(r["EventPattern"])["source"][0] for r in default)

    assert "aws.lambda" in sources and "aws.states" in sources
    assert all(r["State"] == "ENABLED" for r in default)
