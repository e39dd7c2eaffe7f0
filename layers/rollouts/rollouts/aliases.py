"""Lambda functions, versions and aliases, as the rollout sees them.

Weights are integer percents everywhere else; this module alone converts them
to Lambda's 0.0-1.0 floats. Every alias write passes the ``RevisionId`` the
rollout last read, so Lambda refuses to overwrite somebody else's change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

from rollouts.aws import aws_errors
from rollouts.errors import NotFoundError, RolloutError, from_client_error


class InvocationTimeoutError(RolloutError):
    """A synchronous invocation got no answer within the client's read timeout."""


@dataclass(frozen=True)
class AliasConfig:
    """Where an alias sends traffic: a primary version, and at most one other with a percent."""

    version: str
    extra: dict[str, int] = field(default_factory=dict)
    revision_id: str = ""

    def same_routing(self, other: AliasConfig) -> bool:
        return self.version == other.version and self.extra == other.extra

    def describe(self) -> str:
        """``"version 6"`` or ``"version 6 with 10% on 7"``."""
        text = f"version {self.version}"
        for version, weight in self.extra.items():
            text += f" with {weight}% on {version}"
        return text


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    arn: str


def percent(weight: float) -> int:
    """Lambda's float weight as an integer percent: ``percent(0.1) == 10``."""
    return round(float(weight) * 100)


class Lambda:
    """The Lambda API calls a rollout makes."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def function(self, name_or_arn: str) -> FunctionInfo:
        """The function's plain name and unqualified ARN; NotFoundError when it does not exist."""
        with aws_errors():
            config = self._client.get_function_configuration(FunctionName=name_or_arn)
        return FunctionInfo(name=config["FunctionName"], arn=config["FunctionArn"])

    def has_version(self, function_name: str, version: str) -> bool:
        try:
            with aws_errors():
                self._client.get_function_configuration(
                    FunctionName=function_name, Qualifier=version
                )
        except NotFoundError:
            return False
        return True

    def exists(self, name_or_arn: str) -> bool:
        """Whether the function exists (GetFunction: the one read a hook's role grants)."""
        try:
            with aws_errors():
                self._client.get_function(FunctionName=name_or_arn)
        except NotFoundError:
            return False
        return True

    def publish(self, function_name: str, description: str) -> str:
        """Publish $LATEST; Lambda returns the last version when nothing changed."""
        with aws_errors():
            answer = self._client.publish_version(
                FunctionName=function_name, Description=description
            )
        return str(answer["Version"])

    def alias(self, function_name: str, alias: str) -> AliasConfig | None:
        """The alias as it is now, or None when it does not exist."""
        try:
            with aws_errors():
                answer = self._client.get_alias(FunctionName=function_name, Name=alias)
        except NotFoundError:
            return None
        weights = (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return AliasConfig(
            version=str(answer["FunctionVersion"]),
            extra={str(v): percent(w) for v, w in weights.items() if percent(w) > 0},
            revision_id=str(answer.get("RevisionId", "")),
        )

    def route(
        self, function_name: str, alias: str, wanted: AliasConfig, revision_id: str
    ) -> AliasConfig:
        """Point the alias at ``wanted``, only if it is still at ``revision_id``.

        Raises PreconditionFailedError when someone else wrote the alias since.
        """
        weights = {version: weight / 100 for version, weight in wanted.extra.items()}
        with aws_errors():
            answer = self._client.update_alias(
                FunctionName=function_name,
                Name=alias,
                FunctionVersion=wanted.version,
                RoutingConfig={"AdditionalVersionWeights": weights},
                RevisionId=revision_id,
            )
        return AliasConfig(wanted.version, dict(wanted.extra), str(answer["RevisionId"]))

    def create_alias(self, function_name: str, alias: str, version: str) -> AliasConfig:
        with aws_errors():
            answer = self._client.create_alias(
                FunctionName=function_name,
                Name=alias,
                FunctionVersion=version,
                Description="Created by Lambda Rollouts (first deploy)",
            )
        return AliasConfig(version, {}, str(answer["RevisionId"]))

    def delete_alias(self, function_name: str, alias: str) -> None:
        with aws_errors():
            self._client.delete_alias(FunctionName=function_name, Name=alias)

    def invoke(self, function_name: str, payload: bytes) -> tuple[bytes, str | None]:
        """Invoke synchronously; returns the payload and the FunctionError, if any.

        Raises InvocationTimeoutError when no answer came within the client's read timeout.
        """
        try:
            answer = self._client.invoke(
                FunctionName=function_name, InvocationType="RequestResponse", Payload=payload
            )
        except ReadTimeoutError as error:
            raise InvocationTimeoutError(f"{function_name} did not answer in time") from error
        except ClientError as error:
            raise from_client_error(error) from error
        return answer["Payload"].read(), answer.get("FunctionError")


class Alarms:
    """CloudWatch alarms, by name."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def states(self, names: tuple[str, ...]) -> dict[str, str]:
        """``{name: StateValue}`` for the alarms that exist (missing names are left out)."""
        found: dict[str, str] = {}
        for start in range(0, len(names), 100):
            with aws_errors():
                pages = self._client.get_paginator("describe_alarms").paginate(
                    AlarmNames=list(names[start : start + 100]),
                    AlarmTypes=["MetricAlarm", "CompositeAlarm"],
                )
                for page in pages:
                    for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                        found[alarm["AlarmName"]] = alarm["StateValue"]
        return found
