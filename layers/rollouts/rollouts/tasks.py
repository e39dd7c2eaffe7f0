"""What each task of the state machine does: read, decide (pure), act, record.

A handler parses its event and calls one function here with ``Services`` (the
AWS adapters) and ``now``. Each function is safe to run twice: Step Functions
retries tasks, and a Lambda can be invoked again after its answer was lost.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rollouts.aliases import Alarms, AliasConfig, InvocationTimeoutError, Lambda
from rollouts.aws import HOOK_READ_TIMEOUT_SECONDS, client, table
from rollouts.decision import Action, Health, Progress, decide, describe
from rollouts.errors import (
    AbortedError,
    AccessDeniedError,
    HookFailedError,
    NotFoundError,
    PreconditionFailedError,
    RolloutInProgressError,
    ValidationError,
)
from rollouts.models import RolloutRequest, parse_request
from rollouts.notify import Phase, StatusEvents, status_detail
from rollouts.service import RolloutEndedError, execution_alive
from rollouts.state import HookNames, PlannedStep, RolloutState, lock_key
from rollouts.store import DRIFTED, ENDED, ROLLED_BACK, SUCCEEDED, RolloutStore

HOOK_EVENTS = ("PreTraffic", "PostTraffic")


@dataclass(frozen=True)
class Services:
    """The AWS edge a task needs."""

    lambda_: Lambda
    alarms: Alarms
    store: RolloutStore
    region: str
    events: StatusEvents
    # Invokes hooks: a client that waits for a long-running hook, but not past RunHook's limit.
    hooks: Lambda
    # Step Functions, to tell a live lock holder from one whose execution has ended.
    sfn: Any = None

    def still_running(self, execution_arn: str) -> bool:
        """Whether the execution may still act (True when it cannot be told)."""
        return self.sfn is None or execution_alive(self.sfn, execution_arn)

    @classmethod
    def from_environment(cls) -> Services:
        """Clients from the environment (the Lambda runtime, or the local engine)."""
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        return cls(
            lambda_=Lambda(client("lambda")),
            alarms=Alarms(client("cloudwatch")),
            store=RolloutStore(table(os.environ["TABLE_NAME"])),
            region=region,
            events=StatusEvents(client("events")),
            hooks=Lambda(client("lambda", read_timeout=HOOK_READ_TIMEOUT_SECONDS)),
            sfn=client("stepfunctions"),
        )


def _iso(now: datetime) -> str:
    return now.isoformat(timespec="seconds")


# -- PrepareRollout ---------------------------------------------------------
def prepare(event: dict[str, Any], services: Services, now: datetime) -> RolloutState:
    """Validate the request against AWS, plan it, take the alias lock, write the record.

    Raises ValidationError (nothing changed) or RolloutInProgressError (nothing changed),
    after putting a "refused" status event.
    """
    try:
        state = _prepare(event, services, now)
    except (ValidationError, RolloutInProgressError) as error:
        request = event.get("request")
        known = request if isinstance(request, dict) else {}
        services.events.emit(
            status_detail(
                Phase.REFUSED,
                None,
                now,
                reason=str(error),
                rolloutId=event.get("rolloutId"),
                executionArn=event.get("executionArn"),
                functionName=known.get("functionName"),
                alias=known.get("alias"),
                version=known.get("version"),
            )
        )
        raise
    services.events.emit(status_detail(Phase.STARTED, state, now, reason=state.summary))
    return state


def _prepare(event: dict[str, Any], services: Services, now: datetime) -> RolloutState:
    request = parse_request(event.get("request"))
    function, baseline = _resolve(request, services, str(event["rolloutId"]), now)
    first_deploy = baseline is None
    steps = () if first_deploy else request.steps
    target = request.version
    state = RolloutState(
        rollout_id=str(event["rolloutId"]),
        execution_arn=str(event.get("executionArn", "")),
        started_at=str(event.get("startedAt") or _iso(now)),
        function_name=function.name,
        function_arn=function.arn,
        alias=request.alias,
        baseline_version=baseline.version if baseline else None,
        target_version=target,
        first_deploy=first_deploy,
        strategy=request.strategy.name,
        steps=tuple(PlannedStep(weight=s.weight, bake_seconds=s.bake_seconds) for s in steps),
        check_interval_seconds=request.resolved_check_interval_seconds,
        alarms=request.alarms,
        hooks=HookNames(
            pre_traffic=request.hooks.pre_traffic if request.hooks else None,
            post_traffic=request.hooks.post_traffic if request.hooks else None,
        ),
        alias_revision_id=baseline.revision_id if baseline else None,
    )
    if target is not None and baseline is not None and baseline.version == target:
        state = state.with_(action="none", summary=f"{state.subject} already runs version {target}")
    else:
        state = _decided(state, state.progress(), Health(), now)
    services.store.acquire(state.lock_key, state.rollout_id, state.execution_arn, _iso(now))
    services.store.create_record(state.as_json(), state.lock_key, _iso(now))
    return state


def _resolve(
    request: RolloutRequest, services: Services, rollout_id: str, now: datetime
) -> tuple[Any, AliasConfig | None]:
    """Check that everything the request names exists; collect every problem at once."""
    problems: list[tuple[str, str]] = []
    try:
        function = services.lambda_.function(request.function_name)
    except NotFoundError:
        raise ValidationError(
            "functionName", f"no function named {request.function_name} in {services.region}"
        ) from None
    except AccessDeniedError:
        raise ValidationError(
            "functionName",
            f"{request.function_name} is outside what this stack may roll out"
            " (its TargetFunctionNamePrefix parameter)",
        ) from None
    # A busy alias is reported as busy, not as whatever state the other rollout left it in.
    # A lock left by an execution that ended without cleaning up (stopped while it was
    # being prepared, or its release event lost) is cleaned up now, then taken over.
    stale = services.store.refuse_if_busy(
        lock_key(function.name, request.alias), rollout_id, services.still_running
    )
    if request.version is not None and not services.lambda_.has_version(
        function.name, request.version
    ):
        problems.append(("version", f"{function.name} has no published version {request.version}"))
    problems += _missing_alarms_and_hooks(request, services)
    if problems:
        raise ValidationError.from_errors(problems)
    if stale is not None:
        # Fenced: the stale rollout's task may still be running; its late write must fail.
        end_without_promotion(
            str(stale["rolloutId"]),
            None,
            {"functionName": function.name, "alias": request.alias},
            "its execution ended without cleaning up; the next rollout did",
            services,
            now,
            fence=True,
        )
    baseline = services.lambda_.alias(function.name, request.alias)
    if baseline is not None and baseline.extra:
        problems.append(
            (
                "alias",
                f"{function.name}:{request.alias} already splits traffic ({baseline.describe()});"
                " another deployment may be shifting it: point it at one version first",
            )
        )
    if baseline is not None and baseline.version == "$LATEST" and request.steps:
        problems.append(
            (
                "alias",
                f"{function.name}:{request.alias} points at $LATEST, and Lambda splits traffic"
                " only between published versions: point it at a published version first,"
                " or use AllAtOnce",
            )
        )
    if problems:
        raise ValidationError.from_errors(problems)
    return function, baseline


def _missing_alarms_and_hooks(request: RolloutRequest, services: Services) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if request.alarms:
        known = services.alarms.states(request.alarms)
        problems += [
            (f"alarms[{i}]", f"no CloudWatch alarm named {name} in {services.region}")
            for i, name in enumerate(request.alarms)
            if name not in known
        ]
    hooks = request.hooks
    for field, hook in (
        ("hooks.preTraffic", hooks.pre_traffic if hooks else None),
        ("hooks.postTraffic", hooks.post_traffic if hooks else None),
    ):
        if not hook:
            continue
        try:
            if not services.lambda_.exists(hook):
                problems.append((field, f"no function named {hook} in {services.region}"))
        except AccessDeniedError:
            problems.append(
                (
                    field,
                    f"{hook} is outside the hooks this stack may invoke"
                    " (its HookFunctionNamePrefix parameter)",
                )
            )
    return problems


def _decided(
    state: RolloutState, progress: Progress, health: Health, now: datetime
) -> RolloutState:
    decision = decide(progress, health, now)
    return state.following(decision, progress, describe(decision, progress))


# -- PublishVersion -----------------------------------------------------------
def publish(state: RolloutState, services: Services, now: datetime) -> RolloutState:
    """Publish $LATEST as the target (the same version again if the task is retried)."""
    version = services.lambda_.publish(state.function_name, f"Lambda Rollouts {state.rollout_id}")
    state = state.with_(target_version=version)
    if version == state.baseline_version:
        state = state.with_(
            action="none",
            summary=f"{state.subject} already runs version {version}: $LATEST is unchanged",
        )
    services.store.update(state.rollout_id, _iso(now), targetVersion=version, state=state.as_json())
    return state


# -- RunPreTrafficHook / RunPostTrafficHook -----------------------------------
def hook_payload(state: RolloutState, lifecycle_event: str) -> dict[str, Any]:
    """The hook contract's payload."""
    return {
        "rolloutId": state.rollout_id,
        "lifecycleEvent": lifecycle_event,
        "functionName": state.function_name,
        "alias": state.alias,
        "fromVersion": state.baseline_version,
        "toVersion": state.target_version,
        "targetArn": f"{state.function_arn}:{state.target_version}",
    }


