"""What each task of the state machine does: observe, decide (pure), act.

A handler parses its event and calls one function here with ``Services`` (the
AWS adapters) and ``now``. Each function is safe to run twice, and late: Step
Functions retries tasks, a Lambda can be invoked again after its answer was lost,
and Lambda keeps running a task after its execution stopped. So every task that
can move traffic or end a rollout observes first (``rollouts.observe``), asks the
pure decision (``rollouts.decision``), and acts only on that, fenced by the alias
RevisionId it read and by the record still being RUNNING.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from rollouts.aliases import Alarms, AliasConfig, FunctionInfo, InvocationTimeoutError, Lambda
from rollouts.analysis import Verdict, judge, unjudged, verdict_json, window
from rollouts.aws import HOOK_READ_TIMEOUT_SECONDS, client, table
from rollouts.decision import (
    Action,
    Control,
    Health,
    Progress,
    Routing,
    alarms_firing,
    decide,
    describe,
    owns,
    wake_reason,
)
from rollouts.durations import human
from rollouts.endings import conclude, forget_watches
from rollouts.errors import (
    AbortedError,
    AccessDeniedError,
    AlarmFiringError,
    HookFailedError,
    NotFoundError,
    PreconditionFailedError,
    ResourceConflictError,
    RolloutError,
    RolloutInProgressError,
    TransientError,
    ValidationError,
)
from rollouts.models import RolloutRequest, parse_request
from rollouts.notify import Phase, StatusEvents, hold_phase, status_detail
from rollouts.observe import (
    Observation,
    abort_reason,
    expected_routings,
    observe,
    promoter,
    resumed_by,
)
from rollouts.observe import health as health_of
from rollouts.scope import Scope
from rollouts.service import execution_alive
from rollouts.state import HookNames, PlannedStep, RolloutState, lock_key
from rollouts.store import (
    ENDED,
    RUNNING,
    SUCCEEDED,
    AbortRequestedError,
    RecordClosedError,
    RolloutStore,
    bounded,
)
from rollouts.traffic import Traffic
from rollouts.wake import ALARM_FIRING, WOKEN_BY, end_wait

HOOK_EVENTS = ("PreTraffic", "PostTraffic")
# How often a task looks again when Lambda refuses its alias write (RevisionId moved on).
WRITE_ATTEMPTS = 3
# How a refused execution ends: PrepareRollout refused it and took nothing (no cleanup).
REFUSALS = frozenset({"ValidationError", "RolloutInProgress"})
# Task errors after which the task may still be running: Step Functions gave up waiting
# (States.Timeout), or lost the invocation's answer (Lambda.*), while Lambda may go on.
# A task that raised one of our own errors has stopped.
MAY_STILL_RUN_PREFIXES = ("States.", "Lambda.", "Sandbox.")


def may_still_run(failure: dict[str, Any] | None) -> bool:
    """Whether the task whose failure was caught may still be running (so: fence)."""
    return str((failure or {}).get("Error", "")).startswith(MAY_STILL_RUN_PREFIXES)


# PublishVersion waits this long for a function update in progress (inside its task's 30 s);
# the state machine then retries it (ResourceConflictError) for several minutes more.
PUBLISH_WAIT_SECONDS = 20
# A check keeps the names of at most this many alarms that are not OK (the record stays small).
MAX_ALARMS_SHOWN = 5
# A hook's answer is remembered this long (Powertools idempotency on the rollout table).
HOOK_ANSWER_KEPT_SECONDS = 7 * 24 * 60 * 60
# Under a partition of their own: no other role may write a hook answer (the API keeps
# its idempotency records under IDEMPOTENCY#api).
IDEMPOTENCY_PK = "IDEMPOTENCY#hooks"
# A hook invocation that times out this much sooner than the hook client's read timeout
# lost its answer on the way; one that reaches it was a hook too slow to answer.
HOOK_SLOW_MARGIN_SECONDS = 30


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
    # Where a hook's answer is remembered (a Powertools idempotency persistence layer);
    # None runs every hook call (unit tests of the pure parts only).
    hook_answers: Any = None
    # The functions this stack may roll out and invoke as hooks (its prefix parameters).
    scope: Scope = dataclasses.field(default_factory=Scope.from_environment)
    # Each version's own traffic (Lambda's metrics), for the analysis; None: no analysis.
    traffic: Traffic | None = None

    def still_running(self, execution_arn: str) -> bool:
        """Whether the execution may still act (True when it cannot be told)."""
        return self.sfn is None or execution_alive(self.sfn, execution_arn)

    @classmethod
    def from_environment(cls) -> Services:
        """Clients from the environment (the Lambda runtime, or the local engine)."""
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        return cls(
            lambda_=Lambda(client("lambda")),
            alarms=Alarms(client("cloudwatch")),
            store=RolloutStore(table(os.environ["TABLE_NAME"])),
            region=region,
            events=StatusEvents(client("events")),
            hooks=Lambda(client("lambda", read_timeout=HOOK_READ_TIMEOUT_SECONDS)),
            sfn=client("stepfunctions"),
            traffic=Traffic(client("cloudwatch")),
            hook_answers=DynamoDBPersistenceLayer(
                table_name=os.environ["TABLE_NAME"],
                key_attr="pk",
                sort_key_attr="sk",
                static_pk_value=IDEMPOTENCY_PK,
                expiry_attr="expiresAt",
                boto3_client=client("dynamodb"),
            ),
        )


def _since(now: datetime) -> str:
    """When a wait began, to the microsecond: a later wait's is always greater."""
    return now.isoformat(timespec="microseconds")


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
    """Observe (the request, the function, the lock, the alias), decide, then take the alias.

    The order is what keeps it safe: nothing is written until every check passed; a stale
    lock is taken over in one conditional write before its rollout is cleaned up; the
    record is written last, conditionally, so a PrepareRollout still running after its
    execution ended finds the mark its cleanup left and gives back what it took.
    """
    request = parse_request(event.get("request"))
    rollout_id = str(event["rolloutId"])
    execution = str(event.get("executionArn", ""))
    function = _resolve(request, services, rollout_id, execution)
    key = lock_key(function.name, request.alias)
    record = services.store.record(rollout_id)
    if record is not None and record.get("status") != RUNNING:
        raise RecordClosedError(f"rollout {rollout_id} ended before it was prepared")
    if record is not None:
        # This task ran before (its answer was lost, or it still runs). Hold the lock again:
        # a sibling attempt that failed may have given it back.
        services.store.acquire(key, rollout_id, execution, _iso(now))
        return RolloutState.model_validate(record["state"])
    # A busy alias is reported as busy, not as whatever state the other rollout left it in.
    stale = services.store.refuse_if_busy(key, rollout_id, services.still_running)
    services.store.acquire(
        key, rollout_id, execution, _iso(now), replacing=str(stale["rolloutId"]) if stale else None
    )
    try:
        if stale is not None:
            # Ours now: clean up after the rollout whose execution ended without doing so.
            conclude(
                str(stale["rolloutId"]),
                None,
                {"functionName": function.name, "alias": request.alias},
                "its execution ended without cleaning up; the next rollout did",
                services,
                now,
                taken_over_by=rollout_id,
            )
        state = _plan(event, request, function, services, now)
        if state.pin_alias:
            services.lambda_.pin(
                state.function_name, state.pin_alias, str(state.baseline_version), rollout_id
            )
        if state.alarms:
            # Before the record: an alarm entering ALARM then always finds the rollout.
            services.store.watch(rollout_id, state.alarms, int(now.timestamp()))
        if not services.store.create_record(state.as_json(), key, _iso(now)):
            existing = services.store.record(rollout_id) or {}
            if existing.get("status") != RUNNING:
                raise RecordClosedError(f"rollout {rollout_id} ended before it was prepared")
            # A sibling attempt of this task wrote it first: the rollout goes on from there.
            return RolloutState.model_validate(existing["state"])
    except BaseException:
        _give_back(rollout_id, key, function.name, services)
        raise
    return state


