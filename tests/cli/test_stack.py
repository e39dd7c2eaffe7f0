"""The CLI finds the control plane by its stack: outputs, and the prefixes it may roll out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from rollouts.scope import Scope
from rollouts_cli.stack import Connection, find_control_plane

OUTPUTS = [
    {"OutputKey": "StateMachineArn", "OutputValue": "arn:aws:states:us-east-1:1:stateMachine:s"},
    {"OutputKey": "TableName", "OutputValue": "rollouts"},
]


@dataclass
class FakeCloudFormation:
    parameters: list[dict[str, str]] = field(default_factory=list)

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        return {"Stacks": [{"Outputs": OUTPUTS, "Parameters": self.parameters}]}


@dataclass
class FakeConnection(Connection):
    cloudformation: FakeCloudFormation = field(default_factory=FakeCloudFormation)

    def client(self, service: str) -> Any:
        return self.cloudformation if service == "cloudformation" else object()

    def table(self, name: str) -> Any:
        return object()


@pytest.mark.parametrize(
    ("parameters", "scope"),
    [
        pytest.param(
            {"TargetFunctionNamePrefix": "orders-", "HookFunctionNamePrefix": "orders-hooks-"},
            Scope("orders-", "orders-hooks-"),
            id="prefixes",
        ),
        pytest.param(
            {"TargetFunctionNamePrefix": "*", "HookFunctionNamePrefix": "*"},
            Scope("*", "*"),
            id="every-function",
        ),
    ],
)
def test_the_cli_refuses_what_the_stack_may_not_roll_out(
    parameters: dict[str, str], scope: Scope
) -> None:
    connection = FakeConnection(
        cloudformation=FakeCloudFormation(
            [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
        )
    )

    plane = find_control_plane(connection, "lambda-rollouts")

    assert plane.scope == scope
    assert plane.state_machine_arn.endswith(":stateMachine:s")
