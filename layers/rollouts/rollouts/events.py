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


class HookEvent(TaskEvent):
    lifecycle_event: str = Field(alias="lifecycleEvent")


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
        found = self.state.get("failure")
        return found if isinstance(found, dict) else None


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