def _give_back(rollout_id: str, key: str, function_name: str, services: Services) -> None:
    """Undo what a PrepareRollout took before it failed: its pin and its lock."""
    record = services.store.record(rollout_id)
    if record is not None and record.get("status") == RUNNING:
        return  # prepared after all (a retry wrote it): the rollout goes on
    with contextlib.suppress(RolloutError):
        services.lambda_.unpin(function_name, pin_name(rollout_id))
    with contextlib.suppress(RolloutError):
        services.store.release(key, rollout_id)


def pin_name(rollout_id: str) -> str:
    """The name of the alias that pins a rollout's baseline (unique per rollout).

    >>> pin_name("orders-api-live-v7-1a2b3c4d")
    'rollout-baseline-5b0d7f3b4b6c2f1e'
    """
    return f"rollout-baseline-{hashlib.sha256(rollout_id.encode()).hexdigest()[:16]}"


def _plan(
    event: dict[str, Any],
    request: RolloutRequest,
    function: FunctionInfo,
    services: Services,
    now: datetime,
) -> RolloutState:
    """The rollout's state from the request and the alias as it is now; refuses a bad alias."""
    baseline = services.lambda_.alias(function.name, request.alias)
    problems: list[tuple[str, str]] = []
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
    if baseline is None and not request.create_alias:
        problems.append(
            (
                "alias",
                f"{function.name} has no alias {request.alias}: check its name, or ask for"
                " a first deploy with createAlias: true (CLI: --create-alias)",
            )
        )
    if problems:
        raise ValidationError.from_errors(problems)
    first_deploy = baseline is None
    steps = () if first_deploy else request.steps
    target = request.version
    rollout_id = str(event["rolloutId"])
    state = RolloutState(
        rollout_id=rollout_id,
        execution_arn=str(event.get("executionArn", "")),
        started_at=str(event.get("startedAt") or _iso(now)),
        function_name=function.name,
        function_arn=function.arn,
        alias=request.alias,
        baseline_version=baseline.version if baseline else None,
        target_version=target,
        first_deploy=first_deploy,
        strategy=request.strategy.name,
        steps=tuple(PlannedStep.of(s) for s in steps),
        check_interval_seconds=request.resolved_check_interval_seconds,
        alarms=request.alarms,
        hooks=HookNames(
            pre_traffic=request.hooks.pre_traffic,
            post_traffic=request.hooks.post_traffic,
            pre_traffic_timeout_seconds=request.hooks.pre_traffic_timeout_seconds,
            post_traffic_timeout_seconds=request.hooks.post_traffic_timeout_seconds,
        )
        if request.hooks
        else HookNames(),
        alias_revision_id=baseline.revision_id if baseline else None,
        code_sha256=request.code_sha256,
        # A first deploy has no baseline beside it, nor any step to judge.
        analysis=request.analysis if steps else None,
        pin_alias=pin_name(rollout_id)
        if baseline is not None and baseline.version != "$LATEST"
        else None,
    )
    if target is not None and baseline is not None and baseline.version == target:
        return state.with_(
            action="none",
            promoted=True,
            summary=f"{state.subject} already runs version {target}",
        )
    return _decided(state, state.progress(), Health(), now)