def run_hook(
    state: RolloutState, lifecycle_event: str, services: Services, now: datetime
) -> RolloutState:
    """Invoke the hook; it passes only when it answers ``{"status": "Succeeded"}``."""
    if lifecycle_event not in HOOK_EVENTS:
        raise ValueError(f"lifecycleEvent must be one of {HOOK_EVENTS}, not {lifecycle_event!r}")
    hook = state.hooks.pre_traffic if lifecycle_event == "PreTraffic" else state.hooks.post_traffic
    if not hook:
        return state
    _refuse_if_aborted(state, services)
    payload = json.dumps(hook_payload(state, lifecycle_event)).encode()
    try:
        body, function_error = services.hooks.invoke(hook, payload)
        verdict = _hook_verdict(body, function_error)
    except InvocationTimeoutError:
        verdict = f"it did not answer within {HOOK_READ_TIMEOUT_SECONDS} s"
    services.store.update(
        state.rollout_id,
        _iso(now),
        **{
            f"hook{lifecycle_event}": {
                "function": hook,
                "result": verdict or "Succeeded",
                "at": _iso(now),
            }
        },
    )
    if verdict is not None:
        raise HookFailedError(f"{lifecycle_event} hook {hook} failed: {verdict}")
    return state


def _abort_reason(record: dict[str, Any] | None) -> str | None:
    """``"aborted by alice: p99 up"`` when someone asked the rollout to stop."""
    abort = (record or {}).get("abort")
    if not abort:
        return None
    return f"aborted by {abort.get('by', 'someone')}: {abort.get('reason') or 'no reason given'}"


