"""Lambda functions, versions and aliases, as the rollout sees them.

Weights are integer percents everywhere else; this module alone converts them
to Lambda's 0.0-1.0 floats. Every alias write passes the ``RevisionId`` the
rollout last read, so Lambda refuses to overwrite somebody else's change.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError, WaiterError

from rollouts.aws import CONNECTION_ERRORS, aws_errors
from rollouts.decision import Routing
from rollouts.errors import (
    AwsServiceError,
    NotFoundError,
    PreconditionFailedError,
    ResourceConflictError,
    RolloutError,
    TransientError,
    ValidationError,
    from_client_error,
)


class InvocationTimeoutError(RolloutError):
    """A synchronous invocation got no answer within the client's read timeout."""


# How Lambda refuses a PublishVersion whose CodeSha256 is not $LATEST's: AWS answers
# InvalidParameterValueException "CodeSHA256 (<given>) is different from current
# CodeSHA256 in $LATEST (<actual>). Please try again with the CodeSHA256 in $LATEST."
_CURRENT_CODE = re.compile(r"current CodeSHA256 in \$LATEST \(([A-Za-z0-9+/=]{1,64})\)")


@dataclass(frozen=True)
class AliasConfig:
    """Where an alias sends traffic: a primary version, and at most one other with a percent."""

    version: str
    extra: dict[str, int] = field(default_factory=dict)
    revision_id: str = ""

    @property
    def routing(self) -> Routing:
        """The routing alone, as the pure decisions compare it."""
        return Routing.of(self.version, self.extra)

    @classmethod
    def of(cls, routing: Routing) -> AliasConfig:
        return cls(routing.version, dict(routing.extra))

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

    def publish(self, function_name: str, description: str, code_sha256: str | None = None) -> str:
        """Publish $LATEST; Lambda returns the last version when nothing changed.

        With ``code_sha256``, publish only if $LATEST still holds that code; if it
        does not, nothing is published and ValidationError names ``codeSha256``.
        """
        params = {"FunctionName": function_name, "Description": description}
        if code_sha256 is not None:
            params["CodeSha256"] = code_sha256
        try:
            with aws_errors():
                answer = self._client.publish_version(**params)
        except (PreconditionFailedError, AwsServiceError) as error:
            if code_sha256 is None or not _is_code_mismatch(error):
                raise
            found = _CURRENT_CODE.search(str(error))
            actual = found[1] if found else self._latest_code_sha256(function_name)
            raise ValidationError(
                "codeSha256",
                f"{function_name} $LATEST now holds code {actual or '(unknown)'}, not "
                f"{code_sha256}: it changed since the request; nothing was published",
            ) from error
        return str(answer["Version"])

    def _latest_code_sha256(self, function_name: str) -> str | None:
        """$LATEST's CodeSha256, or None when it cannot be read."""
        try:
            with aws_errors():
                config = self._client.get_function_configuration(FunctionName=function_name)
        except RolloutError:
            return None
        value = config.get("CodeSha256")
        return str(value) if value else None

    def wait_until_updated(self, function_name: str, max_seconds: float) -> None:
        """Wait, polling GetFunction every second, until $LATEST's last update is done.

        Returns when ``LastUpdateStatus`` is ``Successful``. Raises
        ResourceConflictError (retried) when it is still in progress after about
        ``max_seconds`` (sleeping at most ``max_seconds - 1`` s; each GetFunction
        call is bounded by the client's timeouts), and ValidationError naming
        ``functionName`` when the update failed.
        """
        delay = 1
        attempts = max(1, int(max_seconds // delay))
        try:
            with aws_errors():
                self._client.get_waiter("function_updated_v2").wait(
                    FunctionName=function_name,
                    WaiterConfig={"Delay": delay, "MaxAttempts": attempts},
                )
        except WaiterError as error:
            last: dict[str, Any] = error.last_response or {}
            if "Error" in last:
                raise from_client_error(ClientError(last, "GetFunction")) from error
            configuration = last.get("Configuration") or {}
            status = configuration.get("LastUpdateStatus") or "unknown"
            if status == "Failed":
                code = configuration.get("LastUpdateStatusReasonCode") or "no reason code"
                reason = configuration.get("LastUpdateStatusReason") or "no reason given"
                raise ValidationError(
                    "functionName",
                    f"{function_name}'s last update failed ({code}: {reason}); "
                    "fix the function and start again: nothing was published",
                ) from error
            raise ResourceConflictError(
                f"{function_name} is still updating after {max_seconds:g} s "
                f"(LastUpdateStatus {status}); nothing was published",
                code="ResourceConflictException",
                operation="GetFunction",
            ) from error

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

    def pin(self, function_name: str, name: str, version: str, rollout_id: str) -> None:
        """Keep ``version`` referenced by an alias of its own (Lambda refuses to delete it).

        Idempotent: an existing pin of that name is kept when it is on ``version``.
        """
        try:
            with aws_errors():
                self._client.create_alias(
                    FunctionName=function_name,
                    Name=name,
                    FunctionVersion=version,
                    Description=f"Lambda Rollouts: keeps version {version} while rollout"
                    f" {rollout_id} may roll back to it",
                )
        except ResourceConflictError:
            existing = self.alias(function_name, name)
            if existing is None or existing.version != version:
                raise

    def unpin(self, function_name: str, name: str) -> None:
        """Remove a pin (a no-op when it is gone already)."""
        with contextlib.suppress(NotFoundError):
            self.delete_alias(function_name, name)

    def invoke(self, function_name: str, payload: bytes) -> tuple[bytes, str | None]:
        """Invoke synchronously; returns the payload and the FunctionError, if any.

        Raises InvocationTimeoutError when no answer came within the client's read
        timeout (the function may still be running), and TransientError when Lambda
        could not be reached or the connection broke (retried: the answer was lost).
        """
        try:
            answer = self._client.invoke(
                FunctionName=function_name, InvocationType="RequestResponse", Payload=payload
            )
            body: bytes = answer["Payload"].read()
        except ReadTimeoutError as error:
            raise InvocationTimeoutError(f"{function_name} did not answer in time") from error
        except ClientError as error:
            raise from_client_error(error) from error
        except CONNECTION_ERRORS as error:
            raise TransientError(
                f"{type(error).__name__} invoking {function_name}: {error}"
            ) from error
        return body, answer.get("FunctionError")


def _is_code_mismatch(error: RolloutError) -> bool:
    """Whether Lambda refused a PublishVersion because $LATEST holds other code."""
    code = getattr(error, "code", "")
    return code == "PreconditionFailedException" or (
        code == "InvalidParameterValueException" and "codesha256" in str(error).lower()
    )


class Alarms:
    """CloudWatch alarms, by name."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def states(self, names: tuple[str, ...]) -> dict[str, str]:
        """``{name: StateValue}`` for the alarms that exist (missing names are left out)."""
        return {name: state for name, (state, _) in self.read(names).items()}

    def read(self, names: tuple[str, ...]) -> dict[str, tuple[str, str]]:
        """``{name: (StateValue, StateReason)}`` for the alarms that exist."""
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(names), 100):
            with aws_errors():
                pages = self._client.get_paginator("describe_alarms").paginate(
                    AlarmNames=list(names[start : start + 100]),
                    AlarmTypes=["MetricAlarm", "CompositeAlarm"],
                )
                for page in pages:
                    for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                        found[alarm["AlarmName"]] = (
                            alarm["StateValue"],
                            str(alarm.get("StateReason") or ""),
                        )
        return found
