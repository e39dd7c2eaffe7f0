"""Reach a deployed control plane: boto3 clients, and the stack's outputs.

A deployed stack (``sam deploy``, or the local engine, which deploys a real
CloudFormation stack in the emulator) is found by name; its outputs give the
state machine and the rollout table. With an endpoint URL (the local engine)
no AWS configuration is needed: dummy credentials and ``us-east-1`` are used
unless given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from rollouts.scope import EVERY_FUNCTION, Scope
from rollouts.store import RolloutStore

DEFAULT_STACK_NAME = "lambda-rollouts"
LOCAL_REGION = "us-east-1"
# The emulator accepts any credentials; these are the ones the local engine itself uses.
LOCAL_CREDENTIALS = ("local", "local")
REQUIRED_OUTPUTS = ("StateMachineArn", "TableName")

# A person or a pipeline is waiting: fail within seconds when the endpoint is unreachable.
_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60
)


class StackError(Exception):
    """The stack is missing, or lacks an output the CLI needs."""


@dataclass
class Connection:
    """Where the CLI talks to: AWS (no ``endpoint_url``) or an emulator (the local engine)."""

    endpoint_url: str | None = None
    region: str | None = None
    _session: boto3.Session | None = field(default=None, repr=False)

    @property
    def session(self) -> boto3.Session:
        if self._session is None:
            self._session = self._new_session()
        return self._session

    def _new_session(self) -> boto3.Session:
        if not self.endpoint_url:
            return boto3.Session(region_name=self.region)
        # Credentials from the environment when given, else dummy ones; the shared config
        # files and instance metadata are never consulted for an emulator.
        key = os.environ.get("AWS_ACCESS_KEY_ID")
        secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
        token = os.environ.get("AWS_SESSION_TOKEN")
        if not (key and secret):
            key, secret = LOCAL_CREDENTIALS
            token = None
        return boto3.Session(
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            region_name=self.region or LOCAL_REGION,
        )

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url, config=_CONFIG)

    def table(self, name: str) -> Any:
        return self.session.resource(
            "dynamodb", endpoint_url=self.endpoint_url, config=_CONFIG
        ).Table(name)

    @property
    def where(self) -> str:
        """How messages name the place: ``http://127.0.0.1:4566`` or ``eu-west-1``."""
        return self.endpoint_url or self.session.region_name or "the default region"


@dataclass(frozen=True)
class ControlPlane:
    """The deployed control plane: its state machine, its table, and clients to reach them."""

    stack_name: str
    state_machine_arn: str
    table_name: str
    sfn: Any
    store: RolloutStore
    connection: Connection
    # The stack's TargetFunctionNamePrefix and HookFunctionNamePrefix: a request
    # outside them is refused here, naming the field. (A refusal is not put on the
    # status bus: only the control plane's own roles may put events there.)
    scope: Scope = field(default_factory=lambda: Scope(EVERY_FUNCTION, EVERY_FUNCTION))


def stack_outputs(stack: dict[str, Any]) -> dict[str, str]:
    """``{OutputKey: OutputValue}`` of one stack as DescribeStacks answers it.

    >>> stack_outputs({"Outputs": [{"OutputKey": "TableName", "OutputValue": "t"}]})
    {'TableName': 't'}
    """
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in stack.get("Outputs") or []}


def required_outputs(outputs: dict[str, str], stack_name: str) -> tuple[str, str]:
    """``(StateMachineArn, TableName)``; StackError naming every missing output."""
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise StackError(
            f"stack {stack_name} has no output {', '.join(missing)}: "
            "is it a Lambda Rollouts stack (template.yaml)?"
        )
    return outputs["StateMachineArn"], outputs["TableName"]


def find_control_plane(connection: Connection, stack_name: str) -> ControlPlane:
    """Read the stack's outputs with DescribeStacks and build the clients the commands use."""
    cloudformation = connection.client("cloudformation")
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error.response.get("Error", {}).get("Message", "")):
            raise StackError(
                f"no stack {stack_name} in {connection.where}: "
                "pass --stack-name or set ROLLOUTS_STACK_NAME"
            ) from error
        raise
    if not stacks:
        raise StackError(f"no stack {stack_name} in {connection.where}")
    arn, table = required_outputs(stack_outputs(stacks[0]), stack_name)
    return ControlPlane(
        stack_name=stack_name,
        state_machine_arn=arn,
        table_name=table,
        sfn=connection.client("stepfunctions"),
        store=RolloutStore(connection.table(table)),
        connection=connection,
        scope=Scope(
            targets=_parameter(stacks[0], "TargetFunctionNamePrefix") or EVERY_FUNCTION,
            hooks=_parameter(stacks[0], "HookFunctionNamePrefix") or EVERY_FUNCTION,
        ),
    )


def _parameter(stack: dict[str, Any], key: str) -> str | None:
    """A stack parameter's value, or None."""
    for parameter in stack.get("Parameters") or []:
        if parameter.get("ParameterKey") == key:
            return str(parameter.get("ParameterValue"))
    return None
