"""Judge the target by its own traffic: one pure verdict per window (issue 9).

Pure: no clients, no clock. A handler reads Lambda's per-version metrics (dimension
``ExecutedVersion``) for the window since the step's own shift, builds one ``Sample``
per version, and asks ``judge(target, baseline, thresholds)`` for a ``Verdict``:
``pass``, ``fail`` or ``inconclusive``, a one-line reason, and the figures it used.

The baseline comparison is **Fisher's exact test, one-sided**: given every error
of the window (target and baseline together), how likely is it that at least as
many of them would have fallen on the target's invocations if both versions erred
at the same rate? That probability (the p-value) is the hypergeometric upper tail;
the target is *worse* when it is below ``1 - confidence``. Why this test:

- A noisy baseline does not fail a healthy target. The test asks whether the
  target errs *more* than the baseline beside it, not whether it errs at all, and
  it is exact: when both versions err at the same rate, the target fails at most
  ``1 - confidence`` of the time (1% at the default 0.99), whatever the counts.
  Approximate tests are not: with 1 error in 70 target invocations against 0 in
  630, a two-proportion z-test says p = 0.001 ("worse"); Fisher says p = 0.1,
  one error is no evidence.
- A small sample does not pass a bad one. Fisher's test does not overstate
  significance at small counts, but it lacks power there: "not shown worse" over
  10 invocations says little. So no verdict passes below ``minInvocations``: a
  target with fewer invocations is inconclusive, and so is any comparison with a
  baseline that has fewer. Only evidence passes a target; and evidence fails it
  at any count (12 errors in 12 invocations need no fifty).

The tail is summed exactly in integers (``math.comb``) up to ``EXACT_COUNTS``
invocations in the window; above, in floating point from ``math.lgamma``, term by
term with the hypergeometric ratio, stopping when the terms left are provably
below 1e-17 of the sum (the terms fall faster than a geometric series once past
the mode). The tests hold it within 1e-8 (relative) of the exact tail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from rollouts.durations import human

# Up to this many invocations in a window (target and baseline together), the
# tail is summed exactly: at most about 10 ms, with big integers of 3,000 digits.
EXACT_COUNTS = 10_000

# The float sum stops when the terms it leaves cannot add more than this share.
_TAIL_PRECISION = 1e-17


class Outcome(StrEnum):
    """What a verdict says of the target."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Sample:
    """One version's traffic over one window: Lambda's ``Invocations``, ``Errors``,
    and ``Duration`` p99 (None when Lambda reported none).

    Counts are whole and ``errors <= invocations``; an adapter clamps what
    CloudWatch reports before building one.

    >>> Sample(70, 15, 820.0).error_rate
    21.428571428571427
    >>> Sample(0, 0, None).error_rate is None
    True
    """

    invocations: int
    errors: int
    p99_ms: float | None = None

    def __post_init__(self) -> None:
        if self.invocations < 0:
            raise ValueError(f"invocations must be >= 0, not {self.invocations}")
        if not 0 <= self.errors <= self.invocations:
            raise ValueError(
                f"errors must be between 0 and invocations ({self.invocations}), not {self.errors}"
            )
        if self.p99_ms is not None and not (math.isfinite(self.p99_ms) and self.p99_ms >= 0):
            raise ValueError(f"p99_ms must be a finite number >= 0, not {self.p99_ms}")

    @property
    def error_rate(self) -> float | None:
        """Percent of invocations that failed; None without invocations."""
        if self.invocations == 0:
            return None
        return 100 * self.errors / self.invocations