def _refuse_if_aborted(state: RolloutState, services: Services) -> None:
    reason = _abort_reason(services.store.record(state.rollout_id))
    if reason is not None:
        raise AbortedError(f"{reason} {state.progress().where()}")


def _hook_verdict(body: bytes, function_error: str | None) -> str | None:
    """None when the hook passed, else why it failed, in words."""
    text = body.decode("utf-8", "replace")
    try:
        answer = json.loads(text) if text else None
    except json.JSONDecodeError:
        answer = text
    if function_error:
        if isinstance(answer, dict) and "errorMessage" in answer:
            kind = answer.get("errorType", function_error)
            return f"it raised {kind}: {answer['errorMessage']}"
        return f"it failed ({function_error}): {text[:300]}"
    if isinstance(answer, dict) and answer.get("status") == "Succeeded":
        return None
    if isinstance(answer, dict) and answer.get("status") == "Failed":
        return str(answer.get("reason") or "it returned Failed without a reason")
    return f'it returned {text[:300] or "nothing"}, not {{"status": "Succeeded"}}'


# -- ShiftTraffic / PromoteTarget ---------------------------------------------
def _owned_alias(
    state: RolloutState, wanted: AliasConfig, services: Services
) -> tuple[AliasConfig | None, str | None]:
    """The alias if this rollout still owns it, else (None, a drift description).

    A RevisionId that moved on is ours anyway when the alias already routes as
    ``wanted``: our earlier write landed and only its answer was lost.
    """
    current = services.lambda_.alias(state.function_name, state.alias)
    if current is None:
        return None, f"alias {state.alias} was deleted"
    if current.revision_id == state.alias_revision_id or current.same_routing(wanted):
        return current, None
    return None, f"alias {state.alias} now routes {current.describe()}, not as this rollout left it"


