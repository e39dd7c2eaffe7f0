"""The ways in: start, describe, list and abort rollouts.

Shared by the REST API's handler, the EventBridge starter and the CLI, so that
every way in validates with the same models, names executions the same way and
reads the same record.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rollouts import clock
from rollouts.aws import aws_errors
from rollouts.errors import (
    AwsError,
    NotFoundError,
    RolloutError,
    RolloutInProgressError,
    ValidationError,
    quote,
)
from rollouts.models import ALIAS_NAME, FUNCTION_NAME, parse_request
from rollouts.notify import Phase, StatusEvents, status_detail
from rollouts.scope import Scope, function_name_of
from rollouts.state import lock_key
from rollouts.store import ENDED, RUNNING, RolloutStore, bounded
from rollouts.wake import ABORTED, end_wait, wake

EXECUTION_NAME_LIMIT = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
# An id that cannot name an execution (Step Functions answers InvalidArn/InvalidName).
_NO_SUCH_EXECUTION = ("ExecutionDoesNotExist", "InvalidArn", "InvalidName")
MAX_PAGE_SIZE = 100
# A function as a route names it: a plain name, never an ARN (whose ":" and account
# would make an IAM Resource on the route ambiguous).


class VerbRefusedError(RolloutError):
    """A request a running rollout cannot take now (resume when not paused, ...)."""


class RolloutEndedError(VerbRefusedError):
    """The rollout has already ended: there is nothing to abort, pause or promote."""


@dataclass(frozen=True)
class Started:
    rollout_id: str
    execution_arn: str

    def as_json(self) -> dict[str, str]:
        return {
            "rolloutId": self.rollout_id,
            "executionArn": self.execution_arn,
            "status": "RUNNING",
        }


def execution_name(function_name: str, alias: str, version: str | None, short_id: str) -> str:
    """A readable, unique execution name (the rollout id), at most 80 characters.

    >>> execution_name("orders-api", "live", "7", "1a2b3c4d")
    'orders-api-live-v7-1a2b3c4d'
    >>> execution_name("arn:aws:lambda:us-east-1:123456789012:function:orders", "live", None, "9f")
    'orders-live-latest-9f'
    """
    name = function_name.split(":function:")[-1].split(":")[0]
    tail = f"-{short_id}"
    version_part = f"v{version}" if version else "latest"
    head = _UNSAFE.sub("-", f"{name}-{alias}-{version_part}").strip("-")
    return head[: EXECUTION_NAME_LIMIT - len(tail)] + tail


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN an execution named ``name`` of this state machine has."""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def start_rollout(
    payload: Any,
    sfn: Any,
    store: RolloutStore,
    state_machine_arn: str,
    short_id: str | None = None,
    events: StatusEvents | None = None,
    scope: Scope | None = None,
) -> Started:
    """Validate, refuse a busy alias, then start the execution. Raises before starting anything.

    ValidationError (bad input, or a function or hook outside ``scope``: by default
    the stack's prefixes, from the environment) and RolloutInProgressError (busy
    alias) change nothing; with ``events``, a refusal is also announced as a
    "refused" status event.
    """
    try:
        return _start(
            payload, sfn, store, state_machine_arn, short_id, scope or Scope.from_environment()
        )
    except (ValidationError, RolloutInProgressError) as error:
        if events is not None:
            known = payload if isinstance(payload, dict) else {}
            events.emit(
                status_detail(
                    Phase.REFUSED,
                    None,
                    clock.now(),
                    reason=str(error),
                    functionName=known.get("functionName"),
                    alias=known.get("alias"),
                    version=known.get("version"),
                )
            )
        raise


def _start(
    payload: Any,
    sfn: Any,
    store: RolloutStore,
    state_machine_arn: str,
    short_id: str | None,
    scope: Scope,
) -> Started:
    request = parse_request(payload)
    scope.at(state_machine_arn).refuse_outside(request)
    # A lock whose execution has ended is not busy: the new execution cleans it up.
    store.refuse_if_busy(
        lock_key(request.function_name, request.alias),
        rollout_id="",
        still_running=lambda arn: execution_alive(sfn, arn),
    )
    name = execution_name(
        request.function_name, request.alias, request.version, short_id or uuid.uuid4().hex[:8]
    )
    with aws_errors():
        answer = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
        )
    return Started(rollout_id=name, execution_arn=str(answer["executionArn"]))