@dataclass(frozen=True)
class Thresholds:
    """The ``analysis`` settings a verdict applies (the contract's names in brackets).

    ``max_error_rate`` (``maxErrorRate``): percent of the target's invocations
    that may fail; ``compare_to_baseline`` (``compareToBaseline``): fail a target
    that errs more than the baseline at ``confidence``; ``max_p99_duration_ms``
    (``maxP99DurationMs``); ``max_duration_increase`` (``maxDurationIncrease``):
    the largest ratio of the target's p99 to the baseline's; ``min_invocations``
    (``minInvocations``): fewer on the target, or on a baseline compared with, is
    inconclusive. None switches a check off.
    """

    max_error_rate: float | None = None
    compare_to_baseline: bool = False
    confidence: float = 0.99
    max_p99_duration_ms: float | None = None
    max_duration_increase: float | None = None
    min_invocations: int = 0

    def __post_init__(self) -> None:
        if self.max_error_rate is not None and not 0 <= self.max_error_rate <= 100:
            raise ValueError(f"maxErrorRate must be a percent, not {self.max_error_rate}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be between 0 and 1, not {self.confidence}")
        if self.max_p99_duration_ms is not None and not self.max_p99_duration_ms > 0:
            raise ValueError(f"maxP99DurationMs must be > 0, not {self.max_p99_duration_ms}")
        if self.max_duration_increase is not None and not self.max_duration_increase > 0:
            raise ValueError(f"maxDurationIncrease must be > 0, not {self.max_duration_increase}")
        if self.min_invocations < 0:
            raise ValueError(f"minInvocations must be >= 0, not {self.min_invocations}")

    @property
    def needed(self) -> int:
        """Invocations a side needs to be judged: ``min_invocations``, and never none."""
        return max(self.min_invocations, 1)


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A judgement of the target over one window, with the figures it used.

    Error rates are percents (None without invocations); ``p_value`` is the
    one-sided Fisher p-value when the baseline was compared (None otherwise);
    ``p99_ratio`` is target p99 / baseline p99 when both were known and compared.
    """

    outcome: Outcome
    reason: str
    target_invocations: int
    target_errors: int
    target_error_rate: float | None
    target_p99_ms: float | None
    baseline_invocations: int | None = None
    baseline_errors: int | None = None
    baseline_error_rate: float | None = None
    baseline_p99_ms: float | None = None
    p_value: float | None = None
    p99_ratio: float | None = None


def fisher_p_value(target: Sample, baseline: Sample) -> float:
    """The one-sided p-value of Fisher's exact test that the target errs more.

    The chance that, of all the window's errors, at least the target's count fall
    on the target's invocations when both versions err alike (hypergeometric).

    Lady tasting tea: 3 of 4 against 1 of 4 is p = 17/70. One error in 70 against
    none in 630 is p = 70/700; two is p = (70*69)/(700*699), worse at 99%:

    >>> round(fisher_p_value(Sample(4, 3), Sample(4, 1)), 6), round(17 / 70, 6)
    (0.242857, 0.242857)
    >>> fisher_p_value(Sample(70, 1), Sample(630, 0))
    0.1
    >>> round(fisher_p_value(Sample(70, 2), Sample(630, 0)), 5)
    0.00987
    >>> fisher_p_value(Sample(70, 0), Sample(630, 30))  # no target errors: no evidence
    1.0
    """
    total = target.invocations + baseline.invocations
    errors = target.errors + baseline.errors
    if total <= EXACT_COUNTS:
        return _tail_exact(total, errors, target.invocations, target.errors)
    return _tail_float(total, errors, target.invocations, target.errors)


def judge(
    target: Sample,
    baseline: Sample | None,
    thresholds: Thresholds,
    metrics: tuple[Reading, ...] = (),
) -> Verdict:
    """The verdict on the target over one window, by these rules.

    1. No target invocations -> inconclusive. Fewer than ``min_invocations`` ->
       inconclusive ("target 12 invocations, fewer than the 50 needed"), unless the
       errors already prove the target bad: more than ``max_error_rate`` allows
       even over ``min_invocations``, or worse than the baseline by the test in 3
       (exact at any count). Nothing passes, and no p99 is judged, below it.
    2. ``max_error_rate``: fail when the target's error rate is above it:
       "target 2.5% errors over 400 invocations, above the 1% allowed".
    3. ``compare_to_baseline``: fail when Fisher's test finds the target worse at
       ``confidence`` (p < 1 - confidence), pass when it does not; inconclusive
       without a baseline of ``min_invocations``: "target 21.4% errors over 70
       invocations vs baseline 0.0% over 630: worse at 99% confidence".
    4. ``max_p99_duration_ms``: fail when the target's p99 is above it:
       "target p99 1620 ms, above the 1500 ms allowed"; inconclusive when unknown.
    5. ``max_duration_increase``: fail when target p99 / baseline p99 is above it:
       "target p99 900 ms is 3.00 times baseline 300 ms, above the 2x allowed";
       inconclusive when either p99 is unknown, or without a baseline as in 3.
    6. each custom metric (``metrics``, a ``Reading`` each): fail when the target's
       value is above its ``max``, or above ``max_increase`` times the baseline's;
       inconclusive when a value it needs is missing (see ``check_metric``).

    Any failed check fails the verdict (its reason names every failed check);
    otherwise any inconclusive check makes it inconclusive; otherwise it passes,
    naming every check it passed.

    >>> compare = Thresholds(compare_to_baseline=True, min_invocations=50)
    >>> judge(Sample(70, 15), Sample(630, 0), compare).reason
    'target 21.4% errors over 70 invocations vs baseline 0.0% over 630: worse at 99% confidence'
    >>> judge(Sample(100, 2), Sample(1000, 20), compare).outcome
    <Outcome.PASS: 'pass'>
    >>> judge(Sample(12, 0), Sample(630, 0), compare).reason
    'target 12 invocations, fewer than the 50 needed'
    >>> judge(Sample(12, 12), Sample(630, 0), compare).outcome  # proven bad, even so few
    <Outcome.FAIL: 'fail'>
    """
    needed = thresholds.needed
    if target.invocations == 0:
        return _verdict(Outcome.INCONCLUSIVE, "no target invocations", target, baseline)
    small = target.invocations < needed
    checks: list[tuple[Outcome, str]] = []
    p_value: float | None = None
    p99_ratio: float | None = None
    if thresholds.max_error_rate is not None:
        checks.append(_error_rate_check(target, thresholds.max_error_rate, needed))
    if thresholds.compare_to_baseline:
        check, p_value = _baseline_check(target, baseline, thresholds.confidence, needed)
        checks.append(check)
    if small:
        # Too few to pass, or to judge a p99; but errors that already prove the target
        # bad fail it: more than the rate allows even over the invocations needed, or
        # worse than the baseline by the exact test (exact at any count).
        failed = [text for result, text in checks if result is Outcome.FAIL]
        if failed:
            return _verdict(Outcome.FAIL, "; ".join(failed), target, baseline, p_value)
        reason = f"target {target.invocations} invocations, fewer than the {needed} needed"
        return _verdict(Outcome.INCONCLUSIVE, reason, target, baseline, p_value)
    if thresholds.max_p99_duration_ms is not None:
        checks.append(_p99_check(target, thresholds.max_p99_duration_ms))
    if thresholds.max_duration_increase is not None:
        check, p99_ratio = _increase_check(
            target, baseline, thresholds.max_duration_increase, needed
        )
        checks.append(check)
    checks += [check_metric(reading) for reading in metrics]
    outcome = Outcome.PASS
    for worst in (Outcome.FAIL, Outcome.INCONCLUSIVE):
        if any(result is worst for result, _ in checks):
            outcome = worst
            break
    texts = [text for result, text in checks if result is outcome]
    reason = "; ".join(texts) if texts else f"target {_errors(target)}: no check set"
    return _verdict(outcome, reason, target, baseline, p_value, p99_ratio)


def _verdict(
    outcome: Outcome,
    reason: str,
    target: Sample,
    baseline: Sample | None,
    p_value: float | None = None,
    p99_ratio: float | None = None,
) -> Verdict:
    return Verdict(
        outcome=outcome,
        reason=reason,
        target_invocations=target.invocations,
        target_errors=target.errors,
        target_error_rate=target.error_rate,
        target_p99_ms=target.p99_ms,
        baseline_invocations=None if baseline is None else baseline.invocations,
        baseline_errors=None if baseline is None else baseline.errors,
        baseline_error_rate=None if baseline is None else baseline.error_rate,
        baseline_p99_ms=None if baseline is None else baseline.p99_ms,
        p_value=p_value,
        p99_ratio=p99_ratio,
    )


def _percent(rate: float | None) -> str:
    return "no" if rate is None else f"{rate:.1f}%"


def _errors(sample: Sample) -> str:
    return f"{_percent(sample.error_rate)} errors over {sample.invocations} invocations"


def _ms(value: float) -> str:
    return f"{value:g} ms"


def _error_rate_check(target: Sample, max_error_rate: float, needed: int) -> tuple[Outcome, str]:
    # Compared in counts, not rounded percents: 11 errors in 1000 fail a 1% limit.
    allowed = f"the {max_error_rate:g}% allowed"
    if target.invocations < needed:
        # Fewer than needed: a fail only if the errors are too many even over ``needed``.
        if 100 * target.errors > max_error_rate * needed:
            return (
                Outcome.FAIL,
                f"target {target.errors} errors in {target.invocations} invocations, above"
                f" {allowed} even over the {needed} needed",
            )
        return Outcome.INCONCLUSIVE, f"target {target.invocations} invocations"
    above = 100 * target.errors > max_error_rate * target.invocations
    if above:
        return Outcome.FAIL, f"target {_errors(target)}, above {allowed}"
    return Outcome.PASS, f"target {_errors(target)}, within {allowed}"


def _no_baseline(baseline: Sample | None, needed: int) -> str:
    """Why a baseline cannot be compared with."""
    if baseline is None or baseline.invocations == 0:
        return "no baseline invocations to compare with"
    return f"baseline {baseline.invocations} invocations, fewer than the {needed} needed"


def _baseline_check(
    target: Sample, baseline: Sample | None, confidence: float, needed: int
) -> tuple[tuple[Outcome, str], float | None]:
    if baseline is None or baseline.invocations == 0:
        return (Outcome.INCONCLUSIVE, _no_baseline(baseline, needed)), None
    p_value = fisher_p_value(target, baseline)
    if p_value >= 1 - confidence and min(target.invocations, baseline.invocations) < needed:
        # Not shown worse over too few: no pass. (Shown worse is a fail at any count:
        # the test is exact.)
        small = baseline if baseline.invocations < needed else target
        side = "baseline" if small is baseline else "target"
        reason = f"{side} {small.invocations} invocations, fewer than the {needed} needed"
        return (Outcome.INCONCLUSIVE, reason), p_value
    figures = (
        f"target {_errors(target)} vs baseline "
        f"{_percent(baseline.error_rate)} over {baseline.invocations}"
    )
    at = f"at {confidence * 100:g}% confidence"
    if p_value < 1 - confidence:
        return (Outcome.FAIL, f"{figures}: worse {at}"), p_value
    return (Outcome.PASS, f"{figures}: not worse {at}"), p_value


def _p99_check(target: Sample, max_p99_ms: float) -> tuple[Outcome, str]:
    if target.p99_ms is None:
        return Outcome.INCONCLUSIVE, "target p99 unknown"
    allowed = f"the {_ms(max_p99_ms)} allowed"
    if target.p99_ms > max_p99_ms:
        return Outcome.FAIL, f"target p99 {_ms(target.p99_ms)}, above {allowed}"
    return Outcome.PASS, f"target p99 {_ms(target.p99_ms)}, within {allowed}"


def _increase_check(
    target: Sample, baseline: Sample | None, limit: float, needed: int
) -> tuple[tuple[Outcome, str], float | None]:
    if baseline is None or baseline.invocations < needed:
        return (Outcome.INCONCLUSIVE, _no_baseline(baseline, needed)), None
    if target.p99_ms is None or baseline.p99_ms is None:
        side = "target" if target.p99_ms is None else "baseline"
        return (Outcome.INCONCLUSIVE, f"{side} p99 unknown"), None
    if baseline.p99_ms > 0:
        ratio = target.p99_ms / baseline.p99_ms
    else:
        ratio = math.inf if target.p99_ms > 0 else 1.0
    figures = (
        f"target p99 {_ms(target.p99_ms)} is {ratio:.2f} times baseline {_ms(baseline.p99_ms)}"
    )
    # Compared as a product: exact at the limit, and no division by a zero p99.
    if target.p99_ms > limit * baseline.p99_ms:
        return (Outcome.FAIL, f"{figures}, above the {limit:g}x allowed"), ratio
    return (Outcome.PASS, f"{figures}, within the {limit:g}x allowed"), ratio


def _support(total: int, errors: int, draws: int) -> tuple[int, int]:
    """The smallest and largest count of errors the draws can hold."""
    return max(0, draws - (total - errors)), min(errors, draws)


def _tail_exact(total: int, errors: int, draws: int, at_least: int) -> float:
    """P(X >= at_least), X hypergeometric: ``draws`` of ``total`` holding ``errors``.

    Summed in integers, each term ``C(errors, k) * C(total - errors, draws - k)``
    from the last by the ratio (the division is exact); Python's int division
    then rounds the quotient correctly.
    """
    low, high = _support(total, errors, draws)
    start = max(at_least, low)
    if start > high:
        return 0.0
    oks = total - errors
    term = math.comb(errors, start) * math.comb(oks, draws - start)
    ways = 0
    for k in range(start, high + 1):
        ways += term
        term = term * (errors - k) * (draws - k) // ((k + 1) * (oks - draws + k + 1))
    return ways / math.comb(total, draws)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _tail_float(total: int, errors: int, draws: int, at_least: int) -> float:
    """``_tail_exact`` in floating point, for counts too large for big integers.

    Sums away from the mode, where the terms only fall: the upper tail itself when
    ``at_least`` is past the mode, else 1 minus the lower tail below it.
    """
    low, high = _support(total, errors, draws)
    if at_least <= low:
        return 1.0
    if at_least > high:
        return 0.0
    mode = (draws + 1) * (errors + 1) // (total + 2)
    if at_least > mode:
        return _sum_from(total, errors, draws, at_least, 1)
    return max(0.0, 1.0 - _sum_from(total, errors, draws, at_least - 1, -1))


def _sum_from(total: int, errors: int, draws: int, start: int, step: int) -> float:
    """P(X = start) + P(X = start + step) + ..., every term smaller than the last.

    Each term is the last times the hypergeometric ratio, and the ratios only
    fall (the distribution is log-concave), so what is left after a term ``t``
    with ratio ``r < 1`` is at most ``t * r / (1 - r)``: stop when that is
    negligible.
    """
    oks = total - errors
    log_first = _log_comb(errors, start) + _log_comb(oks, draws - start)
    log_first -= _log_comb(total, draws)
    term, share, k = 1.0, 1.0, start
    while True:
        if step > 0:  # P(k + 1) / P(k)
            ratio = (errors - k) * (draws - k) / ((k + 1) * (oks - draws + k + 1))
        else:  # P(k - 1) / P(k)
            ratio = k * (oks - draws + k) / ((errors - k + 1) * (draws - k + 1))
        if ratio <= 0:  # the edge of the support
            break
        term *= ratio
        share += term
        k += step
        if ratio < 1 and term * ratio / (1 - ratio) <= _TAIL_PRECISION * share:
            break
    return min(1.0, math.exp(log_first + math.log(share)))


# -- custom metrics -------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """One custom metric over the window: its statistic for the target and the baseline.

    ``label`` names it in reasons (``Orders CheckoutFailures Sum``); ``maximum`` and
    ``max_increase`` are the request's ``max`` and ``maxIncrease`` (at least one is
    set); a value is None when CloudWatch had no datapoint for that version.
    """

    label: str
    target: float | None
    baseline: float | None
    maximum: float | None = None
    max_increase: float | None = None
    # For a statistic that grows with traffic (Sum, SampleCount): each version's own
    # invocations, so that ``max_increase`` compares per invocation, whatever the split.
    target_invocations: int | None = None
    baseline_invocations: int | None = None


def check_metric(reading: Reading) -> tuple[Outcome, str]:
    """A custom metric's check, both limits when both are set.

    >>> check_metric(Reading("Orders Failures Sum", 12.0, 2.0, maximum=10.0))
    (<Outcome.FAIL: 'fail'>, 'Orders Failures Sum 12 on the target, above the 10 allowed')
    >>> check_metric(Reading("Orders Latency p90", 330.0, 300.0, max_increase=1.2))[0]
    <Outcome.PASS: 'pass'>
    >>> check_metric(Reading("Orders Latency p90", None, 300.0, max_increase=1.2))
    (<Outcome.INCONCLUSIVE: 'inconclusive'>, 'Orders Latency p90: no target data')
    """
    name = reading.label
    if reading.target is None:
        return Outcome.INCONCLUSIVE, f"{name}: no target data"
    value = reading.target
    results: list[tuple[Outcome, str]] = []
    if reading.maximum is not None:
        if value > reading.maximum:
            results.append(
                (
                    Outcome.FAIL,
                    f"{name} {value:.4g} on the target, above the {reading.maximum:g} allowed",
                )
            )
        else:
            results.append(
                (
                    Outcome.PASS,
                    f"{name} {value:.4g} on the target, within the {reading.maximum:g} allowed",
                )
            )
    if reading.max_increase is not None:
        results.append(_increase_of(reading, reading.max_increase))
    for worst in (Outcome.FAIL, Outcome.INCONCLUSIVE):
        texts = [text for outcome, text in results if outcome is worst]
        if texts:
            return worst, "; ".join(texts)
    return Outcome.PASS, "; ".join(text for _, text in results) or f"{name} {value:.4g}"


def _increase_of(reading: Reading, limit: float) -> tuple[Outcome, str]:
    """``max_increase``: the target's value against the baseline's (per invocation when
    the reading counts them)."""
    name, target, baseline = reading.label, reading.target, reading.baseline
    if baseline is None or target is None:
        return Outcome.INCONCLUSIVE, f"{name}: no baseline data to compare with"
    unit = ""
    if reading.target_invocations is not None and reading.baseline_invocations is not None:
        if not reading.target_invocations or not reading.baseline_invocations:
            return Outcome.INCONCLUSIVE, f"{name}: no invocations to count it per"
        target /= reading.target_invocations
        baseline /= reading.baseline_invocations
        unit = " per invocation"
    figures = f"{name}{unit} {target:.4g} on the target vs {baseline:.4g} on the baseline"
    # As a product: exact at the limit, and a zero baseline needs no division.
    if target > limit * baseline:
        return Outcome.FAIL, f"{figures}, above the {limit:g}x allowed"
    return Outcome.PASS, f"{figures}, within the {limit:g}x allowed"


# -- the window a step is judged by ---------------------------------------------
# Lambda's metrics have one-minute resolution; a window starts on a minute.
PERIOD_SECONDS = 60
# Before a step's first verdict: a whole minute of its own traffic, and about a
# minute more for Lambda to publish it.
DEFAULT_SETTLE_SECONDS = 120


@dataclass(frozen=True)
class Window:
    """The minutes a verdict covers: from ``start`` (on a minute) to ``end`` (now).

    ``period`` is the one CloudWatch period that spans it, in whole minutes, so
    that each query answers a single datapoint for the whole window.
    """

    start: datetime
    end: datetime

    @property
    def period(self) -> int:
        seconds = (self.end - self.start).total_seconds()
        return max(PERIOD_SECONDS, math.ceil(seconds / PERIOD_SECONDS) * PERIOD_SECONDS)


def window(shifted_at: datetime, now: datetime, settle_seconds: int) -> Window | str:
    """The window a step is judged by at ``now``, or why there is none yet.

    It starts at the first whole minute after the step's own shift, so that no
    minute of the step before (another weight, maybe another verdict) is counted,
    and ends now. There is none until ``settle_seconds`` have passed since the
    shift, nor before a whole minute of the step's own traffic.

    Shift at 10:00:20, settle 120 s: at 10:02:00 "settling: 20 s before the first
    verdict"; at 10:02:20 the window 10:01:00-10:02:20 (period 120 s).

    >>> at = datetime(2026, 12, 1, 10, 0, 20)
    >>> window(at, at + timedelta(seconds=100), 120)
    'settling: 20 s before the first verdict'
    >>> w = window(at, at + timedelta(seconds=120), 120)
    >>> w.start.time(), w.end.time(), w.period
    (datetime.time(10, 1), datetime.time(10, 2, 20), 120)
    >>> print(window(at, at + timedelta(seconds=50), 0))
    settling: no whole minute of this step's own traffic yet
    """
    left = settle_seconds - (now - shifted_at).total_seconds()
    if left > 0:
        return f"settling: {human(math.ceil(left))} before the first verdict"
    start = shifted_at.replace(second=0, microsecond=0)
    if start < shifted_at:
        start += timedelta(seconds=PERIOD_SECONDS)
    if (now - start).total_seconds() < PERIOD_SECONDS:
        return "settling: no whole minute of this step's own traffic yet"
    return Window(start, now)


def unjudged(reason: str) -> Verdict:
    """The verdict when there is nothing to judge (settling, partial figures): inconclusive,
    saying why."""
    return _verdict(Outcome.INCONCLUSIVE, reason, Sample(0, 0), None)


# Below this a p-value is recorded as 0 (DynamoDB refuses numbers under 1e-130).
SMALLEST_P_VALUE_SHOWN = 1e-100


def verdict_json(verdict: Verdict, dry_run: bool = False) -> dict[str, Any]:
    """The verdict as the record, the status events and the console show it.

    Numbers rounded for people (rates to 0.01 percent, p-values to 4 significant
    digits, and 0 below 1e-100); an infinite p99 ratio (a zero baseline p99) is
    left out.
    """

    def rate(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    shown: dict[str, Any] = {
        "outcome": verdict.outcome.value,
        "reason": verdict.reason,
        "target": {
            "invocations": verdict.target_invocations,
            "errors": verdict.target_errors,
            "errorRate": rate(verdict.target_error_rate),
            "p99Ms": rate(verdict.target_p99_ms),
        },
    }
    if verdict.baseline_invocations is not None:
        shown["baseline"] = {
            "invocations": verdict.baseline_invocations,
            "errors": verdict.baseline_errors,
            "errorRate": rate(verdict.baseline_error_rate),
            "p99Ms": rate(verdict.baseline_p99_ms),
        }
    if verdict.p_value is not None:
        # DynamoDB keeps numbers down to 1e-130: a smaller p-value is shown as 0.
        p = float(f"{verdict.p_value:.4g}")
        shown["pValue"] = p if p >= SMALLEST_P_VALUE_SHOWN else 0.0
    if verdict.p99_ratio is not None and math.isfinite(verdict.p99_ratio):
        shown["p99Ratio"] = round(verdict.p99_ratio, 3)
    if dry_run:
        shown["dryRun"] = True
    return shown
