"""The roles of a deployed stack, as moto's CloudFormation made them from the translated template.

``StackRoles.load`` maps each caller a recording names (a Lambda function's
name, or ``"states"`` for the state machine's interpreter) to its stack resource
and its IAM role: the role's inline policies (intrinsics already resolved by
CloudFormation) and the managed policy ARNs the translated template attaches.
Functions that are not stack resources (targets and hooks a test created) are
not ours, and have no entry.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from simulator import Policy

from rollouts_cli.local.faults import STATES

# A grant no recorded call uses is explained in template.yaml by a comment line right above
# its action, inside its statement (which needs a Sid):   # unexercised: <the path that needs it>
UNEXERCISED = re.compile(r"^\s*#\s*unexercised:\s*(?P<why>\S.*)$")


@dataclass(frozen=True)
class Grant:
    """One action an Allow statement of a role grants."""

    logical_id: str  # the function's or state machine's logical id in template.yaml
    policy: str
    sid: str | None
    index: int  # 1-based, as iam-simulate numbers statements
    action: str

    def describe(self) -> str:
        return f"{self.logical_id}: {self.action} ({self.policy}#{self.sid or self.index})"


@dataclass(frozen=True)
class Role:
    logical_id: str
    arn: str
    policies: tuple[Policy, ...]
    managed_policy_arns: tuple[str, ...]

    def grants(self) -> Iterator[Grant]:
        for policy in self.policies:
            statements = policy.document.get("Statement", [])
            if isinstance(statements, Mapping):
                statements = [statements]
            for index, statement in enumerate(statements, start=1):
                if statement.get("Effect") != "Allow":
                    continue
                actions = statement.get("Action", [])
                for action in [actions] if isinstance(actions, str) else actions:
                    yield Grant(self.logical_id, policy.name, statement.get("Sid"), index, action)


def _document(raw: Any) -> dict[str, Any]:
    """A policy document as IAM returns it (moto keeps the CloudFormation dict as its repr)."""
    if isinstance(raw, Mapping):
        return dict(raw)
    text = str(raw)
    try:
        loaded: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError:
        loaded = ast.literal_eval(text)
    return loaded


@dataclass(frozen=True)
class StackRoles:
    stack_name: str
    account: str
    region: str
    by_caller: Mapping[str, Role]
    # Resource policies of the stack's event buses, by bus ARN.
    bus_policies: Mapping[str, Mapping[str, Any]]

    @classmethod
    def load(cls, session: Any, endpoint: str, stack_name: str) -> StackRoles:
        def client(service: str) -> Any:
            return session.client(service, endpoint_url=endpoint)

        cloudformation, iam, lam = client("cloudformation"), client("iam"), client("lambda")
        account = str(client("sts").get_caller_identity()["Account"])
        resources = cloudformation.list_stack_resources(StackName=stack_name)[
            "StackResourceSummaries"
        ]
        template = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
        if isinstance(template, str):
            template = json.loads(template)
        declared = template["Resources"]

        def role(logical_id: str, role_arn: str) -> Role:
            name = role_arn.rsplit("/", 1)[-1]
            inline = [
                Policy(
                    p, _document(iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"])
                )
                for p in iam.list_role_policies(RoleName=name)["PolicyNames"]
            ]
            role_ids = [
                r["LogicalResourceId"]
                for r in resources
                if r["ResourceType"] == "AWS::IAM::Role" and r["PhysicalResourceId"] == name
            ]
            managed: list[str] = []
            for role_id in role_ids:
                for arn in declared[role_id]["Properties"].get("ManagedPolicyArns", []):
                    if isinstance(arn, Mapping) and "Ref" in arn:
                        # A policy of the stack's own: evaluated with the role's inline ones.
                        inline.append(own_policy(str(arn["Ref"])))
                    else:
                        managed.append(str(arn))
            return Role(logical_id, role_arn, tuple(inline), tuple(managed))

        def own_policy(policy_id: str) -> Policy:
            (arn,) = [
                r["PhysicalResourceId"]
                for r in resources
                if r["LogicalResourceId"] == policy_id
                and r["ResourceType"] == "AWS::IAM::ManagedPolicy"
            ]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)
            return Policy(policy_id, _document(document["PolicyVersion"]["Document"]))

        by_caller: dict[str, Role] = {}
        for resource in resources:
            kind, physical = resource["ResourceType"], resource["PhysicalResourceId"]
            if kind == "AWS::Lambda::Function":
                configuration = lam.get_function(FunctionName=physical)["Configuration"]
                by_caller[physical] = role(resource["LogicalResourceId"], configuration["Role"])
            elif kind == "AWS::StepFunctions::StateMachine":
                described = client("stepfunctions").describe_state_machine(stateMachineArn=physical)
                by_caller[STATES] = role(resource["LogicalResourceId"], described["roleArn"])
        bus_policies: dict[str, Mapping[str, Any]] = {}
        events = client("events")
        for resource in resources:
            if resource["ResourceType"] != "AWS::Events::EventBus":
                continue
            bus = events.describe_event_bus(Name=resource["PhysicalResourceId"])
            if bus.get("Policy"):
                bus_policies[str(bus["Arn"])] = _document(bus["Policy"])
        return cls(stack_name, account, session.region_name, by_caller, bus_policies)


def unexercised_comments(template_text: str, logical_id: str, sid: str) -> dict[str, str]:
    """action -> why, for each ``# unexercised: why`` above an action of statement ``sid``."""
    lines = template_text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if re.fullmatch(rf"  {logical_id}:\s*", line)), None
    )
    if start is None:
        return {}
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"^  \S", lines[i])), len(lines)
    )
    block = lines[start:end]
    at = next((i for i, line in enumerate(block) if re.search(rf"- Sid: {sid}\s*$", line)), None)
    if at is None:
        return {}
    indent = len(block[at]) - len(block[at].lstrip())
    found: dict[str, str] = {}
    comments: list[str] = []
    for line in block[at + 1 :]:
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and len(line) - len(line.lstrip()) <= indent:
            break  # the next statement, or the end of this policy
        if stripped.startswith("#"):
            comments.append(line)
            continue
        action = re.fullmatch(r"-\s*([\w-]+:[\w*]+)", stripped)
        for comment in comments:
            why = UNEXERCISED.match(comment)
            if action and why:
                found[action.group(1)] = why["why"]
        comments = []
    return found
