"""Follow a rollout live (``rollouts start --wait``): step, weight, time left in the bake, health.

``progress_of`` is pure: a described rollout (``rollouts.service.describe_rollout``)
in, what to show out. ``follow`` polls and shows it, as a rich Live panel on a
terminal and as a plain line on every change otherwise (pipelines' logs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from rollouts.durations import human
from rollouts_cli.timeline import who
from rollouts_cli.views import (
    TERMINAL,
    analysis_line,
    latest_verdict,
    on_target,
    why_it_ended,
)

_ENDINGS = {
    "RolledBack": "rolled back",
    "AliasDrift": "stopped on drift",
    "RollbackFailed": "rollback failed",
    "ValidationError": "refused",
    "RolloutInProgress": "refused",
}
_STATUS_ENDINGS = {"ABORTED": "stopped", "TIMED_OUT": "timed out"}
_PHASES = {
    "promote": "promoting",
    "rollback": "rolling back",
    "drift": "stopping: alias drift",
}


@dataclass(frozen=True)
class Progress:
    """Where a rollout is, in the words the live view uses."""

    rollout_id: str
    status: str
    phase: str
    step: int
    step_count: int
    weight: int | float | None
    target_version: str | None
    bake_seconds: int
    baked_seconds: int
    health: str
    alarm_firing: bool
    baseline_version: str | None = None
    # Once ended: where the alias is now, in words (``views.ending``), when it was read.
    live: str | None = None
    # Once ended without promotion: why, in words.
    why: str | None = None
    # While it runs: why it holds (paused, or waiting for a hook), in words.
    holding: str | None = None
    # The latest verdict of the analysis in one line (``views.analysis_line``), and its outcome.
    analysis: str | None = None
    analysis_outcome: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    @property
    def bake_left(self) -> int:
        """Rollout seconds left in the live step's bake (the local engine compresses them)."""
        return max(self.bake_seconds - self.baked_seconds, 0)


def _health(checks: list[dict[str, Any]]) -> tuple[str, bool]:
    """``("ALARM: orders-errors", True)`` from the latest check.

    A check names only the alarms that are not OK (``alarmsNotOk``, a few at most)
    and counts the alarms it watched (``alarmsWatched``): the record stays small.

    >>> _health([{"alarmsWatched": 2, "alarmsNotOk": {"b": "ALARM"}}])
    ('ALARM: b', True)
    >>> _health([{"alarmsWatched": 1, "alarmsNotOk": {}}])
    ('OK: 1 alarm', False)
    """
    if not checks:
        return "not checked yet", False
    watched = int(checks[-1].get("alarmsWatched") or 0)
    not_ok: dict[str, str] = dict(checks[-1].get("alarmsNotOk") or {})
    firing = sorted(name for name, state in not_ok.items() if state == "ALARM")
    if firing:
        return f"ALARM: {', '.join(firing)}", True
    if not_ok:
        return ", ".join(sorted(f"{name}={state}" for name, state in not_ok.items())), False
    if not watched:
        return "no alarms", False
    return f"OK: {watched} alarm{'s' if watched != 1 else ''}", False


def _holding(described: dict[str, Any]) -> str | None:
    """``paused by alice: checking logs``, ``waiting for the PreTraffic hook h``, or None."""
    paused = described.get("paused")
    if isinstance(paused, dict):
        reason = f": {paused['reason']}" if paused.get("reason") else ""
        return f"paused by {who(paused.get('by'))}{reason}"
    waiting = described.get("waiting")
    if isinstance(waiting, dict) and waiting.get("kind") in ("PreTraffic", "PostTraffic"):
        hook = f" {waiting['hook']}" if waiting.get("hook") else ""
        return f"waiting for the {waiting['kind']} hook{hook}"
    return None


def progress_of(described: dict[str, Any]) -> Progress:
    """What to show for a described rollout.

    The bake clock is the record's: the live step's ``bakeSeconds`` minus the seconds
    baked so far (``bakedSeconds`` when given, else the latest check at this step's).
    A rollout at step 1 of 1 (10%, bake 300 s) whose last check baked 120 s has 3 min left.
    Once ended, the traffic is where the alias is now (``live``, when it was read).
    """
    status = str(described.get("status") or "UNKNOWN")
    step = int(described.get("step") or 0)
    steps: list[dict[str, Any]] = described.get("steps") or []
    checks: list[dict[str, Any]] = described.get("checks") or []
    at_step = [c for c in checks if int(c.get("step", 0)) == step]
    baked = described.get("bakedSeconds")
    if baked is None:
        baked = at_step[-1].get("bakedSeconds", 0) if at_step else 0
    bake = int(steps[step - 1].get("bakeSeconds", 0)) if 0 < step <= len(steps) else 0
    weight: int | float | None = int(described.get("weight") or 0)
    live = described.get("live")
    holding = None
    if status == "SUCCEEDED":
        phase, weight = "promoted", 100
    elif status in TERMINAL:
        error = described.get("error")
        phase = (
            _ENDINGS.get(str(error))
            or _STATUS_ENDINGS.get(status)
            or (f"failed ({error})" if error else "ended")
        )
        # After drift the alias is as someone else left it: no weight to show, unless read.
        weight = None if error == "AliasDrift" else 0
    elif step == 0:
        phase = "before traffic moves"
    else:
        action = described.get("action") or (at_step[-1].get("action") if at_step else None)
        phase = _PHASES.get(str(action), "baking")
    if status not in TERMINAL:
        holding = _holding(described)
        if holding and str(phase) == "baking":
            phase = "holding"
    elif isinstance(live, dict):
        weight = on_target(live, described.get("toVersion"))
    health, firing = _health(checks)
    verdict = latest_verdict(described)
    return Progress(
        rollout_id=str(described.get("rolloutId", "")),
        status=status,
        phase=phase,
        step=step,
        step_count=int(described.get("stepCount") or len(steps)),
        weight=weight,
        target_version=described.get("toVersion"),
        bake_seconds=bake,
        baked_seconds=int(baked),
        health=health,
        alarm_firing=firing,
        baseline_version=described.get("fromVersion"),
        live=str(live["describes"]) if status in TERMINAL and isinstance(live, dict) else None,
        why=why_it_ended(described) if status in TERMINAL - {"SUCCEEDED"} else None,
        holding=holding,
        analysis=analysis_line(verdict),
        analysis_outcome=str(verdict["outcome"]) if verdict else None,
    )