def shift(state: RolloutState, services: Services, now: datetime) -> RolloutState:
    """Send the next step's percent of traffic to the target, then decide (usually: bake)."""
    index = state.step_index + 1
    step = state.steps[index]
    assert state.baseline_version is not None and state.target_version is not None
    wanted = AliasConfig(state.baseline_version, {state.target_version: step.weight})
    written = _write_alias(state, wanted, services, now)
    if isinstance(written, str):
        return _drifted(state, written, now)
    state = state.with_(alias_revision_id=written.revision_id)
    state = _decided(state, state.progress().at_step(index), Health(), now)
    services.store.record_step(
        state.rollout_id,
        {
            "step": index + 1,
            "weight": step.weight,
            "bakeSeconds": step.bake_seconds,
            "at": _iso(now),
        },
        state.as_json(),
        _iso(now),
    )
    services.events.emit(status_detail(Phase.SHIFTED, state, now))
    return state


def promote(state: RolloutState, services: Services, now: datetime) -> RolloutState:
    """Point the alias at the target at 100% (create it on a first deploy).

    Decides to roll back instead when an abort was requested, and to stop when
    the alias is no longer the rollout's.
    """
    assert state.target_version is not None
    abort_reason = _abort_reason(services.store.record(state.rollout_id))
    if abort_reason is not None:
        return _decided(state, state.progress(), Health(abort_reason=abort_reason), now)
    wanted = AliasConfig(state.target_version)
    if state.first_deploy:
        current = services.lambda_.alias(state.function_name, state.alias)
        if current is None:
            _mark_writing(state, wanted, services, now)
            written: AliasConfig | str = services.lambda_.create_alias(
                state.function_name, state.alias, state.target_version
            )
        elif current.same_routing(wanted):
            written = current
        else:
            written = f"alias {state.alias} was created by someone else ({current.describe()})"
    else:
        written = _write_alias(state, wanted, services, now)
    if isinstance(written, str):
        return _drifted(state, written, now)
    summary = (
        f"{state.subject} created on version {state.target_version} (first deploy: no baseline)"
        if state.first_deploy
        else f"{state.subject} promoted to version {state.target_version}"
        f" (was {state.baseline_version})"
    )
    state = state.with_(
        alias_revision_id=written.revision_id, action="promoted", wait_seconds=0, summary=summary
    )
    services.store.update(
        state.rollout_id, _iso(now), promotedAt=_iso(now), state=state.as_json(), writing=None
    )
    services.events.emit(status_detail(Phase.PROMOTED, state, now, reason=summary))
    return state


def _mark_writing(
    state: RolloutState, wanted: AliasConfig, services: Services, now: datetime
) -> None:
    """Record the routing about to be written, before writing it.

    Should the task stop after its write but before saving the new RevisionId,
    a rollback knows that routing is the rollout's own (see ``_pending``).
    """
    services.store.update(
        state.rollout_id, _iso(now), writing={"version": wanted.version, "extra": wanted.extra}
    )


def _write_alias(
    state: RolloutState, wanted: AliasConfig, services: Services, now: datetime
) -> AliasConfig | str:
    """Write the alias with the RevisionId last seen; a drift description when it is not ours."""
    current, drift = _owned_alias(state, wanted, services)
    if current is None:
        return drift or "alias changed"
    if current.same_routing(wanted):
        return current
    _mark_writing(state, wanted, services, now)
    try:
        return services.lambda_.route(state.function_name, state.alias, wanted, current.revision_id)
    except PreconditionFailedError:
        return f"alias {state.alias} was changed by someone else while this rollout wrote it"


def _drifted(state: RolloutState, drift: str, now: datetime) -> RolloutState:
    return _decided(state, state.progress(), Health(drift=drift), now)


