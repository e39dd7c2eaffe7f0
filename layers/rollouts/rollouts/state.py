"""The rollout state the state machine carries from task to task (``$.rollout``).

Every task receives it, returns it updated, and writes it to the rollout record,
so that the console shows it and a cleanup after a crash can read it back.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from rollouts.decision import Decision, Progress
from rollouts.strategy import Step


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class PlannedStep(_Model):
    weight: int
    bake_seconds: int


class HookNames(_Model):
    pre_traffic: str | None = None
    post_traffic: str | None = None


class RolloutState(_Model):
    """One rollout: what moves where, the plan, and where it is now."""

    rollout_id: str
    execution_arn: str
    started_at: str
    function_name: str
    function_arn: str
    alias: str
    baseline_version: str | None
    target_version: str | None
    first_deploy: bool
    strategy: str
    steps: tuple[PlannedStep, ...]
    check_interval_seconds: int
    alarms: tuple[str, ...] = ()
    hooks: HookNames = HookNames()
    # The RevisionId of the alias as this rollout last wrote (or first read) it.
    alias_revision_id: str | None = None
    step_index: int = -1
    baked_seconds: int = 0
    # What NextAction does: shift, bake, promote, rollback, drift; "none" when nothing moves.
    action: str = "shift"
    wait_seconds: int = 0
    reason: str | None = None
    summary: str = ""

    @property
    def plan(self) -> tuple[Step, ...]:
        return tuple(Step(s.weight, s.bake_seconds) for s in self.steps)

    @property
    def weight(self) -> int:
        """Percent of traffic on the target now."""
        return self.steps[self.step_index].weight if self.step_index >= 0 else 0

    def progress(self) -> Progress:
        return Progress(self.plan, self.step_index, self.baked_seconds, self.check_interval_seconds)

    def following(self, decision: Decision, progress: Progress, summary: str) -> RolloutState:
        """This state after ``decision`` was taken at ``progress``."""
        return self.model_copy(
            update={
                "step_index": progress.step_index,
                "baked_seconds": progress.baked_seconds,
                "action": decision.action.value,
                "wait_seconds": decision.wait_seconds,
                "reason": decision.reason,
                "summary": summary,
            }
        )

    def with_(self, **changes: Any) -> RolloutState:
        return self.model_copy(update=changes)

    @property
    def lock_key(self) -> str:
        return lock_key(self.function_name, self.alias)

    @property
    def subject(self) -> str:
        """``orders-api:live``: how people name the alias in messages."""
        return f"{self.function_name}:{self.alias}"

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def lock_key(function_name_or_arn: str, alias: str) -> str:
    """``orders-api:live`` for a name or an ARN of the function (the lock is per alias)."""
    name = function_name_or_arn.split(":function:")[-1].split(":")[0]
    return f"{name}:{alias}"
