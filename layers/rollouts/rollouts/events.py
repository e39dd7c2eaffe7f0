"""Typed task events, parsed by Powertools' parser in the handlers."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rollouts.state import RolloutState


class TaskEvent(BaseModel):
    """What ShiftTraffic, CheckHealth, PromoteTarget, PublishVersion and FinishRollout receive."""

    model_config = ConfigDict(extra="ignore")

    rollout: RolloutState


class BakeEvent(TaskEvent):
    """What CheckHealth receives: to begin a bake (``bakeToken``), or after one (``wake``)."""

    bake_token: str | None = Field(default=None, alias="bakeToken")
    # What ended the bake: the output a wake sent, or the States.Timeout error.
    wake: dict[str, Any] | None = None


class HookEvent(TaskEvent):
    lifecycle_event: str = Field(alias="lifecycleEvent")
    # RunHook: the token the state machine waits on for the hook's answer.
    callback_token: str | None = Field(default=None, alias="callbackToken")
    # JudgeHook: the answer sent on that token.
    answer: Any = None
    judge: bool = False


class EndEvent(BaseModel):
    """What RollBack and StopOnDrift receive: the whole execution state, whatever it holds."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    rollout_id: str = Field(alias="rolloutId")
    drift: bool = False
    state: dict[str, Any] = Field(default_factory=dict)

    @property
    def rollout(self) -> RolloutState | None:
        found = self.state.get("rollout")
        return RolloutState.model_validate(found) if isinstance(found, dict) else None

    @property
    def request(self) -> dict[str, Any] | None:
        """The execution input, when it is a JSON object."""
        found = self.state.get("request")
        return found if isinstance(found, dict) else None

    @property
    def failure(self) -> dict[str, Any] | None:
        """The caught error: ``$.failure``, or the one under ``$.failed.<State>``."""
        found = self.state.get("failure")
        if isinstance(found, dict):
            return found
        failed = self.state.get("failed")
        if isinstance(failed, dict) and failed:
            first = next(iter(failed.values()))
            return first if isinstance(first, dict) else None
        return None

    @property
    def failed_task(self) -> str | None:
        """The state whose error was caught (``$.failed`` names it), if known."""
        failed = self.state.get("failed")
        if isinstance(failed, dict) and failed and not isinstance(self.state.get("failure"), dict):
            return str(next(iter(failed)))
        return None


class ExecutionStatusChange(BaseModel):
    """The ``detail`` of a "Step Functions Execution Status Change" event."""

    model_config = ConfigDict(extra="ignore")

    execution_arn: str = Field(alias="executionArn")
    name: str
    status: str
    error: str | None = None
    cause: str | None = None
    input: str | None = None

    def request(self) -> dict[str, Any] | None:
        """The execution input, when it is a JSON object."""
        try:
            value = json.loads(self.input or "")
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None


class AlarmState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str
    reason: str | None = None


class AlarmStateChange(BaseModel):
    """The ``detail`` of a "CloudWatch Alarm State Change" event."""

    model_config = ConfigDict(extra="ignore")

    alarm_name: str = Field(alias="alarmName")
    state: AlarmState


class AlarmStateChangeEvent(BaseModel):
    """A "CloudWatch Alarm State Change" event, as EventBridge delivers it."""

    model_config = ConfigDict(extra="ignore")

    detail: AlarmStateChange