# -- CheckHealth --------------------------------------------------------------
def check(state: RolloutState, services: Services, now: datetime) -> RolloutState:
    """After a bake wait: look at alarms, abort requests and the alias, then decide."""
    progress = state.progress().after_wait(state.wait_seconds)
    record = services.store.record(state.rollout_id) or {}
    alarm_states = services.alarms.states(state.alarms) if state.alarms else {}
    firing = tuple(name for name in state.alarms if alarm_states.get(name) == "ALARM")
    missing = [name for name in state.alarms if name not in alarm_states]
    if missing:
        raise NotFoundError(f"alarm {', '.join(missing)} no longer exists; cannot judge health")
    assert state.baseline_version is not None and state.target_version is not None
    live = AliasConfig(state.baseline_version, {state.target_version: state.weight})
    current, drift = _owned_alias(state, live, services)
    if current is not None:
        # Same routing under a new RevisionId (someone re-saved the alias): still ours.
        state = state.with_(alias_revision_id=current.revision_id)
    health = Health(alarms_firing=firing, abort_reason=_abort_reason(record), drift=drift)
    state = _decided(state, progress, health, now)
    services.store.record_check(
        state.rollout_id,
        {
            "at": _iso(now),
            "step": progress.step_index + 1,
            "weight": progress.weight,
            "bakedSeconds": progress.baked_seconds,
            "alarms": alarm_states,
            "action": state.action,
            **({"reason": state.reason} if state.reason else {}),
        },
        state.as_json(),
        _iso(now),
    )
    return state


# -- FinishRollout ------------------------------------------------------------
def finish(state: RolloutState, services: Services, now: datetime) -> dict[str, Any]:
    """Record success, release the lock, and answer the execution's output."""
    if state.action not in ("promoted", "none"):
        raise ValueError(f"cannot finish a rollout whose last action is {state.action!r}")
    if state.action == "none":
        summary = state.summary
    else:
        summary = state.summary + (
            f" after {len(state.steps)} step{'s' if len(state.steps) != 1 else ''}"
            if state.steps
            else " all at once"
        )
    ended = services.store.end(state.rollout_id, _iso(now), SUCCEEDED, summary, state.as_json())
    if not ended and (services.store.record(state.rollout_id) or {}).get("status") != SUCCEEDED:
        raise RolloutEndedError(
            f"rollout {state.rollout_id} was ended by a cleanup before it could finish"
        )
    services.store.release(state.lock_key, state.rollout_id)
    services.events.emit(status_detail(Phase.SUCCEEDED, state, now, reason=summary))
    return {
        "rolloutId": state.rollout_id,
        "status": SUCCEEDED,
        "functionName": state.function_name,
        "alias": state.alias,
        "fromVersion": state.baseline_version,
        "toVersion": state.target_version,
        "firstDeploy": state.first_deploy,
        "strategy": state.strategy,
        "steps": [s.model_dump(by_alias=True) for s in state.steps],
        "summary": summary,
    }


# -- RollBack / StopOnDrift / release after a crash -----------------------------
def end_without_promotion(
    rollout_id: str,
    state: RolloutState | None,
    request: dict[str, Any] | None,
    why: str,
    services: Services,
    now: datetime,
    drift_reported: bool = False,
    fence: bool = False,
) -> dict[str, Any]:
    """End a rollout that will not be promoted: restore the baseline unless the alias drifted.

    Safe to run again, and after the execution itself is gone (the release
    function, and the next rollout finding a stale lock, call it). A rollout
    whose record has already ended keeps that ending and is not restored again;
    one recorded SUCCEEDED (only its bookkeeping failed after) stays promoted.
    ``fence``: also renew the alias's RevisionId when it is already back on the
    baseline, so a late write from a task still running for this rollout fails.
    Returns ``{"drifted": bool, "status": ..., "cause": sentence}``.
    """
    record = services.store.record(rollout_id)
    if state is None and record is not None:
        state = RolloutState.model_validate(record["state"])
    if state is None:
        # PrepareRollout failed before writing a record: release the lock if it took it.
        if request and request.get("functionName") and request.get("alias"):
            services.store.release(
                lock_key(str(request["functionName"]), str(request["alias"])), rollout_id
            )
        return {
            "drifted": False,
            "status": ROLLED_BACK,
            "cause": f"The rollout failed before it changed anything: {why}",
        }
    if record is not None and record.get("status") in ENDED:
        services.store.release(state.lock_key, rollout_id)
        status = str(record["status"])
        cause = str(record.get("reason") or state.summary)
        if status == SUCCEEDED:
            cause = f"{cause} (then: {why})"
        return {"drifted": status == DRIFTED, "status": status, "cause": cause}

    holder = services.store.lock_holder(state.lock_key)
    if holder is not None and holder.get("rolloutId") != rollout_id:
        drift: str | None = f"rollout {holder.get('rolloutId')} now holds alias {state.alias}"
    else:
        drift = why if drift_reported else None
    restored = ""
    if drift is None:
        drift, restored = _restore(state, services, record or {}, fence)
    if drift is not None:
        status = DRIFTED
        cause = (
            f"Stopped {state.subject} without touching it: {drift}. The alias was left as found."
        )
    else:
        status, cause = ROLLED_BACK, f"Rolled back {state.subject}{restored}: {why.rstrip('.')}."
    if record is not None and services.store.end(
        rollout_id, _iso(now), status, cause, state.as_json()
    ):
        phase = Phase.DRIFTED if status == DRIFTED else Phase.ROLLED_BACK
        services.events.emit(status_detail(phase, state, now, reason=cause))
    services.store.release(state.lock_key, rollout_id)
    return {"drifted": drift is not None, "cause": cause, "status": status}


