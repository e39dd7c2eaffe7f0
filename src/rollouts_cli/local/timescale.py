"""Compressed time for the local engine.

A rollout bakes for minutes; the demo and the tests cannot. ``set_time_scale(s)``
multiplies the *waits* the Step Functions interpreter makes by ``s``: Wait
states, retry back-off, and a ``.waitForTaskToken`` task's wait for its token
(a wait for someone else's answer). ``0`` means no waiting at all.

Compute is never compressed. Handlers run at real speed, so everything that
bounds compute stays in real seconds: a Lambda task's ``TimeoutSeconds`` (on
the function's ARN or ``lambda:invoke``), every other task's (``.sync``,
activities), ``HeartbeatSeconds``, the execution's ``TimeoutSeconds``, and the
function's own ``Timeout`` (the in-process runtime never scales it). A busy
machine can make a task slower; it cannot make a healthy one time out.

A ``.waitForTaskToken`` task is both. Its ``TimeoutSeconds`` (or
``TimeoutSecondsPath``) bounds the whole task in real seconds, as for any task:
that covers the call that hands the token out (a Lambda invoked with it runs at
real speed). The wait for the token starts only once that call returned, and
lasts ``scaled(declared)`` real seconds, with no floor: at scale 0 it takes only
a token sent before it began (by the invoked function itself), and a bake task
woken by SendTaskSuccess ends when it is woken. Without a declared timeout the
wait is not bounded, as in moto. StopExecution ends the wait at once.

Timestamps follow the waits: ``set_time_scale`` sets the rate of the engine's
clock (``clock``), which every handler in the engine reads, so a compressed
300 s wait is 300 s by every timestamp too.
"""

from __future__ import annotations

import time
from typing import Any

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    CallbackOutcome,
    CallbackOutcomeTimedOut,
    HeartbeatEndpoint,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment

from rollouts_cli.local import clock

# How often a token wait looks whether its execution is still running (StopExecution).
_STOP_POLL_SECONDS = 0.05

_scale = 1.0
_installed = False


def time_scale() -> float:
    return _scale


def set_time_scale(scale: float) -> None:
    """Set the factor applied to every wait from now on (installs the hooks once)."""
    global _scale
    if scale < 0:
        raise ValueError("time scale must be >= 0")
    _scale = float(scale)
    # Timestamps follow the waits: at scale 0.01 the engine's clock runs 100 times faster.
    clock.set_rate(clock.rate_for(_scale))
    _install()


def scaled(seconds: float) -> float:
    """Real seconds for ``seconds`` of rollout time: ``scaled(300)`` is 3.0 at scale 0.01."""
    return seconds * _scale


class _ScaledSleep:
    """Stands in for the ``time`` module inside moto's retrier."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        real = scaled(seconds)
        if real > 0:
            time.sleep(real)


def _wait_interval(self: WaitFunction, env: Environment, wait_seconds: int) -> None:
    # Wait on the execution's own event so that StopExecution still interrupts a bake.
    deadline = time.monotonic() + scaled(wait_seconds)
    while env.is_running():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        env.program_state_event.wait(remaining)


def wait_for_token(
    env: Environment, endpoint: CallbackEndpoint, seconds: float | None
) -> CallbackOutcome | None:
    """The token's outcome, waiting at most ``seconds`` real seconds (None: no bound).

    An outcome sent before the wait began is taken even when ``seconds`` is 0. The
    wait ends early when the task's environment stops running (StopExecution, or
    the task's own timeout), or when moto interrupts the endpoint; None when no
    outcome came.
    """
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        outcome = endpoint.get_outcome()
        if outcome is not None or not env.is_running():
            return outcome
        if endpoint._notify_event.is_set():  # interrupted (interrupt_all), or just notified
            return endpoint.get_outcome()
        remaining = _STOP_POLL_SECONDS
        if deadline is not None:
            remaining = min(remaining, deadline - time.monotonic())
            if remaining <= 0:
                return None
        endpoint.wait(timeout=remaining)


_original_eval_wait_for_task_token = StateTaskServiceCallback._eval_wait_for_task_token


def _eval_wait_for_task_token(
    self: StateTaskServiceCallback,
    env: Environment,
    timeout_seconds: int,
    callback_endpoint: CallbackEndpoint,
    heartbeat_endpoint: HeartbeatEndpoint | None,
) -> CallbackOutcome:
    # Only a .waitForTaskToken task's token wait is compressed: a .sync task listens for a
    # token too (moto), but there the wait runs alongside compute, and heartbeats are real.
    if (
        heartbeat_endpoint is not None
        or self.resource.condition != ResourceCondition.WaitForTaskToken
    ):
        return _original_eval_wait_for_task_token(
            self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint
        )
    undeclared = isinstance(self.timeout, TimeoutSeconds) and self.timeout.is_default_value()
    seconds = None if undeclared else scaled(timeout_seconds)
    outcome = wait_for_token(env, callback_endpoint, seconds)
    if outcome is None:
        return CallbackOutcomeTimedOut(callback_id=callback_endpoint.callback_id)
    return outcome


def _install() -> None:
    global _installed
    if _installed:
        return
    WaitFunction._wait_interval = _wait_interval
    retrier_decl.time = _ScaledSleep()
    StateTaskServiceCallback._eval_wait_for_task_token = _eval_wait_for_task_token
    _installed = True