def _resolve(
    request: RolloutRequest, services: Services, rollout_id: str, execution_arn: str
) -> FunctionInfo:
    """Check that everything the request names exists; collect every problem at once."""
    # Outside the stack's prefixes, account or region (where the execution runs):
    # refused before any call (IAM would deny it anyway, with a less telling error).
    services.scope.at(execution_arn).refuse_outside(request)
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
    # Busy before anything else: a busy alias is refused as busy, not as a bad request.
    services.store.refuse_if_busy(
        lock_key(function.name, request.alias), rollout_id, services.still_running
    )
    if request.version is not None and not services.lambda_.has_version(
        function.name, request.version
    ):
        problems.append(("version", f"{function.name} has no published version {request.version}"))
    problems += _missing_alarms_and_hooks(request, services)
    if problems:
        raise ValidationError.from_errors(problems)
    return function


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


# -- PublishVersion -----------------------------------------------------------
def publish(state: RolloutState, services: Services, now: datetime) -> RolloutState:
    """Publish $LATEST as the target (the same version again if the task is retried).

    Waits first for the function's last update to finish (a code update still in
    progress would make Lambda refuse, or publish the code before it); with a
    ``codeSha256``, publishes exactly that code or refuses with ValidationError.
    """
    services.lambda_.wait_until_updated(state.function_name, PUBLISH_WAIT_SECONDS)
    version = services.lambda_.publish(
        state.function_name, f"Lambda Rollouts {state.rollout_id}", code_sha256=state.code_sha256
    )
    state = state.with_(target_version=version)
    if version == state.baseline_version:
        state = state.with_(
            action="none",
            promoted=True,
            summary=f"{state.subject} already runs version {version}: $LATEST is unchanged",
        )
    services.store.update(state.rollout_id, _iso(now), targetVersion=version, state=state.as_json())
    return state


# -- RunPreTrafficHook / RunPostTrafficHook -----------------------------------
def hook_payload(
    state: RolloutState, lifecycle_event: str, token: str | None = None
) -> dict[str, Any]:
    """The hook contract's payload (with ``callbackToken``, when the hook may answer later)."""
    return {
        "rolloutId": state.rollout_id,
        "lifecycleEvent": lifecycle_event,
        "functionName": state.function_name,
        "alias": state.alias,
        "fromVersion": state.baseline_version,
        "toVersion": state.target_version,
        "targetArn": f"{state.function_arn}:{state.target_version}",
        **({"callbackToken": token} if token else {}),
    }


class HookPendingError(Exception):
    """The hook answered ``{"status": "Pending"}``: it reports later, on its callback token."""


def run_hook(
    state: RolloutState,
    lifecycle_event: str,
    services: Services,
    now: datetime,
    context: Any = None,
    token: str | None = None,
) -> RolloutState:
    """Invoke the hook once; it passes only when it answers ``{"status": "Succeeded"}``.

    Observes first: an abort requested (or an ending begun) before the hook runs ends
    the rollout instead. The hook's answer is remembered (Powertools idempotency keyed
    by rollout and lifecycle event) before the record is written, so a retried task
    reuses it and never invokes the hook again; only a call whose answer was lost
    (the invocation itself failed) is made again.

    With ``token`` (the state machine waits for it): the token is left on the record
    first (so that an abort ends the wait at once), the hook gets it as
    ``callbackToken``, and its answer is sent on it: at once when the hook answers
    Succeeded or Failed, by the hook itself (``SendTaskSuccess``/``SendTaskFailure``)
    when it answers Pending. ``judge_hook`` then records the answer.
    """
    if lifecycle_event not in HOOK_EVENTS:
        raise ValueError(f"lifecycleEvent must be one of {HOOK_EVENTS}, not {lifecycle_event}")
    hook = state.hooks.function(lifecycle_event)
    if not hook:
        if token:
            end_wait(services.sfn, token, output={"status": "Succeeded"})
        return state
    record = services.store.record(state.rollout_id) or {}
    if record.get("status") != RUNNING:
        raise RecordClosedError(f"rollout {state.rollout_id} is {record.get('status', 'gone')}")
    reason = abort_reason(record)
    if reason is not None:
        raise AbortedError(f"{reason} {state.progress().where()}")
    if token is None:
        verdict = _hook_answer(state, lifecycle_event, hook, services, context)
        _record_hook(state, lifecycle_event, hook, verdict or "Succeeded", services, now)
        if verdict is not None:
            raise HookFailedError(f"{lifecycle_event} hook {hook} failed: {verdict}")
        return state
    waiting = {"kind": lifecycle_event, "token": token, "hook": hook, "since": _since(now)}
    if not services.store.set_waiting(state.rollout_id, waiting, _iso(now), unless_aborted=True):
        record = services.store.record(state.rollout_id) or {}
        if record.get("status") != RUNNING:
            raise RecordClosedError(f"rollout {state.rollout_id} is {record.get('status')}")
        if abort_reason(record) is None:
            # A later attempt waits already: this one's wait has ended; nothing to ask.
            return state
        raise AbortedError(f"{abort_reason(record)} {state.progress().where()}")
    # The token is left: from now on an alarm entering ALARM fails this wait. One that
    # entered it before (after the last task looked) is seen here.
    firing = alarms_firing(state.alarms, services.alarms.states(state.alarms))
    if firing:
        raise AlarmFiringError(firing)
    try:
        verdict = _hook_answer(state, lifecycle_event, hook, services, context, token)
    except HookPendingError:
        _record_hook(state, lifecycle_event, hook, "Pending", services, now)
        return state
    answer = {"status": "Succeeded"} if verdict is None else {"status": "Failed", "reason": verdict}
    end_wait(services.sfn, token, output=answer)
    return state


