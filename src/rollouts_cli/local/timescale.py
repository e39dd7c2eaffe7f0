"""Compressed time for the local engine.

A rollout bakes for minutes; the demo and the tests cannot. ``set_time_scale(s)``
multiplies every wait the Step Functions interpreter makes by ``s``: Wait states,
retry back-off, and task ``TimeoutSeconds``. ``0`` means no waiting at all
(timeouts then keep a small floor so a task is not timed out before it runs).
Handler code itself is never slowed down or sped up.
"""

from __future__ import annotations

import time
from typing import Any

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import (
    Timeout,
    TimeoutSeconds,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment

# A task timeout never shrinks below this many real seconds: handlers run at real speed.
TIMEOUT_FLOOR_SECONDS = 5.0

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


_original_timeout_eval_body = Timeout._eval_body


def _timeout_eval_body(self: Timeout, env: Environment) -> None:
    _original_timeout_eval_body(self, env)
    seconds = env.stack.pop()
    if isinstance(self, TimeoutSeconds) and self.is_default_value():
        env.stack.append(seconds)
    else:
        env.stack.append(max(scaled(seconds), TIMEOUT_FLOOR_SECONDS))


def _install() -> None:
    global _installed
    if _installed:
        return
    WaitFunction._wait_interval = _wait_interval
    retrier_decl.time = _ScaledSleep()
    Timeout._eval_body = _timeout_eval_body
    _installed = True
