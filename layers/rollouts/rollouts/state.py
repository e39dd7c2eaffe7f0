"""The rollout state the state machine carries from task to task (``$.rollout``).

Every task receives it, returns it updated, and writes it to the rollout record,
so that the console shows it and a cleanup after a crash can read it back.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer
from pydantic.alias_generators import to_camel

from rollouts.decision import Action, Decision, Inconclusive, Judgement, Progress, Routing
from rollouts.models import Analysis
from rollouts.strategy import Step


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class PlannedStep(_Model):
    weight: int
    bake_seconds: int
    # A pause step holds the weight before it (for bake_seconds, or until promoted).
    pause: bool = False
    until_promoted: bool = False

    @model_serializer(mode="wrap")
    def _plain_steps_stay_plain(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # {"weight": 10, "bakeSeconds": 300}: the pause flags only on pause steps.
        dumped: dict[str, Any] = handler(self)
        return {k: v for k, v in dumped.items() if v is not False}

    @classmethod
    def of(cls, step: Step) -> PlannedStep:
        return cls(
            weight=step.weight,
            bake_seconds=step.bake_seconds,
            pause=step.pause,
            until_promoted=step.until_promoted,
        )


# A hook that gives no timeoutSeconds has an hour to answer (CodeDeploy's limit).
DEFAULT_HOOK_TIMEOUT_SECONDS = 3600


class HookNames(_Model):
    pre_traffic: str | None = None
    post_traffic: str | None = None
    # How long the state machine waits for each hook's answer (its callback included).
    pre_traffic_timeout_seconds: int = DEFAULT_HOOK_TIMEOUT_SECONDS
    post_traffic_timeout_seconds: int = DEFAULT_HOOK_TIMEOUT_SECONDS

    def function(self, lifecycle_event: str) -> str | None:
        return self.pre_traffic if lifecycle_event == "PreTraffic" else self.post_traffic

    def timeout_seconds(self, lifecycle_event: str) -> int:
        if lifecycle_event == "PreTraffic":
            return self.pre_traffic_timeout_seconds
        return self.post_traffic_timeout_seconds


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
    # The alias is 100% on the target (promoted, or it already ran the target: action "none").
    promoted: bool = False
    # What NextAction does: shift, bake, promote, finish, rollback, drift; "none" when
    # nothing moves; "finished" once FinishRollout recorded success.
    action: str = "shift"
    wait_seconds: int = 0
    # The wait is a hold (paused, or a pause step until promoted): it bakes nothing.
    held: bool = False
    # When the decision to bake was taken: a bake woken early credits the time since.
    bake_started_at: str | None = None
    reason: str | None = None
    summary: str = ""
    # Publish exactly this code (the request's or the triggering event's CodeSha256).
    code_sha256: str | None = None
    # A temporary alias on the baseline, so that no version pruning can delete it
    # while the rollout may still need to roll back (removed at the end).
    pin_alias: str | None = None
    # The execution's output, set by FinishRollout.
    outcome: dict[str, Any] | None = None
    # Judge the target by its own traffic at every health check (``rollouts.analysis``).
    analysis: Analysis | None = None
    # When the live weight was set (to the microsecond): a step is judged from then on.
    shifted_at: str | None = None
    # The latest verdict on the live step (``analysis.verdict_json``); None after a shift.
    verdict: dict[str, Any] | None = None

    def judgement(self) -> Judgement | None:
        """The latest verdict as the decision weighs it: None without analysis, or in a
        dry run; inconclusive while the live step has none yet (a step is never passed
        for want of a verdict)."""
        if self.analysis is None or self.analysis.dry_run or self.step_index < 0:
            return None
        verdict = self.verdict or {"outcome": "inconclusive", "reason": "not judged yet"}
        return Judgement(
            outcome=str(verdict["outcome"]),
            reason=str(verdict.get("reason", "")),
            inconclusive=Inconclusive(self.analysis.inconclusive),
        )

    @property
    def plan(self) -> tuple[Step, ...]:
        return tuple(
            Step(s.weight, s.bake_seconds, pause=s.pause, until_promoted=s.until_promoted)
            for s in self.steps
        )

    @property
    def weight(self) -> int:
        """Percent of traffic on the target now."""
        return self.steps[self.step_index].weight if self.step_index >= 0 else 0

    def progress(self) -> Progress:
        return Progress(
            self.plan,
            self.step_index,
            self.baked_seconds,
            self.check_interval_seconds,
            promoted=self.promoted,
        )

    def expected_routing(self) -> Routing | None:
        """How the alias routes if it is as this rollout left it (None: it should not exist).

        Before the first shift: the baseline; at a step: the baseline with the step's
        percent on the target; promoted: the target. A first deploy has no alias
        until its promotion.
        """
        if self.promoted:
            return Routing.of(str(self.target_version))
        if self.first_deploy:
            return None
        if self.step_index < 0:
            return Routing.of(str(self.baseline_version))
        return Routing.of(str(self.baseline_version), {str(self.target_version): self.weight})

    def following(self, decision: Decision, progress: Progress, summary: str) -> RolloutState:
        """This state after ``decision`` was taken at ``progress``."""
        return self.model_copy(
            update={
                "step_index": progress.step_index,
                "baked_seconds": progress.baked_seconds,
                "action": decision.action.value,
                "wait_seconds": decision.wait_seconds,
                "held": decision.held,
                "bake_started_at": decision.decided_at.isoformat(timespec="seconds")
                if decision.action == Action.BAKE
                else None,
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