def of_execution(call: Callable[..., Any], arn: str) -> dict[str, Any] | None:
    """``call(executionArn=arn)``, a Step Functions call on one execution (DescribeExecution,
    DescribeStateMachineForExecution); None when there is no such execution."""
    try:
        with aws_errors():
            return dict(call(executionArn=arn))
    except NotFoundError:
        return None
    except RolloutError as error:
        if any(code in str(error) for code in _NO_SUCH_EXECUTION):
            return None
        raise


def _execution(sfn: Any, arn: str) -> dict[str, Any] | None:
    return of_execution(sfn.describe_execution, arn)


ENDED_EXECUTION_STATUSES = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"})


def execution_alive(sfn: Any, arn: str) -> bool:
    """Whether the execution may still act: anything but ended, including PENDING_REDRIVE.

    An execution that does not exist is not alive; one that cannot be read (access
    denied, a network error) is taken as alive, so a live rollout's lock is never taken.
    """
    try:
        execution = _execution(sfn, arn)
    except RolloutError:
        return True
    return execution is not None and str(execution.get("status")) not in ENDED_EXECUTION_STATUSES


# -- which function and alias a rollout belongs to ----------------------------------
def path_problems(function_name: str, alias: str) -> list[tuple[str, str]]:
    """What is wrong with a function and alias as a route names them; empty when nothing.

    The function must be a plain name (1-64 letters, digits, - or _); the alias
    follows the execution input's rule.

    >>> path_problems("orders-api", "live")
    []
    >>> [field for field, _ in path_problems("arn:aws:lambda:us-east-1:1:function:f", "7")]
    ['functionName', 'alias']
    """
    problems: list[tuple[str, str]] = []
    if FUNCTION_NAME.fullmatch(function_name) is None:
        problems.append(
            (
                "functionName",
                "must be a function name: 1-64 letters, digits, - or _ (not an ARN), "
                f"not {quote(function_name)}",
            )
        )
    if ALIAS_NAME.fullmatch(alias) is None:
        problems.append(
            (
                "alias",
                f"must be 1-128 letters, digits, - or _, and not only digits, not {quote(alias)}",
            )
        )
    return problems


def request_for(payload: Any, function_name: str, alias: str) -> Any:
    """The execution input a route starts: the body, with the path's function and alias.

    The body may leave ``functionName`` and ``alias`` out or repeat the path's exactly;
    anything else (another name, an ARN, another alias) is a ValidationError naming the
    field, so that the path, which IAM authorized, is what the rollout moves. A body
    that is not an object is passed on as it is, for the model to refuse.

    >>> request_for({"strategy": "AllAtOnce"}, "orders-api", "live")
    {'functionName': 'orders-api', 'alias': 'live', 'strategy': 'AllAtOnce'}
    """
    if not isinstance(payload, dict):
        return payload
    problems = [
        (field, _differs(payload[field], expected))
        for field, expected in (("functionName", function_name), ("alias", alias))
        if field in payload and payload[field] != expected
    ]
    if problems:
        raise ValidationError.from_errors(problems)
    return {"functionName": function_name, "alias": alias, **payload}


def _differs(given: object, expected: str) -> str:
    shown = quote(given) if isinstance(given, str) else "not that text"
    return (
        f"is {shown} in the body but {quote(expected)} in the path: "
        "leave it out of the body, or give the path's (a name, not an ARN)"
    )