def _record_hook(
    state: RolloutState,
    lifecycle_event: str,
    hook: str,
    result: str,
    services: Services,
    now: datetime,
) -> None:
    answer: dict[str, Any] = {"function": hook, "result": bounded(result), "at": _iso(now)}
    fields: dict[str, Any] = {f"hook{lifecycle_event}": answer}
    services.store.update(state.rollout_id, _iso(now), **fields)


def judge_hook(
    state: RolloutState, lifecycle_event: str, answer: Any, services: Services, now: datetime
) -> RolloutState:
    """Record the answer a hook gave on its token (or RunHook gave for it), and judge it.

    It passes only on ``{"status": "Succeeded"}``: ``{"status": "Failed", "reason": ...}``
    or anything else is a HookFailedError naming the hook and what it answered.
    """
    hook = state.hooks.function(lifecycle_event) or "hook"
    verdict = _hook_verdict(json.dumps(answer).encode(), None)
    _record_hook(state, lifecycle_event, hook, verdict or "Succeeded", services, now)
    with contextlib.suppress(RolloutError):
        services.store.clear_waiting(state.rollout_id, lifecycle_event, _iso(now))
    if verdict is not None:
        raise HookFailedError(f"{lifecycle_event} hook {hook} failed: {verdict}")
    return state


