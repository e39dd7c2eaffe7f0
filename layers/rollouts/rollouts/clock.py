"""The one clock the control plane reads.

Every handler asks ``clock.now()`` for the moment it acts, and passes that ``now``
into the pure core. On AWS it is the wall clock. The local engine, which
compresses waits, replaces ``now`` with its own clock (``rollouts_cli.local.clock``),
so that timestamps the handlers write, the metrics the engine publishes and the
windows the handlers query all run at one speed.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current moment, timezone-aware UTC."""
    return datetime.now(UTC)