def belongs_to(
    owner_function: object,
    owner_alias: object,
    function_name: str | None = None,
    alias: str | None = None,
) -> bool:
    """Whether a rollout of ``owner_function:owner_alias`` is one of ``function_name:alias``.

    Functions compare by name: a record or an execution input may hold a name or an
    ARN. ``None`` expects any function (or alias); an unknown owner belongs to no one.

    >>> arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-api"
    >>> belongs_to(arn, "live", "orders-api", "live"), belongs_to(arn, "live", alias="canary")
    (True, False)
    >>> belongs_to("orders-api-evil", "live", "orders-api", "live")
    False
    """
    if function_name is not None and not (
        isinstance(owner_function, str)
        and function_name_of(owner_function) == function_name_of(function_name)
    ):
        return False
    return alias is None or owner_alias == alias


def owner_of(record: dict[str, Any] | None, execution: dict[str, Any] | None) -> tuple[Any, Any]:
    """``(functionName, alias)`` of a rollout: from its record, else its execution's input.

    A record written before PrepareRollout (the mark of a rollout that ended first)
    may name neither; ``(None, None)`` when nothing says.
    """
    if record is not None and record.get("functionName") is not None:
        return record.get("functionName"), record.get("alias")
    if execution is not None and execution.get("input"):
        try:
            request = json.loads(execution["input"])
        except ValueError:
            request = None
        if isinstance(request, dict):
            return request.get("functionName"), request.get("alias")
    return None, None


def _no_rollout(rollout_id: str, function_name: str | None, alias: str | None) -> NotFoundError:
    """``no rollout X for orders-api:live``: the same for an unknown id and another's."""
    if function_name is not None and alias is not None:
        where = f" for {function_name_of(function_name)}:{alias}"
    elif function_name is not None:
        where = f" for {function_name_of(function_name)}"
    elif alias is not None:
        where = f" for alias {alias}"
    else:
        where = ""
    return NotFoundError(f"no rollout {rollout_id}{where}")


