"""What the commands print: the JSON documents machines read, and the text people read.

Pure functions from described rollouts (``rollouts.service``) to dicts and lines;
the commands only choose which to print. Text never shows a Python value as such:
durations read ``5 min``, times ``2026-12-01 12:03:04 UTC``, and what a rollout
ended with is said in words, next to where its alias is now (``live``).
"""

from __future__ import annotations

import re
from typing import Any

from rollouts.durations import human
from rollouts_cli.timeline import clock, parse_time

# The fields ``start`` prints; ``error`` and ``cause`` join them once the rollout has ended.
START_FIELDS = (
    "rolloutId",
    "executionArn",
    "status",
    "functionName",
    "alias",
    "fromVersion",
    "toVersion",
    "summary",
)
LAST_CHECKS_SHOWN = 5
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

# What each end is called, by the execution's error (FAILED) or status.
_ENDINGS = {
    "RolledBack": "rolled back",
    "AliasDrift": "stopped on drift",
    "RollbackFailed": "rollback failed",
    "ValidationError": "refused",
    "RolloutInProgress": "refused",
}
_STATUS_ENDINGS = {"SUCCEEDED": "promoted", "ABORTED": "stopped", "TIMED_OUT": "timed out"}
# How an ending's cause (``rollouts.endings``) words why it ended, after saying what it did.
_WHY = (
    re.compile(r"Rolled back \S+ to version \S+: (?P<why>.*)", re.DOTALL),
    re.compile(r"Rolled back \S+: it stayed on version \S+: (?P<why>.*)", re.DOTALL),
    re.compile(r"Rolled back \S+ \(the alias was never created\): (?P<why>.*)", re.DOTALL),
    re.compile(
        r"Rolled back \S+ by deleting the alias this first deploy created: (?P<why>.*)", re.DOTALL
    ),
    re.compile(r"The rollout ended before it changed anything: (?P<why>.*)", re.DOTALL),
    re.compile(
        r"Stopped \S+ without touching it: (?P<why>.*?)\.? The alias was left as found\.",
        re.DOTALL,
    ),
)


def ended(described: dict[str, Any]) -> bool:
    """Whether the rollout's execution has ended."""
    return str(described.get("status")) in TERMINAL


def started_document(described: dict[str, Any], ended: bool) -> dict[str, Any]:
    """``start``'s JSON: the rollout; once ended, also ``error``, ``cause`` and ``live``.

    >>> started_document({"rolloutId": "r", "status": "FAILED", "error": "RolledBack",
    ...                   "cause": "c"}, ended=True)["error"]
    'RolledBack'
    """
    document = {key: described.get(key) for key in START_FIELDS}
    if ended:
        document["error"] = described.get("error")
        document["cause"] = described.get("cause")
        if "live" in described:
            document["live"] = described["live"]
    return document


def refusal_document(error: str, cause: str, fields: list[tuple[str, str]]) -> dict[str, Any]:
    """The JSON of a refusal (exit 4): the error name, the cause, and each bad field."""
    document: dict[str, Any] = {"error": error, "cause": cause}
    if fields:
        document["fields"] = [{"field": f, "message": m} for f, m in fields]
    return document


# -- where the alias is now -----------------------------------------------------------
def percent(weight: float) -> int | float:
    """Lambda's 0.0-1.0 weight as a percent: ``0.1`` -> ``10``, ``0.055`` -> ``5.5``."""
    value = round(weight * 100, 1)
    return int(value) if value == int(value) else value


