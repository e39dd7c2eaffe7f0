"""The local engine's clock: rollout time, which runs as fast as waits are compressed.

``timescale`` makes a 300 s Wait last ``scaled(300)`` real seconds. For that
wait to look like 300 s to everything that reads a timestamp (a woken bake
crediting what it baked, a metric stamped at invocation, a query for the minutes
since a step's shift, an alarm's evaluation period), the engine keeps one clock
that runs ``1 / scale`` times faster than the wall clock: at scale 0.01 one real
second is 100 engine seconds. At scale 0 (no waiting at all) the clock is the
wall clock: there is no rate that matches "no time".

The clock is continuous: changing the scale changes its rate from that moment
on, never its reading. It starts at the wall clock's reading.

``install()`` makes it the control plane's clock (``rollouts.clock.now``), so the
handlers running in this process read it; the engine's own corrections read
``now()`` here.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
# (real monotonic seconds, engine epoch seconds) at the last change of rate, and the rate.
_anchor_real = time.monotonic()
_anchor_engine = time.time()
_rate = 1.0
_installed = False


def rate_for(scale: float) -> float:
    """Engine seconds per real second at ``scale``: ``rate_for(0.01)`` is 100, ``rate_for(0)`` 1."""
    if scale < 0:
        raise ValueError("time scale must be >= 0")
    return 1.0 / scale if scale > 0 else 1.0


def timestamp() -> float:
    """The engine's reading, in seconds since the epoch."""
    with _lock:
        return _anchor_engine + (time.monotonic() - _anchor_real) * _rate


def now() -> datetime:
    """The engine's reading, as an aware UTC datetime (what ``rollouts.clock.now`` answers)."""
    return datetime.fromtimestamp(timestamp(), UTC)


def naive_now() -> datetime:
    """The engine's reading as naive UTC, the way moto keeps its timestamps."""
    return now().replace(tzinfo=None)


def set_rate(rate: float) -> None:
    """Run at ``rate`` engine seconds per real second from now on; the reading never jumps."""
    global _anchor_real, _anchor_engine, _rate
    if rate <= 0:
        raise ValueError("the clock's rate must be > 0")
    with _lock:
        real = time.monotonic()
        _anchor_engine += (real - _anchor_real) * _rate
        _anchor_real = real
        _rate = rate


def rate() -> float:
    return _rate


def real_seconds(engine_seconds: float) -> float:
    """Real seconds that ``engine_seconds`` of engine time take at the current rate."""
    return engine_seconds / _rate


def since(moment: datetime) -> timedelta:
    """Engine time elapsed since ``moment`` (aware)."""
    return now() - moment


def install() -> None:
    """Make this the control plane's clock for handlers running in this process (once)."""
    global _installed
    if _installed:
        return
    from rollouts import clock as control_plane_clock

    control_plane_clock.now = now
    _installed = True
