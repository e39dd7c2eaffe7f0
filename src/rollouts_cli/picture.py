"""A rollout as a picture: the weight on the target over time, with what happened marked.

``marks(described)`` (pure) reads a described rollout (``rollouts status --output
json``): the steps taken, the checks (alarms, the analysis's verdicts, holds), the
hooks' answers, people's requests, the promotion and the end. The weight is 0%
from the start (``startedAt``) until the first shift. It answers a
``Picture``: the weight as a step line, and one ``Mark`` per moment worth seeing.
``draw(picture, path)`` writes it with matplotlib, PNG or SVG by the file's
extension (an SVG keeps its words as text, so they can be searched).

A canary shifted to 10% at 10:00:10, whose check at 10:02:10 failed its verdict
and rolled back at 10:02:12, is the line 0% -> 10% -> 0% with the marks "shifted
to 10%", "analysis: fail" and "rolled back".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

FORMATS = (".png", ".svg")

# How each kind of mark is drawn: colour, marker.
STYLES: dict[str, tuple[str, str]] = {
    "shift": ("#1f77b4", "o"),
    "check": ("#7f7f7f", "."),
    "pass": ("#2ca02c", "^"),
    "fail": ("#d62728", "X"),
    "inconclusive": ("#ff7f0e", "d"),
    "alarm": ("#d62728", "v"),
    "hook": ("#9467bd", "s"),
    "request": ("#8c564b", "P"),
    "hold": ("#ff7f0e", "|"),
    "promoted": ("#2ca02c", "*"),
    "succeeded": ("#2ca02c", "*"),
    "rolled-back": ("#d62728", "*"),
    "ended": ("#7f7f7f", "*"),
}


@dataclass(frozen=True)
class Mark:
    """One moment on the picture: when, the weight then, its kind and its words."""

    at: datetime
    weight: int
    kind: str
    label: str


@dataclass(frozen=True)
class Picture:
    """The weight on the target over time (a step line) and the marks on it."""

    title: str
    weights: tuple[tuple[datetime, int], ...]
    marks: tuple[Mark, ...]


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _weight_at(weights: list[tuple[datetime, int]], at: datetime) -> int:
    current = 0
    for moment, weight in weights:
        if moment > at:
            break
        current = weight
    return current


def _ending(described: dict[str, Any]) -> tuple[str, str]:
    status = str(described.get("status") or "")
    if status == "SUCCEEDED":
        return "succeeded", "succeeded: 100% on the target"
    error = described.get("error") or described.get("outcome") or status
    if error in ("RolledBack", "ROLLED_BACK"):
        return "rolled-back", "rolled back: 100% on the baseline"
    return "ended", f"ended: {error}".lower()


def _verdict_label(verdict: dict[str, Any]) -> str:
    outcome = str(verdict.get("outcome"))
    target = verdict.get("target") or {}
    rate = target.get("errorRate")
    if rate is None or "window" not in verdict:
        return f"analysis: {outcome}"
    return f"analysis: {outcome} ({float(rate):.1f}% errors over {target.get('invocations')})"


def marks(described: dict[str, Any]) -> Picture:
    """The picture of a described rollout (see the module's docstring)."""
    weights: list[tuple[datetime, int]] = []
    found: list[tuple[datetime, str, str]] = []
    for step in described.get("stepsTaken") or []:
        at = _moment(step.get("at"))
        if at is None:
            continue
        weight = int(step.get("weight") or 0)
        weights.append((at, weight))
        found.append((at, "shift", f"shifted to {weight}% (step {step.get('step')})"))
    promoted = _moment(described.get("promotedAt"))
    if promoted is not None:
        weights.append((promoted, 100))
        found.append((promoted, "promoted", "promoted: 100% on the target"))
    ended = _moment(described.get("endedAt"))
    if ended is not None:
        kind, label = _ending(described)
        weights.append((ended, 100 if kind == "succeeded" else 0))
        found.append((ended, kind, label))
    for check in described.get("checks") or []:
        at = _moment(check.get("at"))
        if at is None:
            continue
        firing = sorted(n for n, s in (check.get("alarmsNotOk") or {}).items() if s == "ALARM")
        verdict = check.get("analysis")
        if firing:
            found.append((at, "alarm", f"alarm {', '.join(firing)} in ALARM"))
        elif isinstance(verdict, dict) and verdict.get("outcome") in ("pass", "fail"):
            found.append((at, str(verdict["outcome"]), _verdict_label(verdict)))
        elif isinstance(verdict, dict):
            found.append((at, "inconclusive", _verdict_label(verdict)))
        elif check.get("held"):
            found.append((at, "hold", f"holding: {check.get('reason') or 'paused'}"))
        else:
            found.append((at, "check", "health check"))
    for event, answer in (described.get("hooks") or {}).items():
        at = _moment((answer or {}).get("at"))
        if at is not None:
            result = (answer or {}).get("result")
            verdict = "passed" if result in (None, "Succeeded") else f"failed: {result}"
            found.append((at, "hook", f"{event} hook {verdict}"))
    for request in described.get("requests") or []:
        at = _moment(request.get("at"))
        if at is not None:
            found.append((at, "request", f"{request.get('verb')} by {request.get('by')}"))
    found.sort(key=lambda mark: mark[0])
    started = _moment(described.get("startedAt"))
    if found or started is not None:
        # 0% until the first shift, from the start (or, without one, the first moment).
        first = [moment for moment in (started, found[0][0] if found else None) if moment]
        weights.append((min(first), 0))
    weights.sort(key=lambda point: (point[0], point[1] != 0))
    subject = f"{described.get('functionName')}:{described.get('alias')}"
    versions = f"{described.get('fromVersion') or 'none'} -> {described.get('toVersion')}"
    return Picture(
        title=f"{subject} {versions} ({described.get('rolloutId')})",
        weights=tuple(weights),
        marks=tuple(Mark(at, _weight_at(weights, at), kind, label) for at, kind, label in found),
    )


def draw(picture: Picture, path: Path) -> Path:
    """Write ``picture`` to ``path`` (.png or .svg); returns the path."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"a picture is .png or .svg, not {path.name!r}")
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib import dates
    from matplotlib import pyplot as plt

    def when(at: datetime) -> float:
        return float(dates.date2num(at))  # type: ignore[no-untyped-call]

    with matplotlib.rc_context({"svg.fonttype": "none"}):  # words stay words in an SVG
        figure, axes = plt.subplots(figsize=(11, 5.5), dpi=100)
        try:
            if picture.weights:
                axes.step(
                    [when(at) for at, _ in picture.weights],
                    [weight for _, weight in picture.weights],
                    where="post",
                    color="#1f77b4",
                    linewidth=2,
                    label="% on the target",
                )
            shown: set[str] = set()
            for index, mark in enumerate(picture.marks):
                colour, marker = STYLES.get(mark.kind, STYLES["check"])
                axes.scatter(
                    [when(mark.at)],
                    [mark.weight],
                    color=colour,
                    marker=marker,
                    s=70,
                    zorder=3,
                    label=None if mark.kind in shown else mark.kind,
                )
                shown.add(mark.kind)
                if mark.kind != "check":
                    axes.annotate(
                        mark.label,
                        (when(mark.at), mark.weight),
                        xytext=(6, 10 + 12 * (index % 4)),
                        textcoords="offset points",
                        fontsize=7,
                        color=colour,
                    )
            axes.set_ylim(-5, 120)
            axes.margins(x=0.18)  # room on the right for the last marks' words
            axes.set_ylabel("% of traffic on the target")
            axes.set_xlabel("time (UTC)")
            axes.xaxis.set_major_formatter(
                dates.DateFormatter("%H:%M:%S")  # type: ignore[no-untyped-call]
            )
            axes.set_title(picture.title, fontsize=10)
            axes.grid(alpha=0.3)
            axes.legend(loc="upper left", fontsize=7, ncols=2)
            figure.autofmt_xdate()
            figure.savefig(path, format=suffix[1:])
        finally:
            plt.close(figure)
    return path