def _hook_answer(
    state: RolloutState,
    lifecycle_event: str,
    hook: str,
    services: Services,
    context: Any,
    token: str | None = None,
) -> str | None:
    """The hook's verdict (None: passed), invoking it only if no answer is remembered.

    A failure of the answer store itself is a TransientError (retried): before the hook
    ran, nothing happened; after it ran, its answer is used at once (only a retry of
    this task would then wait for the stored answer to expire and ask the hook again).
    An invocation whose answer was lost on the way (not a hook too slow to answer) is
    a TransientError too: the hook is asked again.
    """
    answered: list[dict[str, Any]] = []

    def invoke(call: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(hook_payload(state, lifecycle_event, token)).encode()
        started = time.monotonic()
        try:
            body, function_error = services.hooks.invoke(hook, payload)
            if token and not function_error and _is_pending(body):
                # Not remembered (this raises through the idempotency): a retry of the task
                # has a new token, which the hook must be given.
                raise HookPendingError(hook)
            answer = {"verdict": _hook_verdict(body, function_error)}
        except InvocationTimeoutError as error:
            if time.monotonic() - started < HOOK_READ_TIMEOUT_SECONDS - HOOK_SLOW_MARGIN_SECONDS:
                message = f"hook {hook}'s answer was lost ({error}); asking again"
                raise TransientError(message) from error
            answer = {"verdict": f"it did not answer within {HOOK_READ_TIMEOUT_SECONDS} s"}
        answered.append(answer)
        return answer

    call = {"rolloutId": state.rollout_id, "lifecycleEvent": lifecycle_event, "hook": hook}
    if services.hook_answers is None:
        found = invoke(call)["verdict"]
        return None if found is None else str(found)
    from aws_lambda_powertools.utilities.idempotency import (
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyPersistenceLayerError,
    )

    config = IdempotencyConfig(
        event_key_jmespath="[rolloutId, lifecycleEvent, hook]",
        expires_after_seconds=HOOK_ANSWER_KEPT_SECONDS,
        raise_on_no_idempotency_key=True,
    )
    if context is not None:
        # An answer in progress expires with this invocation, so a crashed one is retried.
        config.register_lambda_context(context)
    once: Callable[..., dict[str, Any]] = idempotent_function(
        invoke,
        data_keyword_argument="call",
        persistence_store=services.hook_answers,
        config=config,
        key_prefix="hook",
    )
    try:
        verdict = once(call=call)["verdict"]
    except IdempotencyPersistenceLayerError as error:
        if not answered:
            raise TransientError(f"the hook answer store failed: {error}") from error
        verdict = answered[-1]["verdict"]
    return None if verdict is None else str(verdict)


def _is_pending(body: bytes) -> bool:
    try:
        answer = json.loads(body.decode("utf-8", "replace") or "null")
    except json.JSONDecodeError:
        return False
    return isinstance(answer, dict) and answer.get("status") == "Pending"


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


# -- ShiftTraffic / PromoteTarget / CheckHealth / FinishRollout ----------------
# Each observes (``rollouts.observe``), decides (``rollouts.decision.decide``, pure), and
# acts only on that decision, fenced by the RevisionId it read and by the record being
# RUNNING. A decision other than the task's own (an abort, a firing alarm, drift) is
# returned for NextAction to follow: nothing is written.
def _decided(
    state: RolloutState,
    progress: Progress,
    health: Health,
    now: datetime,
    control: Control | None = None,
) -> RolloutState:
    decision = decide(progress, health, now, control)
    return state.following(decision, progress, describe(decision, progress))


def _judged(
    state: RolloutState, progress: Progress, seen: Observation, now: datetime
) -> RolloutState:
    """``_decided`` on what was seen: its health and people's requests."""
    return _decided(state, progress, health_of(state, seen), now, seen.control)


def _seen(state: RolloutState, services: Services, *, alarms: bool = True) -> Observation:
    seen = observe(state, services, alarms=alarms)
    if not seen.running:
        raise RecordClosedError(
            f"rollout {state.rollout_id} is {seen.record.get('status', 'gone')}:"
            " this task does nothing more"
        )
    return seen


def _write_alias(
    state: RolloutState, seen: Observation, wanted: Routing, services: Services, now: datetime
) -> AliasConfig | str | None:
    """Write ``wanted``, fenced by the RevisionId observed; returns what was written.

    Or a drift description when the alias is someone else's, or None when an abort
    was accepted before the write (the caller decides again: nothing moved).
    The write is announced on the record first (``writing``, conditional on the record
    being RUNNING with no abort), so that an ending knows the routing is the rollout's
    own even if this task stops before saving it. When Lambda refuses the RevisionId,
    the alias is read again and judged by the same rule (``owns``): a description
    edit, or this task's own retry, is not drift.
    """
    current = seen.alias
    for _ in range(WRITE_ATTEMPTS):
        if current is None:
            return f"alias {state.alias} was deleted"
        if current.routing == wanted:
            return current  # an earlier run of this task wrote it; only its answer was lost
        expected = expected_routings(state, seen)
        if not any(owns(e, seen.pending, current.routing) for e in expected):
            return (
                f"alias {state.alias} now routes {current.describe()}, not as this rollout left it"
            )
        if not services.store.mark_writing(
            state.rollout_id, _iso(now), {"version": wanted.version, "extra": dict(wanted.extra)}
        ):
            return None
        announced = {"version": wanted.version, "extra": dict(wanted.extra)}
        seen = replace(seen, record={**seen.record, "writing": announced})
        write = functools.partial(
            services.lambda_.route,
            state.function_name,
            state.alias,
            AliasConfig.of(wanted),
            current.revision_id,
        )
        try:
            return _uncertain_write(state, wanted, services, write)
        except PreconditionFailedError:
            current = services.lambda_.alias(state.function_name, state.alias)
    return f"alias {state.alias} kept changing while this rollout wrote it"


def _create_alias(
    state: RolloutState, wanted: Routing, services: Services, now: datetime
) -> AliasConfig | str | None:
    """A first deploy's promotion: create the alias on the target, announced first."""
    if not services.store.mark_writing(
        state.rollout_id, _iso(now), {"version": wanted.version, "extra": {}}
    ):
        return None
    try:
        return _uncertain_write(
            state,
            wanted,
            services,
            lambda: services.lambda_.create_alias(
                state.function_name, state.alias, str(state.target_version)
            ),
        )
    except ResourceConflictError:
        found = services.lambda_.alias(state.function_name, state.alias)
        if found is not None and found.routing == wanted:
            return found  # this task's own earlier create (its answer was lost)
        return f"alias {state.alias} was created by someone else meanwhile"


def _uncertain_write(
    state: RolloutState,
    wanted: Routing,
    services: Services,
    write: Callable[[], AliasConfig],
) -> AliasConfig:
    """Make an alias write; if it failed in a way that may have landed, and an ending
    has begun meanwhile (this task is late), take it back before raising."""
    try:
        return write()
    except (PreconditionFailedError, ResourceConflictError):
        raise
    except RolloutError:
        record = services.store.record(state.rollout_id) or {}
        if record.get("status") not in (RUNNING, SUCCEEDED):
            _take_back(state, wanted, None, services)
        raise


def _save_or_take_back(
    state: RolloutState,
    wanted: Routing,
    written: AliasConfig,
    services: Services,
    save: Callable[[], None],
) -> None:
    """Save what was written; if an ending began meanwhile, take the write back.

    The ending reads the alias after closing the record, and this task saves after
    writing the alias: whichever comes second sees the other, so a late write is
    always undone, by the ending or here. Never after success: a rollout recorded
    SUCCEEDED stays on the target, whatever a late attempt of one of its tasks finds.
    An abort accepted during the write is honoured the same way (AbortRequestedError).
    """
    try:
        save()
    except AbortRequestedError:
        # Accepted between this task's look and its write: the write is undone at once,
        # and the caller decides again (roll back).
        _take_back(state, wanted, written.revision_id, services)
        raise
    except RecordClosedError:
        record = services.store.record(state.rollout_id) or {}
        if record.get("status") != SUCCEEDED:
            _take_back(state, wanted, written.revision_id, services)
        raise


def _take_back(
    state: RolloutState, wanted: Routing, revision_id: str | None, services: Services
) -> None:
    """Undo this task's own write after its rollout began to end (best effort, fenced).

    Only an alias that still routes as this task wrote it (and, when known, still at
    the RevisionId its write returned) is put back: the baseline, or no alias on a
    first deploy. The execution is over, so no state machine retries this: it tries
    a few times itself.
    """
    for _ in range(WRITE_ATTEMPTS):
        try:
            found = services.lambda_.alias(state.function_name, state.alias)
            if found is None or found.routing != wanted:
                return
            if revision_id is not None and found.revision_id != revision_id:
                return
            if state.first_deploy:
                services.lambda_.delete_alias(state.function_name, state.alias)
            else:
                services.lambda_.route(
                    state.function_name,
                    state.alias,
                    AliasConfig(str(state.baseline_version)),
                    found.revision_id,
                )
            return
        except (PreconditionFailedError, NotFoundError):
            return
        except RolloutError:
            continue


def shift(state: RolloutState, services: Services, now: datetime) -> RolloutState:
    """Send the next step's percent of traffic to the target, then decide (usually: bake)."""
    seen = _seen(state, services)
    progress = state.progress()
    decision = decide(progress, health_of(state, seen), now, seen.control)
    if decision.action != Action.SHIFT:
        decided = state.following(decision, progress, describe(decision, progress))
        _announce_hold(state.held, decided, seen.record, services, now)
        return decided
    index = decision.step_index
    step = state.steps[index]
    wanted = Routing.of(str(state.baseline_version), {str(state.target_version): step.weight})
    written = _write_alias(state, seen, wanted, services, now)
    if written is None:  # an abort was accepted just now: nothing moved
        return _judged(state, progress, _seen(state, services), now)
    if isinstance(written, str):
        return _decided(state, state.progress(), Health(drift=written), now)
    passed = state.verdict  # the verdict that let the step before end, if any
    state = state.with_(alias_revision_id=written.revision_id)
    if step.weight != state.weight or state.shifted_at is None:
        # A new weight: its own window, and no verdict yet (a pause step keeps both). A
        # retry of this task keeps the moment the first run recorded.
        recorded = seen.record.get("state") or {}
        again = recorded.get("stepIndex") == index and recorded.get("shiftedAt")
        state = state.with_(shifted_at=str(again) if again else _since(now), verdict=None)
    state = _decided(state, state.progress().at_step(index), Health(), now, seen.control)
    saved = state
    try:
        _save_or_take_back(
            saved,
            wanted,
            written,
            services,
            lambda: services.store.record_step(
                saved.rollout_id,
                seen.record,
                {
                    "step": index + 1,
                    "weight": step.weight,
                    "bakeSeconds": step.bake_seconds,
                    "at": _iso(now),
                },
                saved.as_json(),
                _iso(now),
            ),
        )
    except AbortRequestedError:
        return _judged(saved, progress, _seen(saved, services), now)
    asked_by = promoter(seen.record, index - 1)
    shifted_why = f"promoted by {asked_by}" if asked_by else None
    services.events.emit(
        status_detail(Phase.SHIFTED, state, now, reason=shifted_why, analysis=passed)
    )
    _announce_hold(False, state, seen.record, services, now)  # a pause step holds now
    return state


def promote(state: RolloutState, services: Services, now: datetime) -> RolloutState:
    """Point the alias at the target at 100% (create it on a first deploy), then decide.

    Observes first: an abort, a firing alarm or drift rolls back or stops instead.
    """
    assert state.target_version is not None
    seen = _seen(state, services)
    decided = _judged(state, state.progress(), seen, now)
    if decided.action != Action.PROMOTE:
        _announce_hold(state.held, decided, seen.record, services, now)  # paused just now
        return decided
    wanted = Routing.of(state.target_version)
    written: AliasConfig | str | None
    if state.first_deploy and seen.alias is None:
        written = _create_alias(state, wanted, services, now)
    else:
        written = _write_alias(state, seen, wanted, services, now)
    if written is None:  # an abort was accepted just now: nothing moved
        return _judged(state, state.progress(), _seen(state, services), now)
    if isinstance(written, str):
        return _decided(state, state.progress(), Health(drift=written), now)
    summary = (
        f"{state.subject} created on version {state.target_version} (first deploy: no baseline)"
        if state.first_deploy
        else f"{state.subject} promoted to version {state.target_version}"
        f" (was {state.baseline_version})"
    )
    promoted = state.with_(alias_revision_id=written.revision_id, promoted=True)
    promoted = _decided(promoted, promoted.progress(), Health(), now).with_(summary=summary)
    try:
        _save_or_take_back(
            promoted,
            wanted,
            written,
            services,
            lambda: services.store.update(
                promoted.rollout_id,
                _iso(now),
                unless_aborted=True,
                promotedAt=_iso(now),
                state=promoted.as_json(),
                writing=None,
            ),
        )
    except AbortRequestedError:
        return _judged(state, state.progress(), _seen(state, services), now)
    asked_by = promoter(seen.record, state.step_index)
    announced = f"{summary}, asked by {asked_by}" if asked_by else summary
    services.events.emit(status_detail(Phase.PROMOTED, promoted, now, reason=announced))
    return promoted


def bake(state: RolloutState, token: str, services: Services, now: datetime) -> dict[str, Any]:
    """Begin a bake's wait: leave its token where a wake finds it, then look once.

    The Bake state waits on ``token`` until its timeout (the check interval, or the
    bake left) or until woken (``rollouts.wake``): by a person's request, or an alarm
    entering ALARM. The token is left first and the look comes after, so a request
    or an alarm either finds the token or is seen here: then the bake ends at once.
    """
    if not services.store.set_waiting(
        state.rollout_id, {"kind": "bake", "token": token, "since": _since(now)}, _iso(now)
    ):
        if (services.store.record(state.rollout_id) or {}).get("status") != RUNNING:
            raise RecordClosedError(f"rollout {state.rollout_id} is ending: nothing bakes")
        # A later wait's token is there: this bake timed out before it got here.
        return {"waiting": False, "superseded": True}
    seen = _seen(state, services)
    why = wake_reason(state.progress(), health_of(state, seen), seen.control, now, held=state.held)
    if why is not None:
        # A wake that found the token first has ended the wait already: no matter.
        end_wait(services.sfn, token, output={WOKEN_BY: why})
    return {"waiting": why is None, **({WOKEN_BY: why} if why else {})}


def baked_seconds(state: RolloutState, wake: dict[str, Any] | None, now: datetime) -> int:
    """What the wait that just ended adds to the bake.

    A hold bakes nothing; a wait that reached its timeout bakes all of it; a wait
    woken early bakes the time since the decision to bake, at most all of it.
    """
    if state.held:
        return 0
    if wake is None or "Error" in wake or not state.bake_started_at:
        return state.wait_seconds
    started = datetime.fromisoformat(state.bake_started_at)
    elapsed = int((now - started).total_seconds())
    return max(0, min(state.wait_seconds, elapsed))


def _analysed(state: RolloutState, services: Services, now: datetime) -> dict[str, Any] | None:
    """The analysis's verdict on the live step now (``analysis.verdict_json``), or None.

    None without analysis, before the first shift and after promotion (there is
    no baseline beside the target then). Observes the window since the step's own
    shift (none while settling), then judges it (pure).
    """
    analysis = state.analysis
    if analysis is None or state.step_index < 0 or state.promoted or state.shifted_at is None:
        return None
    found = window(datetime.fromisoformat(state.shifted_at), now, analysis.settle_seconds)
    if isinstance(found, str):
        return _verdict_of(state, unjudged(found), now)
    if services.traffic is None:
        raise ValueError("analysis needs the services' traffic reader")
    try:
        seen = services.traffic.read(
            state.function_name,
            state.alias,
            str(state.target_version),
            str(state.baseline_version),
            found,
            analysis.metrics,
        )
    except RolloutError as error:
        if not analysis.dry_run:
            raise  # retried by the state machine; a rollback if it never reads
        # A dry run acts on no verdict, so a metrics outage must not end it either.
        return _verdict_of(state, unjudged(f"the metrics could not be read: {error}"), now)
    if seen.incomplete is not None:
        verdict = unjudged(seen.incomplete)
    else:
        verdict = judge(seen.target, seen.baseline, analysis.thresholds(), seen.readings)
    span = {"window": {"start": _iso(found.start), "end": _iso(found.end)}}
    return _verdict_of(state, verdict, now, span)


def _verdict_of(
    state: RolloutState, verdict: Verdict, now: datetime, span: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The verdict as the record keeps it: bounded, when, at which step, over which window."""
    assert state.analysis is not None
    shown = verdict_json(verdict, dry_run=state.analysis.dry_run)
    return {
        **shown,
        "reason": bounded(shown["reason"]),
        "at": _iso(now),
        "step": state.step_index + 1,
        **(span or {}),
    }


def check(
    state: RolloutState, services: Services, now: datetime, wake: dict[str, Any] | None = None
) -> RolloutState:
    """After a bake's wait (``wake``: what ended it): observe, then decide.

    Reads the alarms, people's requests, the alias and, with ``analysis``, both
    versions' own traffic since the live step's shift (its verdict is recorded on
    the check and the state, and decided on unless it is a dry run).
    """
    progress = state.progress().after_wait(baked_seconds(state, wake, now))
    seen = _seen(state, services)
    verdict = _analysed(state, services, now)
    if verdict is not None:
        state = state.with_(verdict=verdict)
    health = health_of(state, seen)
    if seen.alias is not None and health.drift is None:
        # Same routing under a new RevisionId (someone re-saved the alias): still ours.
        state = state.with_(alias_revision_id=seen.alias.revision_id)
    was_held = state.held
    state = _decided(state, progress, health, now, seen.control)
    not_ok = [
        (bounded(name, 255), seen.alarm_states.get(name, "MISSING"))
        for name in state.alarms
        if seen.alarm_states.get(name) != "OK"
    ][:MAX_ALARMS_SHOWN]
    woken = (wake or {}).get(WOKEN_BY)
    services.store.record_check(
        state.rollout_id,
        seen.record,
        {
            "at": _iso(now),
            "step": progress.step_index + 1,
            "weight": progress.weight,
            "bakedSeconds": progress.baked_seconds,
            # Only the alarms that are not OK, and at most a few: the record stays bounded.
            "alarmsWatched": len(state.alarms),
            "alarmsNotOk": dict(not_ok),
            "alarmReasons": {
                name: bounded(seen.alarm_reasons.get(name, ""), 300) for name, _ in not_ok
            },
            "action": state.action,
            **({"wokenBy": bounded(str(woken), 300)} if woken else {}),
            **({"held": True} if state.held else {}),
            **({"reason": bounded(state.reason)} if state.reason else {}),
            **({"analysis": verdict} if verdict is not None else {}),
        },
        state.as_json(),
        _iso(now),
    )
    _announce_hold(was_held, state, seen.record, services, now, woken)
    return state


def _announce_hold(
    was_held: bool,
    state: RolloutState,
    record: dict[str, Any],
    services: Services,
    now: datetime,
    woken: Any = None,
) -> None:
    """Put ``paused`` when a hold began, ``resumed`` when one ended (``hold_phase``)."""
    phase = hold_phase(was_held, state.held, state.action)
    if phase is None:
        return
    if phase is Phase.PAUSED:
        why = state.reason
    else:
        why = resumed_by(record) or (str(woken) if woken else "resumed")
    services.events.emit(status_detail(phase, state, now, reason=why))


def finish(state: RolloutState, services: Services, now: datetime) -> RolloutState:
    """The last look, then success: record it, release the lock, set the execution output.

    Observes the alias, the alarms and the record once more (the PostTraffic hook may
    have run for minutes): drift stops, an abort or a firing alarm rolls back. Success
    is written only if no abort was accepted meanwhile (both are conditional writes),
    so an accepted abort is never followed by "promoted".
    """
    if not state.promoted:
        raise ValueError(f"cannot finish a rollout that was not promoted ({state.action!r})")
    record = services.store.record(state.rollout_id) or {}
    if record.get("status") == SUCCEEDED:
        return _finished(state, services, now)  # this task ran before; only its answer was lost
    seen = _seen(state, services)
    decided = _judged(state, state.progress(), seen, now)
    if decided.action != Action.FINISH:
        return decided
    if state.action == "none":
        summary = state.summary
    else:
        count = len(state.steps)
        summary = state.summary + (
            f" after {count} step{'s' if count != 1 else ''}" if state.steps else " all at once"
        )
    finished = state.with_(action="finished", summary=summary)
    if not services.store.end(
        state.rollout_id,
        _iso(now),
        SUCCEEDED,
        summary,
        finished.as_json(),
        from_status=RUNNING,
        unless_aborted=True,
    ):
        # An abort was accepted, or an ending began, between the look and the write.
        seen = observe(state, services)
        if seen.record.get("status") == SUCCEEDED:
            return _finished(state, services, now)
        if not seen.running:
            raise RecordClosedError(f"rollout {state.rollout_id} was ended before it finished")
        return _judged(state, state.progress(), seen, now)
    return _finished(finished, services, now)


def _finished(state: RolloutState, services: Services, now: datetime) -> RolloutState:
    """After success is recorded: unpin the baseline, release the lock, announce, answer."""
    record = services.store.record(state.rollout_id) or {}
    summary = str(record.get("reason") or state.summary)
    if state.pin_alias:
        services.lambda_.unpin(state.function_name, state.pin_alias)
    services.store.release(state.lock_key, state.rollout_id)
    forget_watches(state, services)
    services.events.emit(status_detail(Phase.SUCCEEDED, state, now, reason=summary))
    outcome = {
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
    return state.with_(action="finished", summary=summary, outcome=outcome)


def failure_reason(
    failure: dict[str, Any] | None, state: RolloutState | None, task: str | None = None
) -> str:
    """A sentence for why the rollout ends, from the decision or from a caught task error.

    ``task``: the state whose error was caught, so that a timeout names it (a hook's,
    with the hook and how long it had).
    """
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
        message = bounded(str(message), 2_000)
        if error == "AbortedError":
            return message
        hook = _hook_of_task(task, state)
        if hook is not None:
            event, name, timeout = hook
            if error == ALARM_FIRING:
                return f"{message}, while the {event} hook {name} ran{where}"
            if error == "States.Timeout":
                return f"{event} hook {name} did not answer within {human(timeout)}{where}"
            return f"{event} hook {name} failed with {error}: {message}{where}".strip()
        if error == "States.Timeout" and task:
            return f"{task} timed out{where}"
        named = f"{task} failed" if task else "a task failed"
        return f"{named} with {error}: {message}{where}".strip()
    if state is not None and state.reason:
        return state.reason
    return "the rollout was stopped"


def _hook_of_task(task: str | None, state: RolloutState | None) -> tuple[str, str, int] | None:
    """``(lifecycle event, hook, timeout)`` when ``task`` is a hook's state."""
    for event in HOOK_EVENTS:
        if task in (f"Run{event}Hook", f"Judge{event}Hook") and state is not None:
            name = state.hooks.function(event)
            if name:
                return event, name, state.hooks.timeout_seconds(event)
    return None


def needs_release(record: dict[str, Any] | None) -> bool:
    """Whether a rollout still needs cleanup: it never reached an end (or has no record yet)."""
    return record is None or record.get("status") not in ENDED


__all__ = [
    "Action",
    "Services",
    "check",
    "conclude",
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