def live_document(
    alias_config: dict[str, Any] | None, baseline: str | None, target: str | None
) -> dict[str, Any]:
    """``status``'s ``live``: the alias as GetAlias answered (None: it does not exist).

    ``{"version": "2", "extra": {"3": 10}, "describes": "90% on version 2, 10% on version 3"}``
    (``extra`` in percents).
    """
    if alias_config is None:
        return {"version": None, "extra": {}, "describes": "the alias does not exist"}
    weights = (alias_config.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    extra = {str(v): percent(float(w)) for v, w in sorted(weights.items()) if float(w) > 0}
    version = str(alias_config.get("FunctionVersion"))
    return {
        "version": version,
        "extra": extra,
        "describes": describe_routing(version, extra, baseline, target),
    }


def describe_routing(
    version: str, extra: dict[str, int | float], baseline: str | None, target: str | None
) -> str:
    """Where an alias sends traffic, in words.

    >>> describe_routing("2", {}, "2", "3")
    '100% on version 2, the baseline'
    >>> describe_routing("2", {"3": 10}, "2", "3")
    '90% on version 2, 10% on version 3'
    """
    if not extra:
        role = {baseline: ", the baseline", target: ", the target"}.get(version, "")
        return f"100% on version {version}{role}"
    rest = 100 - sum(extra.values())
    shares = [(version, percent(rest / 100)), *extra.items()]
    return ", ".join(f"{share}% on version {v}" for v, share in shares)


def on_target(live: dict[str, Any] | None, target: str | None) -> int | float | None:
    """The percent of traffic the alias now sends the target; None when not known."""
    if not isinstance(live, dict):
        return None
    if live.get("version") is None:
        return 0  # no alias: nothing goes anywhere
    extra: dict[str, int | float] = live.get("extra") or {}
    if target is not None and live["version"] == target:
        return percent((100 - sum(extra.values())) / 100)
    return extra.get(str(target), 0)


# -- how it ended -----------------------------------------------------------------------
def why_it_ended(described: dict[str, Any]) -> str:
    """Why a rollout ended, without what the ending did (that is said beside it)."""
    cause = str(described.get("cause") or described.get("reason") or "").strip()
    if not cause:
        return str(described.get("summary") or "no reason recorded")
    if described.get("error") == "RollbackFailed":
        return cause.rstrip(".")
    for pattern in _WHY:
        if match := pattern.fullmatch(cause):
            return match["why"].strip().rstrip(".")
    return cause.rstrip(".")


def ending(described: dict[str, Any]) -> str | None:
    """The one sentence for an ended rollout: how it ended and where the alias is now.

    ``rolled back: alarm e is in ALARM at step 1 of 2 (10% on the target); live: 100% on
    version 2, the baseline``, or ``promoted: 100% on version 3, the target``. None
    while it runs.
    """
    if not ended(described):
        return None
    status = str(described.get("status"))
    error = described.get("error")
    live = described.get("live")
    if isinstance(live, dict):
        now: str | None = f"live: {live['describes']}"
    elif described.get("liveUnknown"):
        now = f"live: not known ({described['liveUnknown']})"
    else:
        now = None
    if status == "SUCCEEDED":
        target = described.get("toVersion")
        if isinstance(live, dict) and live.get("version") == target and not live.get("extra"):
            return f"promoted: {live['describes']}"
        head = f"promoted to version {target}" if target else "promoted"
        return f"{head}; {now}" if now else head
    if status == "FAILED":
        label = _ENDINGS.get(str(error), f"failed ({error})" if error else "failed")
    else:
        label = _STATUS_ENDINGS.get(status, status.lower())
    sentence = f"{label}: {why_it_ended(described)}"
    return f"{sentence}; {now}" if now else sentence


def _when_it_ended(described: dict[str, Any]) -> str:
    """``it was at 20% (step 2 of 9) when it ended``, or promoted, or before any shift."""
    if described.get("promoted"):
        return "it was promoted (100%) when it ended"
    step = int(described.get("step") or 0)
    if step:
        return (
            f"it was at {described.get('weight') or 0}% "
            f"(step {step} of {described.get('stepCount')}) when it ended"
        )
    return "traffic had not moved when it ended"


def traffic_line(described: dict[str, Any]) -> str:
    """The share on the target: where the rollout has it, or, once ended, where it is now."""
    step = int(described.get("step") or 0)
    count = described.get("stepCount")
    if not ended(described):
        if not step:
            return "0% on the target: traffic has not moved yet"
        return f"{described.get('weight') or 0}% on the target at step {step} of {count}"
    share = on_target(described.get("live"), described.get("toVersion"))
    now = "not known now" if share is None else f"{share}% on the target now"
    if described.get("status") == "SUCCEEDED":
        return now
    return f"{now}; {_when_it_ended(described)}"


# -- the blocks of text ---------------------------------------------------------------
def when(text: object) -> str:
    """``2026-12-01 12:03:04 UTC`` from the record's ISO time (as given if not one)."""
    if text is None or text == "":
        return "at an unrecorded time"
    moment = parse_time(text)
    if moment is None:
        return str(text)
    return f"{moment:%Y-%m-%d} {clock(moment)} UTC"


def _versions(described: dict[str, Any]) -> str:
    before = described.get("fromVersion") or "none (first deploy)"
    return f"{before} -> {described.get('toVersion') or '(to be published)'}"


def _waiting(described: dict[str, Any]) -> str | None:
    waiting = described.get("waiting")
    if not isinstance(waiting, dict):
        return None
    since = f" since {when(waiting['since'])}" if waiting.get("since") else ""
    kind = str(waiting.get("kind") or "")
    if kind == "bake":
        # A paused rollout waits too, but it bakes nothing: "paused" says so.
        return None if isinstance(described.get("paused"), dict) else f"baking{since}"
    hook = f" {waiting['hook']}" if waiting.get("hook") else ""
    return (
        f"for the {kind} hook{hook}{since}; answer for it: rollouts hook-result "
        f"{described.get('rolloutId')} --status Succeeded|Failed"
    )


def rollout_lines(described: dict[str, Any]) -> list[str]:
    """The summary block of a rollout: who, what, where it is, and why it ended."""
    subject = f"{described.get('functionName') or '?'}:{described.get('alias') or '?'}"
    lines = [
        f"{described.get('rolloutId')}  {described.get('status')}",
        f"  alias      {subject}",
        f"  versions   {_versions(described)}",
    ]
    if described.get("strategy"):
        count = int(described.get("stepCount") or 0)
        lines.append(
            f"  strategy   {described['strategy']} ({count} step{'s' if count != 1 else ''})"
        )
    if described.get("status") != "UNKNOWN":
        lines.append(f"  traffic    {traffic_line(described)}")
    live = described.get("live")
    if not ended(described) and isinstance(live, dict):
        lines.append(f"  live       {live['describes']}")
    paused = described.get("paused")
    if not ended(described) and isinstance(paused, dict):
        reason = f": {paused['reason']}" if paused.get("reason") else ""
        lines.append(
            f"  paused     by {paused.get('by')} at {when(paused.get('at'))}{reason}; "
            f"resume it: rollouts resume {described.get('rolloutId')}"
        )
    waiting = _waiting(described) if not ended(described) else None
    if waiting:
        lines.append(f"  waiting    {waiting}")
    verdict = latest_verdict(described)
    judged = analysis_line(verdict)
    if judged and verdict is not None:
        lines.append(f"  analysis   {judged}")
        lines.append(f"             {verdict.get('reason')}")
    if described.get("startedAt"):
        end = f", ended {when(described['endedAt'])}" if described.get("endedAt") else ""
        lines.append(f"  started    {when(described['startedAt'])}{end}")
    # After an end, the record's summary is the last moment before it: say the end instead.
    summary = ending(described) or described.get("summary")
    if summary:
        lines.append(f"  summary    {summary}")
    if described.get("error"):
        lines.append(f"  error      {described['error']}")
    if described.get("cause"):
        lines.append(f"  cause      {described['cause']}")
    elif described.get("reason") and not str(described["reason"]).startswith(str(summary)):
        lines.append(f"  reason     {described['reason']}")
    lines.append(f"  execution  {described.get('executionArn')}")
    return lines


def _side(figures: dict[str, Any] | None) -> str:
    """``"21.4% errors over 70, p99 820 ms"`` for one version's figures in a verdict."""
    if not isinstance(figures, dict):
        return "no figures"
    rate = figures.get("errorRate")
    errors = "no" if rate is None else f"{float(rate):.1f}%"
    text = f"{errors} errors over {int(figures.get('invocations') or 0)}"
    if figures.get("p99Ms") is not None:
        text += f", p99 {float(figures['p99Ms']):g} ms"
    return text


def analysis_line(verdict: dict[str, Any] | None) -> str | None:
    """A verdict in one line: outcome, both versions' figures, the test's p-value.

    >>> analysis_line({"outcome": "fail", "target": {"invocations": 70, "errors": 15,
    ...     "errorRate": 21.43}, "baseline": {"invocations": 630, "errors": 0, "errorRate": 0.0},
    ...     "pValue": 1.2e-09, "reason": "worse at 99% confidence"})
    'FAIL  target 21.4% errors over 70 | baseline 0.0% errors over 630 | p=1.2e-09'
    >>> analysis_line({"outcome": "inconclusive", "target": {"invocations": 0},
    ...     "reason": "settling: 20 s before the first verdict"})
    'INCONCLUSIVE  settling: 20 s before the first verdict'
    """
    if not isinstance(verdict, dict) or "outcome" not in verdict:
        return None
    outcome = str(verdict["outcome"]).upper()
    if verdict.get("dryRun"):
        outcome += " (dry run)"
    if "window" not in verdict and not (verdict.get("target") or {}).get("invocations"):
        return f"{outcome}  {verdict.get('reason') or ''}".rstrip()
    parts = [f"{outcome}  target {_side(verdict.get('target'))}"]
    if "baseline" in verdict:
        parts.append(f"baseline {_side(verdict.get('baseline'))}")
    if verdict.get("pValue") is not None:
        parts.append(f"p={float(verdict['pValue']):.2g}")
    return " | ".join(parts)


def latest_verdict(described: dict[str, Any]) -> dict[str, Any] | None:
    """The newest verdict among the rollout's checks (None without analysis)."""
    for check in reversed(described.get("checks") or []):
        if isinstance(check, dict) and isinstance(check.get("analysis"), dict):
            return dict(check["analysis"])
    return None


def alarms_text(check: dict[str, Any]) -> str:
    """``"1 alarm OK"``, ``"errors=ALARM (Threshold Crossed: ...)"`` or ``"no alarms"``."""
    not_ok: dict[str, str] = dict(check.get("alarmsNotOk") or {})
    reasons: dict[str, str] = dict(check.get("alarmReasons") or {})
    watched = int(check.get("alarmsWatched") or 0)
    if not_ok:
        return ", ".join(
            f"{name}={state}" + (f" ({reasons[name]})" if reasons.get(name) else "")
            for name, state in sorted(not_ok.items())
        )
    if not watched:
        return "no alarms"
    return f"{watched} alarm{'s' if watched != 1 else ''} OK"


def _step_taken(step: dict[str, Any], planned: list[dict[str, Any]]) -> str:
    number = int(step.get("step") or 0)
    plan = planned[number - 1] if 0 < number <= len(planned) else {}
    at = when(step.get("at"))
    if plan.get("untilPromoted"):
        return f"  step {number}: paused at {step.get('weight')}% at {at}, until promoted"
    hold = "pause" if plan.get("pause") else "bake"
    return (
        f"  step {number}: {step.get('weight')}% at {at}, "
        f"{hold} {human(int(step.get('bakeSeconds') or 0))}"
    )


def status_lines(described: dict[str, Any], timeline: list[str]) -> list[str]:
    """``rollouts status``: the summary block, the steps taken, the last checks, the timeline."""
    lines = rollout_lines(described)
    taken: list[dict[str, Any]] = described.get("stepsTaken") or []
    planned: list[dict[str, Any]] = described.get("steps") or []
    lines.append(f"Steps taken ({len(taken)} of {described.get('stepCount') or 0})")
    lines.extend(_step_taken(step, planned) for step in taken)
    checks: list[dict[str, Any]] = described.get("checks") or []
    total = int(described.get("checkCount") or len(checks))
    shown = checks[-LAST_CHECKS_SHOWN:]
    lines.append(f"Last checks ({len(shown)} of {total})")
    for check in shown:
        reason = f" ({check['reason']})" if check.get("reason") else ""
        judged = analysis_line(check.get("analysis"))
        verdict = f", analysis {judged}" if judged else ""
        lines.append(
            f"  {when(check.get('at'))}  step {check.get('step')} at {check.get('weight')}%, "
            f"baked {human(int(check.get('bakedSeconds') or 0))}, {alarms_text(check)}{verdict}"
            f" -> {check.get('action')}{reason}"
        )
    if timeline:
        lines.append("Timeline (UTC)")
        lines.extend(f"  {moment}" for moment in timeline)
    return lines


def list_lines(rollouts: list[dict[str, Any]], next_token: str | None) -> list[str]:
    """``rollouts list``: one line per rollout, newest first, and how to get the next page."""
    if not rollouts:
        return ["no rollouts"]
    lines = []
    for item in rollouts:
        end = f"  ended {when(item['endedAt'])}" if item.get("endedAt") else ""
        reason = f"  {item['reason']}" if item.get("reason") else ""
        lines.append(
            f"{item.get('rolloutId')}  {item.get('status') or '-':<11}  "
            f"{item.get('fromVersion') or '-'} -> {item.get('toVersion') or '-'}  "
            f"{item.get('strategy') or '-'}  started {when(item.get('startedAt'))}{end}{reason}"
        )
    if next_token:
        lines.append(f"more: --next-token {next_token}")
    return lines


# -- plan ---------------------------------------------------------------------------------
def check_times(bake_seconds: int, interval: int) -> list[int]:
    """When a bake checks health, in seconds into it: every ``interval``, and at its end.

    >>> check_times(300, 60), check_times(90, 60), check_times(0, 60)
    ([60, 120, 180, 240, 300], [60, 90], [])
    """
    times = list(range(interval, bake_seconds, interval))
    return [*times, bake_seconds] if bake_seconds > 0 else []


def _some(times: list[int]) -> str:
    """``1 min, 2 min, 3 min, …, 30 min``: the first three and the last of many."""
    words = [human(t) for t in times]
    if len(words) > 4:
        words = [*words[:3], "…", words[-1]]
    return ", ".join(words)


def plan_document(
    name: str,
    steps: tuple[Any, ...],
    interval: int,
    history_events: int,
    history_budget: int,
) -> dict[str, Any]:
    """``plan``'s JSON: the steps, the check interval and the history estimate (seconds)."""
    return {
        "strategy": name,
        "steps": [
            {
                "weight": s.weight,
                "bakeSeconds": s.bake_seconds,
                **({"pause": True} if s.pause else {}),
                **({"untilPromoted": True} if s.until_promoted else {}),
            }
            for s in steps
        ],
        "checkIntervalSeconds": interval,
        "checks": sum(len(check_times(s.bake_seconds, interval)) for s in steps),
        "totalBakeSeconds": sum(s.bake_seconds for s in steps),
        "historyEvents": history_events,
        "historyBudget": history_budget,
    }


def plan_lines(
    name: str,
    steps: tuple[Any, ...],
    interval: int,
    requested: int | None,
    history_events: int,
    history_budget: int,
    history_limit: int,
) -> list[str]:
    """``rollouts plan``: each step when it would start, its bake and when it checks health.

    Times are rollout time from the first shift (hooks not counted); after a pause
    until promoted they count from the promotion.
    """
    count = len(steps)
    then = "then the promotion" if count else "the promotion at once"
    lines = [f"{name}: {count} step{'s' if count != 1 else ''}, {then}"]
    elapsed = 0
    base = ""

    def at() -> str:
        return f"  {'at ' + base + human(elapsed):<24}"

    for number, step in enumerate(steps, start=1):
        checks = check_times(step.bake_seconds, interval)
        if step.until_promoted:
            lines.append(
                f"{at()}step {number}: pause at {step.weight}% on the target until promoted "
                "(rollouts promote), alarms still watched"
            )
            base, elapsed = "promotion + ", 0
            continue
        hold = "pause" if step.pause else "bake"
        plural = "s" if len(checks) != 1 else ""
        when_checked = f": at {_some(checks)} into it" if checks else ""
        lines.append(
            f"{at()}step {number}: {step.weight}% on the target, {hold} "
            f"{human(step.bake_seconds)}, {len(checks)} health check{plural}{when_checked}"
        )
        elapsed += step.bake_seconds
    lines.append(f"{at()}promote: 100% on the target")
    lines.append(f"  total bake: {human(sum(s.bake_seconds for s in steps))}")
    if requested is None and interval != 60:
        why = " (60 s would not fit the history budget: widened)"
    elif requested is None:
        why = " (the default; --check-interval changes it)"
    else:
        why = ""
    none = (
        "" if any(s.bake_seconds or s.until_promoted for s in steps) else "; this plan has no bake"
    )
    lines.append(f"  health checked every {human(interval)} while baking{why}{none}")
    lines.append(
        f"  history: about {history_events:,} events of the {history_budget:,} a rollout "
        f"may plan for (Step Functions allows {history_limit:,})"
    )
    return lines
