"""Compressed time for the local engine.

A rollout bakes for minutes; the demo and the tests cannot. ``set_time_scale(s)``
multiplies the *waits* the Step Functions interpreter makes by ``s``: Wait
states, retry back-off, and the ``TimeoutSeconds`` of ``.waitForTaskToken``
tasks (a wait for someone else's answer). ``0`` means no waiting at all.

Compute is never compressed. Handlers run at real speed, so everything that
bounds compute stays in real seconds: a Lambda task's ``TimeoutSeconds`` (on
the function's ARN or ``lambda:invoke``), every other task's (``.sync``,
activities), ``HeartbeatSeconds``, the execution's ``TimeoutSeconds``, and the
function's own ``Timeout`` (the in-process runtime never scales it). A busy
machine can make a task slower; it cannot make a healthy one time out.

A scaled callback timeout keeps a floor of ``TIMEOUT_FLOOR_SECONDS`` (never more
than the declared value): the party that sends the token runs at real speed too.
"""

from __future__ import annotations

import time
from typing import Any

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import (
    Timeout,
    TimeoutSeconds,
)
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment

# A scaled callback timeout never shrinks below this many real seconds (nor grows past
# its declared value): the token is sent by code that runs at real speed.
TIMEOUT_FLOOR_SECONDS = 5.0
# Set on a state's Timeout when it bounds a wait (a callback), not compute.
_SCALED_ATTRIBUTE = "_rollouts_scaled_wait"

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


def callback_timeout(seconds: float) -> float:
    """Real seconds a ``.waitForTaskToken`` task with ``TimeoutSeconds`` waits for its token."""
    return min(float(seconds), max(scaled(seconds), TIMEOUT_FLOOR_SECONDS))


def _bounds_a_wait(state: ExecutionState) -> bool:
    """Only a ``.waitForTaskToken`` task's timeout is a wait; every other one bounds compute."""
    resource = getattr(state, "resource", None)
    return bool(getattr(resource, "condition", None) == ResourceCondition.WaitForTaskToken)


_original_evaluate_with_timeout = ExecutionState._evaluate_with_timeout


def _evaluate_with_timeout(self: ExecutionState, env: Environment) -> None:
    # Every evaluation of this state's timeout (the task's bound, the callback's wait, the
    # history event) happens inside this call, so the mark is in place for all of them.
    setattr(self.timeout, _SCALED_ATTRIBUTE, _bounds_a_wait(self))
    _original_evaluate_with_timeout(self, env)


_original_timeout_eval_body = Timeout._eval_body


def _timeout_eval_body(self: Timeout, env: Environment) -> None:
    _original_timeout_eval_body(self, env)
    if not getattr(self, _SCALED_ATTRIBUTE, False):
        return
    if isinstance(self, TimeoutSeconds) and self.is_default_value():
        return  # no TimeoutSeconds declared: nothing to compress
    env.stack.append(callback_timeout(env.stack.pop()))


def _install() -> None:
    global _installed
    if _installed:
        return
    WaitFunction._wait_interval = _wait_interval
    retrier_decl.time = _ScaledSleep()
    ExecutionState._evaluate_with_timeout = _evaluate_with_timeout
    Timeout._eval_body = _timeout_eval_body
    _installed = True