def describe_rollout(
    rollout_id: str,
    store: RolloutStore,
    sfn: Any,
    state_machine_arn: str,
    *,
    function_name: str | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    """What a rollout is doing or did: its execution, its record, where it is and why it ended.

    With ``function_name`` and/or ``alias``, a rollout of another function or alias is
    not found, exactly like an unknown id (NotFoundError "no rollout X for F:A").
    """
    arn = execution_arn(state_machine_arn, rollout_id)
    execution = _execution(sfn, arn)
    record = store.record(rollout_id)
    if execution is None and record is None:
        raise _no_rollout(rollout_id, function_name, alias)
    owner = owner_of(record, execution)
    if (function_name is not None or alias is not None) and not belongs_to(
        *owner, function_name, alias
    ):
        raise _no_rollout(rollout_id, function_name, alias)
    state: dict[str, Any] = (record or {}).get("state") or {}
    steps = state.get("steps") or []
    index = int(state.get("stepIndex", -1))
    described: dict[str, Any] = {
        "rolloutId": rollout_id,
        "executionArn": arn,
        "status": (execution or {}).get("status", "UNKNOWN"),
        "outcome": (record or {}).get("status"),
        "functionName": owner[0],
        "alias": owner[1],
        "fromVersion": state.get("baselineVersion"),
        "toVersion": (record or {}).get("targetVersion") or state.get("targetVersion"),
        "strategy": (record or {}).get("strategy"),
        "step": index + 1 if index >= 0 else 0,
        "stepCount": len(steps),
        "weight": int(steps[index]["weight"]) if 0 <= index < len(steps) else 0,
        "steps": steps,
        "stepsTaken": (record or {}).get("stepsTaken", []),
        "checks": (record or {}).get("checks", []),
        "checkCount": (record or {}).get("checkCount", 0),
        "summary": state.get("summary"),
        "reason": (record or {}).get("reason"),
        "startedAt": (record or {}).get("startedAt"),
        "promotedAt": (record or {}).get("promotedAt"),
        "endedAt": (record or {}).get("endedAt"),
        # People's requests, and what the rollout waits for now (never its token).
        "paused": (record or {}).get("pause"),
        "promoteRequested": (record or {}).get("promote"),
        "abortRequested": (record or {}).get("abort"),
        "requests": (record or {}).get("requests", []),
        "waiting": _waiting(record),
        "hooks": {
            event: (record or {})[f"hook{event}"]
            for event in ("PreTraffic", "PostTraffic")
            if (record or {}).get(f"hook{event}")
        },
    }
    if execution is not None:
        if execution.get("error"):
            described["error"] = execution["error"]
            described["cause"] = execution.get("cause")
        if execution.get("output"):
            described["output"] = json.loads(execution["output"])
    return described


def _waiting(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a running rollout waits for (a bake, or a hook's answer), without its token."""
    waiting = (record or {}).get("waiting")
    if (record or {}).get("status") != RUNNING or not isinstance(waiting, dict):
        return None
    return {key: value for key, value in waiting.items() if key != "token"}


def encode_page_token(last_key: dict[str, Any]) -> str:
    """An opaque, URL-safe token for the key a page stopped at.

    >>> encode_page_token({"pk": "ROLLOUT#a"})
    'eyJwayI6ICJST0xMT1VUI2EifQ'
    """
    raw = json.dumps(last_key, sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> dict[str, Any]:
    """The key a page stopped at; ValidationError("nextToken", ...) for anything else.

    Accepts the raw JSON form too (tokens before they were encoded).
    """
    try:
        if token.lstrip().startswith("{"):
            key = json.loads(token)
        else:
            key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = None
    if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
        raise ValidationError("nextToken", "is not a token this API returned")
    return key


def list_rollouts(
    function_name: str,
    alias: str,
    store: RolloutStore,
    limit: int = 20,
    next_token: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """An alias's rollouts, newest first; ``next_token`` continues where a page stopped.

    Raises ValidationError naming ``limit`` (1..100) or ``nextToken`` (not one we gave).
    """
    if isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationError("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    start = decode_page_token(next_token) if next_token else None
    items, last = store.history(lock_key(function_name, alias), limit=limit, start=start)
    summaries = [
        {
            "rolloutId": item["rolloutId"],
            "status": item["status"],
            "functionName": item["functionName"],
            "alias": item["alias"],
            "fromVersion": item.get("baselineVersion"),
            "toVersion": item.get("targetVersion"),
            "strategy": item.get("strategy"),
            "startedAt": item.get("startedAt"),
            "endedAt": item.get("endedAt"),
            "reason": item.get("reason"),
        }
        for item in items
    ]
    return summaries, (encode_page_token(last) if last else None)


def _ended(rollout_id: str, record: dict[str, Any], verb: str = "abort") -> str:
    """``"rollout X already ended ROLLED_BACK: <why>"``."""
    status = record.get("status")
    if status not in ENDED:
        return f"rollout {rollout_id} is already ending ({status}); nothing to {verb}"
    why = record.get("reason")
    return f"rollout {rollout_id} already ended {status}" + (f": {why}" if why else "")


def _running_record(
    rollout_id: str,
    store: RolloutStore,
    function_name: str | None,
    alias: str | None,
    verb: str,
) -> dict[str, Any]:
    """The record of a running rollout of ``function_name:alias``, or why there is none.

    NotFoundError "no rollout X for F:A" for an unknown id or another alias's rollout
    (checked before anything is written); RolloutEndedError saying how it ended.
    """
    record = store.record(rollout_id)
    if record is None:
        raise _no_rollout(rollout_id, function_name, alias)
    if (function_name is not None or alias is not None) and not belongs_to(
        *owner_of(record, None), function_name, alias
    ):
        raise _no_rollout(rollout_id, function_name, alias)
    if record.get("status") in ENDED:
        raise RolloutEndedError(_ended(rollout_id, record, verb))
    return record


def _request(
    rollout_id: str,
    verb: str,
    by: str,
    reason: str | None,
    store: RolloutStore,
    now: datetime,
    sfn: Any,
    *,
    function_name: str | None,
    alias: str | None,
    set_fields: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    require: str | None = None,
    extra: dict[str, Any] | None = None,
    abort: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Record a person's request on a running rollout, then wake it at once.

    Returns ``(entry, record before)``. The request is written first and the wake
    comes after: the rollout's next look (now, or at its next check if the wake is
    lost) sees the request either way.
    """
    record = _running_record(rollout_id, store, function_name, alias, verb)
    at = now.isoformat(timespec="seconds")
    entry = {
        "verb": verb,
        "by": bounded(by, 512),
        "at": at,
        **({"reason": bounded(reason)} if reason else {}),
        **(extra or {}),
    }
    if not store.request(
        rollout_id, entry, at, set_fields=set_fields, remove=remove, require=require
    ):
        latest = store.record(rollout_id) or record
        if latest.get("status") == RUNNING and require is not None:
            raise VerbRefusedError(_not_applicable(rollout_id, verb))
        raise RolloutEndedError(_ended(rollout_id, latest, verb))
    if sfn is not None:
        _wake(rollout_id, verb, store, sfn, _woken_by(verb, by, reason), abort=abort)
    return entry, record


def _wake(
    rollout_id: str, verb: str, store: RolloutStore, sfn: Any, why: str, *, abort: bool
) -> None:
    """Wake the rollout a recorded request is for; a failure says the request is kept.

    Never silent: a wake that fails raises the AWS error, saying whether asking again
    is safe, since an unwoken rollout acts only at its next look, which in a hook's
    wait can be hours away.
    """
    try:
        wake(store.record(rollout_id), sfn, why, hook_error=ABORTED if abort else None)
    except AwsError as error:
        # Asking again is harmless for an abort or a pause; a resume asked again is
        # refused (not paused any more), and a promote asked again may take one more step.
        again = {
            "resume": "do not ask again: a second resume is refused, it is not paused now",
            "promote": "do not ask again: a second promote may move one more step",
        }.get(verb, "ask again to wake it now")
        raise type(error)(
            f"the {verb} of rollout {rollout_id} is recorded, but waking it failed ({error}):"
            f" it acts at its next look; {again}",
            code=error.code,
            operation=error.operation,
        ) from error


def _not_applicable(rollout_id: str, verb: str) -> str:
    if verb == "resume":
        return f"rollout {rollout_id} is not paused; nothing to resume"
    return f"rollout {rollout_id} cannot {verb} now"


def _woken_by(verb: str, by: str, reason: str | None) -> str:
    past = {"abort": "aborted", "pause": "paused", "resume": "resumed", "promote": "promoted"}
    return f"{past.get(verb, verb)} by {by}" + (f": {reason}" if reason else "")


def _step_of(record: dict[str, Any]) -> int:
    state = record.get("state") or {}
    return int(state.get("stepIndex", -1))


def abort_rollout(
    rollout_id: str,
    by: str,
    reason: str | None,
    store: RolloutStore,
    now: datetime,
    *,
    sfn: Any = None,
    function_name: str | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    """Ask a running rollout to roll back, at once: its bake, or a hook's wait, ends now.

    With ``function_name`` and/or ``alias``, a rollout of another function or alias is
    not found (NotFoundError "no rollout X for F:A"), checked before anything is written.
    A rollout without a record has nothing to abort yet: not found either way. Without
    ``sfn`` nothing is woken: the rollout acts on the abort at its next look.
    """
    record = _running_record(rollout_id, store, function_name, alias, "abort")
    at = now.isoformat(timespec="seconds")
    why = reason or "no reason given"
    if not store.request_abort(rollout_id, by, why, at):
        # It ended (or began to) between the read and the write: say how.
        raise RolloutEndedError(_ended(rollout_id, store.record(rollout_id) or record))
    if sfn is not None:
        _wake(rollout_id, "abort", store, sfn, _woken_by("abort", by, why), abort=True)
    return {"rolloutId": rollout_id, "abortRequested": True, "by": by, "at": at}


def pause_rollout(
    rollout_id: str,
    by: str,
    reason: str | None,
    store: RolloutStore,
    now: datetime,
    *,
    sfn: Any = None,
    function_name: str | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    """Hold a running rollout at its weight until resumed (health is still watched)."""
    at = now.isoformat(timespec="seconds")
    pause = {"by": bounded(by, 512), "at": at, **({"reason": bounded(reason)} if reason else {})}
    entry, record = _request(
        rollout_id,
        "pause",
        by,
        reason,
        store,
        now,
        sfn,
        function_name=function_name,
        alias=alias,
        set_fields={"pause": pause},
        remove=("promote",),
    )
    return {"rolloutId": rollout_id, "paused": True, **_where(record), **entry}


def resume_rollout(
    rollout_id: str,
    by: str,
    store: RolloutStore,
    now: datetime,
    *,
    sfn: Any = None,
    function_name: str | None = None,
    alias: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Let a paused rollout go on: its bake continues where it was paused."""
    entry, record = _request(
        rollout_id,
        "resume",
        by,
        reason,
        store,
        now,
        sfn,
        function_name=function_name,
        alias=alias,
        remove=("pause",),
        require="pause",
    )
    return {"rolloutId": rollout_id, "resumed": True, **_where(record), **entry}


def promote_rollout(
    rollout_id: str,
    by: str,
    store: RolloutStore,
    now: datetime,
    *,
    full: bool = False,
    sfn: Any = None,
    function_name: str | None = None,
    alias: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """End the current bake or pause now and go to the next step; ``full``: to 100% now.

    Health is still checked first: a firing alarm rolls back instead. A promote moves
    past the step that was live when it was asked, never two steps. It also ends a
    pause (``rollouts pause``).
    """
    record = _running_record(rollout_id, store, function_name, alias, "promote")
    step = _step_of(record)
    at = now.isoformat(timespec="seconds")
    promote = {"by": bounded(by, 512), "at": at, "step": step, "full": full}
    entry, record = _request(
        rollout_id,
        "promote",
        by,
        reason,
        store,
        now,
        sfn,
        function_name=function_name,
        alias=alias,
        set_fields={"promote": promote},
        remove=("pause",),
        extra={"full": full, "step": step + 1},
    )
    return {"rolloutId": rollout_id, "promoteRequested": True, **_where(record), **entry}


def report_hook(
    rollout_id: str,
    by: str,
    succeeded: bool,
    reason: str | None,
    store: RolloutStore,
    sfn: Any,
    now: datetime,
    *,
    function_name: str | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    """Answer, for a person, the hook the rollout is waiting for (on its callback token).

    VerbRefusedError when no hook is waiting (none was invoked, or it answered already).
    """
    record = _running_record(rollout_id, store, function_name, alias, "report a hook result")
    waiting = record.get("waiting")
    if not isinstance(waiting, dict) or waiting.get("kind") not in ("PreTraffic", "PostTraffic"):
        raise VerbRefusedError(f"rollout {rollout_id} is not waiting for a hook's answer")
    answer: dict[str, Any] = {"status": "Succeeded" if succeeded else "Failed"}
    if not succeeded:
        answer["reason"] = f"{reason or 'no reason given'} (reported by {by})"
    if not end_wait(sfn, waiting["token"], output=answer):
        raise VerbRefusedError(
            f"rollout {rollout_id}'s {waiting['kind']} hook has answered already"
        )
    at = now.isoformat(timespec="seconds")
    entry = {
        "verb": "hook-result",
        "by": bounded(by, 512),
        "at": at,
        "hook": str(waiting.get("hook", "")),
        "lifecycleEvent": waiting["kind"],
        "status": answer["status"],
        **({"reason": bounded(reason)} if reason else {}),
    }
    with contextlib.suppress(RolloutError):
        store.request(rollout_id, entry, at)
    return {"rolloutId": rollout_id, **entry}


def _where(record: dict[str, Any]) -> dict[str, Any]:
    """Where the rollout was when asked: its step and weight."""
    state = record.get("state") or {}
    steps = state.get("steps") or []
    index = int(state.get("stepIndex", -1))
    weight = int(steps[index]["weight"]) if 0 <= index < len(steps) else 0
    return {"step": index + 1 if index >= 0 else 0, "weight": weight}