def _traffic(progress: Progress) -> str:
    """``10% on version 2, 90% on version 1``: the split the rollout has set (or the end's)."""
    if progress.live is not None:
        return f"live: {progress.live}"
    if progress.weight is None:
        return "traffic as someone else left it"
    version = f"version {progress.target_version}" if progress.target_version else "the target"
    if progress.baseline_version and progress.weight < 100:
        rest = 100 - progress.weight
        return f"{progress.weight}% on {version}, {rest}% on version {progress.baseline_version}"
    return f"{progress.weight}% on {version}"


def line(progress: Progress) -> str:
    """One plain line, for logs: printed whenever it changes.

    ``RUNNING baking, step 1 of 1, 10% on version 2, 90% on version 1, bake 3 min left of
    5 min, health OK: 1 alarm``
    """
    parts = [f"{progress.status} {progress.phase}"]
    if progress.holding:
        parts.append(progress.holding)
    if progress.step and not progress.ended:
        parts.append(f"step {progress.step} of {progress.step_count}")
    parts.append(_traffic(progress))
    if progress.step and not progress.ended and not progress.holding:
        parts.append(f"bake {human(progress.bake_left)} left of {human(progress.bake_seconds)}")
    parts.append(f"health {progress.health}")
    if progress.analysis:
        parts.append(f"analysis {progress.analysis}")
    return ", ".join(parts)


def weight_bar(weight: int | float | None, width: int = 30) -> Text:
    """The share of traffic on the target as a bar: ``weight_bar(10, 10)`` -> ``█░░░░░░░░░``."""
    filled = round((weight or 0) * width / 100)
    return Text("█" * filled, style="green") + Text("░" * (width - filled), style="dim")


def panel(
    progress: Progress, title: str | None = None, rows: dict[str, str] | None = None
) -> Panel:
    """The live view on a terminal; ``rows`` are shown below (the demo's requests served)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    style = "green" if progress.status == "SUCCEEDED" else "red" if progress.ended else "cyan"
    grid.add_row("state", Text(f"{progress.status}: {progress.phase}", style=style))
    baseline = progress.baseline_version or "none (first deploy)"
    target = progress.target_version or "(to be published)"
    grid.add_row("versions", f"baseline {baseline} -> target {target}")
    if progress.holding:
        grid.add_row("holding", progress.holding)
    if progress.step and not progress.ended:
        grid.add_row("step", f"{progress.step} of {progress.step_count}")
    grid.add_row("traffic", weight_bar(progress.weight) + Text(f"  {_traffic(progress)}"))
    if progress.step and not progress.ended and not progress.holding:
        grid.add_row(
            "bake",
            f"{human(progress.bake_left)} left of {human(progress.bake_seconds)} (rollout time)",
        )
    grid.add_row("health", Text(progress.health, style="red" if progress.alarm_firing else "green"))
    if progress.analysis:
        colour = {"pass": "green", "fail": "red"}.get(progress.analysis_outcome or "", "yellow")
        grid.add_row("analysis", Text(progress.analysis, style=colour))
    if progress.why:
        grid.add_row("why", Text(progress.why, style=style))
    for name, value in (rows or {}).items():
        grid.add_row(name, value)
    return Panel(grid, title=title or progress.rollout_id, expand=False)


def follow(
    describe: Callable[[], dict[str, Any]],
    console: Console,
    poll_seconds: float,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    *,
    title: str | None = None,
    rows: Callable[[], dict[str, str]] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Show the rollout until it ends; ``(last described, ended)``, False when ``timeout`` hit.

    On a terminal a Live panel (titled ``title``, with ``rows()`` below); otherwise a
    plain line each time the line changes.
    """
    deadline = None if timeout is None else clock() + timeout

    def poll(show: Callable[[Progress], None]) -> tuple[dict[str, Any], bool]:
        while True:
            described = describe()
            progress = progress_of(described)
            show(progress)
            if progress.ended:
                return described, True
            if deadline is not None and clock() >= deadline:
                return described, False
            sleep(poll_seconds)

    if console.is_terminal:
        with Live(
            console=console,
            refresh_per_second=4,
            transient=False,
            # Never wrap sys.stdout: an in-process local engine routes it per thread.
            redirect_stdout=False,
            redirect_stderr=False,
        ) as live:
            return poll(
                lambda progress: live.update(
                    panel(progress, title, rows() if rows is not None else None)
                )
            )
    previous: list[str] = []

    def show_line(progress: Progress) -> None:
        text = line(progress)
        if previous != [text]:
            console.out(f"  {text}", highlight=False)
            previous[:] = [text]

    return poll(show_line)