def _restore(
    state: RolloutState, services: Services, record: dict[str, Any], fence: bool
) -> tuple[str | None, str]:
    """Put the alias back as it was before the rollout. Returns (drift, what was done)."""
    current = services.lambda_.alias(state.function_name, state.alias)
    if current is None:
        if state.first_deploy:
            return None, " (the alias was never created)"
        return f"alias {state.alias} was deleted", ""
    at_baseline = not state.first_deploy and current.same_routing(
        AliasConfig(str(state.baseline_version))
    )
    if at_baseline and not fence:
        return None, f" to version {state.baseline_version}"
    if not at_baseline and not _ours(state, current, record):
        return (
            f"alias {state.alias} now routes {current.describe()}, not as this rollout left it",
            "",
        )
    if state.first_deploy:
        services.lambda_.delete_alias(state.function_name, state.alias)
        return None, " by deleting the alias this first deploy created"
    baseline = AliasConfig(str(state.baseline_version))
    try:
        services.lambda_.route(state.function_name, state.alias, baseline, current.revision_id)
    except PreconditionFailedError:
        return f"alias {state.alias} was changed by someone else during the rollback", ""
    return None, f" to version {state.baseline_version}"


def _pending(record: dict[str, Any]) -> AliasConfig | None:
    """The routing a task recorded it was about to write, and never saved as written.

    That task wrote it and then failed, or was stopped, before saving the new
    RevisionId: the routing is the rollout's own.
    """
    writing = record.get("writing")
    if not isinstance(writing, dict) or "version" not in writing:
        return None
    extra = {str(v): int(w) for v, w in (writing.get("extra") or {}).items()}
    return AliasConfig(str(writing["version"]), extra)


def _ours(state: RolloutState, current: AliasConfig, record: dict[str, Any]) -> bool:
    """Whether the alias is as this rollout last wrote it, or as it was writing it."""
    pending = _pending(record)
    return current.revision_id == state.alias_revision_id or (
        pending is not None and current.same_routing(pending)
    )


def failure_reason(failure: dict[str, Any] | None, state: RolloutState | None) -> str:
    """A sentence for why the rollout ends, from the decision or from a caught task error."""
    if failure:
        error = str(failure.get("Error", "error"))
        cause = failure.get("Cause") or ""
        try:
            detail = json.loads(cause)
            message = detail.get("errorMessage", cause) if isinstance(detail, dict) else cause
        except (json.JSONDecodeError, TypeError):
            message = cause
        where = f" {state.progress().where()}" if state is not None else ""
        if error == "HookFailedError":
            return f"{message}{where}"
        if error == "AbortedError":
            return str(message)
        return f"a task failed with {error}: {message}{where}".strip()
    if state is not None and state.reason:
        return state.reason
    return "the rollout was stopped"


def needs_release(record: dict[str, Any] | None) -> bool:
    """Whether a record still needs cleanup (its rollout never reached an end)."""
    return record is not None and record.get("status") not in ENDED


__all__ = [
    "Action",
    "Services",
    "check",
    "end_without_promotion",
    "failure_reason",
    "finish",
    "hook_payload",
    "needs_release",
    "prepare",
    "promote",
    "publish",
    "run_hook",
    "shift",
]
