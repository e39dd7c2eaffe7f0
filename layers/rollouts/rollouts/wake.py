"""Wake a rollout's wait at once, instead of at its next health check.

A bake waits on a Step Functions task token that it leaves on the record
(``waiting``); a hook waits on one too, for its answer. A person's request
(pause, resume, promote, abort) and an alarm entering ALARM wake a bake: the
health check that follows decides, as after any bake. An abort and an alarm
entering ALARM also end a hook's wait, failing it (``AbortedError``,
``AlarmFiringError``): the rollout rolls back. Waking is only ever early: a wait
nobody wakes ends at its timeout.
"""

from __future__ import annotations

import json
from typing import Any

from rollouts.aws import aws_errors
from rollouts.errors import (
    AbortedError,
    AlarmFiringError,
    AwsError,
    RolloutError,
    TransientError,
)
from rollouts.store import RUNNING, RolloutStore, bounded

# The token's wait has already ended (timed out, woken, or its execution stopped).
GONE_CODES = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")
# What a bake's woken output holds: why it was woken.
WOKEN_BY = "wokenBy"


def end_wait(
    sfn: Any,
    token: str,
    *,
    output: dict[str, Any] | None = None,
    error: str | None = None,
    cause: str = "",
) -> bool:
    """End the wait on ``token``: with ``output`` (SendTaskSuccess) or ``error``
    (SendTaskFailure). False when that wait has already ended: timed out, woken by
    someone else, or its execution stopped; that is never an error.
    """
    try:
        with aws_errors():
            if error is None:
                sfn.send_task_success(taskToken=token, output=json.dumps(output or {}))
            else:
                sfn.send_task_failure(taskToken=token, error=error, cause=bounded(cause, 4_000))
    except AwsError as failure:
        if failure.code in GONE_CODES or any(code in str(failure) for code in GONE_CODES):
            return False
        raise
    return True


# How a hook's wait is failed by what must end it: an abort, or a watched alarm firing.
ABORTED = AbortedError.__name__
ALARM_FIRING = AlarmFiringError.__name__


def wake(
    record: dict[str, Any] | None, sfn: Any, why: str, *, hook_error: str | None = None
) -> bool:
    """End the wait the record names; True when a wait was ended.

    A bake is woken by anything (``SendTaskSuccess`` with ``{"wokenBy": why}``);
    a hook's wait only when ``hook_error`` says how to fail it (``SendTaskFailure``
    with that error, cause ``why``). A wait that has already ended is not an error:
    there is nothing to wake.
    """
    waiting = (record or {}).get("waiting")
    if (record or {}).get("status") != RUNNING or not isinstance(waiting, dict):
        return False
    token = waiting.get("token")
    if not token:
        return False
    if waiting.get("kind") == "bake":
        return end_wait(sfn, token, output={WOKEN_BY: bounded(why)})
    if hook_error is not None:
        return end_wait(sfn, token, error=hook_error, cause=why)
    return False


def wake_watchers(
    alarm_name: str, reason: str, store: RolloutStore, sfn: Any, *, firing: bool = True
) -> list[str]:
    """Wake every running rollout that watches ``alarm_name``; the ids woken.

    A bake is woken to look (it reads the alarms itself). A hook's wait is failed
    (the rollout rolls back) only when the alarm is ``firing`` now, as read after the
    event: an event delivered late, or again, about an alarm that is OK by now
    fails nothing.

    Each rollout is tried on its own, so one that cannot be woken does not keep the
    others waiting; if any failed, TransientError after trying them all (the event
    is then delivered again: waking twice is harmless).
    """
    woken: list[str] = []
    failed: list[str] = []
    for rollout_id in store.watchers(alarm_name):
        try:
            hook_error = ALARM_FIRING if firing else None
            if wake(store.record(rollout_id), sfn, reason, hook_error=hook_error):
                woken.append(rollout_id)
        except RolloutError as error:
            failed.append(f"{rollout_id}: {error}")
    if failed:
        raise TransientError(f"could not wake {len(failed)} rollout(s): " + "; ".join(failed))
    return woken
