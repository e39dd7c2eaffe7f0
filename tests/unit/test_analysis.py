"""Table tests of the judgement (rollouts.analysis): thresholds, Fisher's test on
known counts, small samples, no data, the p99 rules; and its properties (hypothesis).

Every p-value is checked against one derived here: by hand, by enumerating every
way the window's invocations could split between the versions, or by summing the
hypergeometric tail in fractions.
"""

from __future__ import annotations

import doctest
import itertools
import math
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts import analysis
from rollouts.analysis import (
    EXACT_COUNTS,
    Outcome,
    Sample,
    Thresholds,
    fisher_p_value,
    judge,
)

PASS, FAIL, INCONCLUSIVE = Outcome.PASS, Outcome.FAIL, Outcome.INCONCLUSIVE
COMPARE = Thresholds(compare_to_baseline=True, min_invocations=50)


def tail(target: Sample, baseline: Sample) -> Fraction:
    """The one-sided Fisher p-value in fractions: the hypergeometric upper tail."""
    total = target.invocations + baseline.invocations
    errors = target.errors + baseline.errors
    draws = target.invocations
    ways = sum(
        math.comb(errors, k) * math.comb(total - errors, draws - k)
        for k in range(target.errors, min(errors, draws) + 1)
    )
    return Fraction(ways, math.comb(total, draws))


def enumerated(target: Sample, baseline: Sample) -> Fraction:
    """The same p-value by brute force: of every way to deal the window's invocations
    (the errors first) to the two versions, the share giving the target as many errors."""
    total = target.invocations + baseline.invocations
    errors = target.errors + baseline.errors
    deals = list(itertools.combinations(range(total), target.invocations))
    extreme = sum(1 for deal in deals if sum(1 for i in deal if i < errors) >= target.errors)
    return Fraction(extreme, len(deals))


# -- Fisher's test on known counts -------------------------------------------------


@pytest.mark.parametrize(
    ("target", "baseline", "expected"),
    [
        # Fisher's lady tasting tea: 3 of 4 cups right against 1 of 4.
        pytest.param(Sample(4, 3), Sample(4, 1), Fraction(17, 70), id="lady-tasting-tea"),
        # The one error lands on the target's 70 of 700 invocations: 1 in 10.
        pytest.param(Sample(70, 1), Sample(630, 0), Fraction(1, 10), id="one-error-of-700"),
        pytest.param(
            Sample(70, 2), Sample(630, 0), Fraction(70 * 69, 700 * 699), id="two-errors-of-700"
        ),
        pytest.param(
            Sample(70, 15),
            Sample(630, 0),
            Fraction(math.comb(70, 15), math.comb(700, 15)),
            id="issue-example-every-error-on-the-target",
        ),
        pytest.param(
            Sample(5, 5), Sample(5, 0), Fraction(1, math.comb(10, 5)), id="all-fail-vs-none"
        ),
        pytest.param(Sample(70, 0), Sample(630, 30), Fraction(1), id="no-target-errors"),
        pytest.param(Sample(70, 0), Sample(630, 0), Fraction(1), id="no-errors-at-all"),
        pytest.param(Sample(10, 10), Sample(10, 10), Fraction(1), id="everything-fails"),
        pytest.param(Sample(0, 0), Sample(630, 3), Fraction(1), id="no-target-invocations"),
    ],
)
def test_fisher_p_value_on_known_counts(
    target: Sample, baseline: Sample, expected: Fraction
) -> None:
    assert tail(target, baseline) == expected  # the helper agrees with the hand value
    assert fisher_p_value(target, baseline) == pytest.approx(float(expected), rel=1e-12)


@given(
    st.integers(0, 6).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))),
    st.integers(0, 6).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))),
)
@settings(max_examples=150, deadline=None)
def test_fisher_p_value_is_the_share_of_every_deal(
    target: tuple[int, int], baseline: tuple[int, int]
) -> None:
    t, b = Sample(*target), Sample(*baseline)
    assert fisher_p_value(t, b) == pytest.approx(float(enumerated(t, b)), rel=1e-12)


@pytest.mark.parametrize(
    ("target", "baseline"),
    [
        pytest.param(Sample(2_000, 30), Sample(18_000, 180), id="slightly-worse"),
        pytest.param(Sample(2_000, 20), Sample(18_000, 180), id="alike-the-complement"),
        pytest.param(Sample(2_000, 0), Sample(18_000, 180), id="no-target-errors"),
        pytest.param(Sample(500, 12), Sample(50_000, 500), id="small-target-beside-busy"),
        pytest.param(Sample(54_000, 600), Sample(6_000, 50), id="mostly-shifted"),
        pytest.param(Sample(3_000, 900), Sample(27_000, 135), id="thirty-vs-half-percent"),
        pytest.param(Sample(6_000, 3_000), Sample(6_000, 2_900), id="half-failing"),
    ],
)
def test_large_counts_stay_within_1e_8_of_the_exact_tail(target: Sample, baseline: Sample) -> None:
    assert target.invocations + baseline.invocations > EXACT_COUNTS  # the float sum
    exact = float(tail(target, baseline))
    p_value = fisher_p_value(target, baseline)
    if exact < 1e-300:
        assert p_value < 1e-300
    else:
        assert p_value == pytest.approx(exact, rel=1e-8)


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_the_float_sum_stays_within_1e_8_of_the_integer_sum(data: st.DataObject) -> None:
    total = data.draw(st.integers(1, 3_000), label="total")
    errors = data.draw(st.integers(0, total), label="errors")
    draws = data.draw(st.integers(0, total), label="draws")
    low, high = max(0, draws - (total - errors)), min(errors, draws)
    at_least = data.draw(st.integers(low, high), label="at_least")
    exact = analysis._tail_exact(total, errors, draws, at_least)
    if exact > 1e-300:
        assert analysis._tail_float(total, errors, draws, at_least) == pytest.approx(
            exact, rel=1e-8
        )


def test_a_z_test_would_call_one_error_worse() -> None:
    """Why an exact test: the two-proportion z-test calls 1 error in 70 against 0 in
    630 worse at 99%; Fisher's test finds one error no evidence (p = 0.1)."""
    target, baseline = Sample(70, 1), Sample(630, 0)
    pooled = 1 / 700
    z = (1 / 70) / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 630))
    z_p_value = 0.5 * math.erfc(z / math.sqrt(2))
    assert z_p_value < 0.01
    assert fisher_p_value(target, baseline) == pytest.approx(0.1)
    assert judge(target, baseline, COMPARE).outcome is PASS


@pytest.mark.parametrize(
    ("target_invocations", "baseline_invocations", "rate"),
    [
        pytest.param(50, 450, 0.02, id="10pct-canary-2pct-errors"),
        pytest.param(40, 160, 0.2, id="20pct-step-20pct-errors"),
        pytest.param(60, 60, 0.5, id="half-and-half-coin-flips"),
    ],
)
def test_a_target_erring_like_its_baseline_fails_at_most_1_pct_of_windows(
    target_invocations: int, baseline_invocations: int, rate: float
) -> None:
    """Exactly, over every window both versions could produce at the same error rate."""

    def binomial(n: int, k: int) -> float:
        return math.comb(n, k) * rate**k * (1 - rate) ** (n - k)

    failing = 0.0
    for baseline_errors in range(baseline_invocations + 1):
        weight = binomial(baseline_invocations, baseline_errors)
        if weight < 1e-15:
            continue
        baseline = Sample(baseline_invocations, baseline_errors)
        for target_errors in range(target_invocations + 1):
            target = Sample(target_invocations, target_errors)
            if judge(target, baseline, COMPARE).outcome is FAIL:
                failing += weight * binomial(target_invocations, target_errors)
    assert failing <= 0.01


# -- The verdict -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "baseline", "thresholds", "outcome", "reason"),
    [
        # No data, small samples: never a pass, never a fail.
        pytest.param(
            Sample(0, 0),
            Sample(630, 0),
            COMPARE,
            INCONCLUSIVE,
            "no target invocations",
            id="no-data",
        ),
        pytest.param(
            Sample(0, 0),
            None,
            Thresholds(),
            INCONCLUSIVE,
            "no target invocations",
            id="no-data-without-any-minimum",
        ),
        pytest.param(
            Sample(12, 12),
            Sample(630, 0),
            COMPARE,
            FAIL,
            "target 100.0% errors over 12 invocations vs baseline 0.0% over 630:"
            " worse at 99% confidence",
            id="a-small-sample-proven-bad-fails-at-any-count",
        ),
        pytest.param(
            Sample(12, 1),
            Sample(630, 6),
            COMPARE,
            INCONCLUSIVE,
            "target 12 invocations, fewer than the 50 needed",
            id="a-small-sample-not-shown-worse-is-no-pass",
        ),
        pytest.param(
            Sample(40, 40),
            None,
            Thresholds(max_error_rate=1, min_invocations=50),
            FAIL,
            "target 40 errors in 40 invocations, above the 1% allowed even over the 50 needed",
            id="errors-over-the-rate-even-over-the-minimum-fail",
        ),
        pytest.param(
            Sample(40, 0),
            None,
            Thresholds(max_error_rate=1, min_invocations=50),
            INCONCLUSIVE,
            "target 40 invocations, fewer than the 50 needed",
            id="no-errors-below-the-minimum-is-no-pass",
        ),
        pytest.param(
            Sample(20, 0),
            None,
            Thresholds(max_p99_duration_ms=100, min_invocations=50),
            INCONCLUSIVE,
            "target 20 invocations, fewer than the 50 needed",
            id="no-p99-judged-below-the-minimum",
        ),
        pytest.param(
            Sample(49, 0),
            Sample(630, 0),
            COMPARE,
            INCONCLUSIVE,
            "target 49 invocations, fewer than the 50 needed",
            id="small-clean-sample-is-not-a-pass",
        ),
        pytest.param(
            Sample(50, 0),
            Sample(630, 0),
            COMPARE,
            PASS,
            "target 0.0% errors over 50 invocations vs baseline 0.0% over 630: "
            "not worse at 99% confidence",
            id="exactly-the-minimum-is-judged",
        ),
        pytest.param(
            Sample(600, 30),
            Sample(6, 0),
            COMPARE,
            INCONCLUSIVE,
            "baseline 6 invocations, fewer than the 50 needed",
            id="small-baseline-does-not-pass-a-bad-target",
        ),
        pytest.param(
            Sample(100, 0),
            None,
            COMPARE,
            INCONCLUSIVE,
            "no baseline invocations to compare with",
            id="no-baseline",
        ),
        pytest.param(
            Sample(100, 0),
            Sample(0, 0),
            COMPARE,
            INCONCLUSIVE,
            "no baseline invocations to compare with",
            id="baseline-without-traffic",
        ),
        # maxErrorRate: the target's own rate, compared in counts.
        pytest.param(
            Sample(400, 10),
            None,
            Thresholds(max_error_rate=1),
            FAIL,
            "target 2.5% errors over 400 invocations, above the 1% allowed",
            id="error-rate-above",
        ),
        pytest.param(
            Sample(400, 4),
            None,
            Thresholds(max_error_rate=1),
            PASS,
            "target 1.0% errors over 400 invocations, within the 1% allowed",
            id="error-rate-at-the-limit",
        ),
        pytest.param(
            Sample(1000, 11),
            None,
            Thresholds(max_error_rate=1),
            FAIL,
            "target 1.1% errors over 1000 invocations, above the 1% allowed",
            id="error-rate-one-error-over",
        ),
        pytest.param(
            Sample(1000, 1),
            None,
            Thresholds(max_error_rate=0),
            FAIL,
            "target 0.1% errors over 1000 invocations, above the 0% allowed",
            id="zero-errors-allowed",
        ),
        # compareToBaseline: Fisher's test at the given confidence.
        pytest.param(
            Sample(70, 15),
            Sample(630, 0),
            COMPARE,
            FAIL,
            "target 21.4% errors over 70 invocations vs baseline 0.0% over 630: "
            "worse at 99% confidence",
            id="issue-example",
        ),
        pytest.param(
            Sample(100, 30),
            Sample(1000, 5),
            COMPARE,
            FAIL,
            "target 30.0% errors over 100 invocations vs baseline 0.5% over 1000: "
            "worse at 99% confidence",
            id="thirty-pct-failing-vs-half-pct",
        ),
        pytest.param(
            Sample(100, 2),
            Sample(1000, 20),
            COMPARE,
            PASS,
            "target 2.0% errors over 100 invocations vs baseline 2.0% over 1000: "
            "not worse at 99% confidence",
            id="noisy-baseline-healthy-target",
        ),
        pytest.param(
            Sample(100, 5),
            Sample(1000, 20),
            COMPARE,
            PASS,
            "target 5.0% errors over 100 invocations vs baseline 2.0% over 1000: "
            "not worse at 99% confidence",
            id="noisy-baseline-unlucky-target",
        ),
        pytest.param(
            Sample(70, 2),
            Sample(630, 0),
            COMPARE,
            FAIL,
            "target 2.9% errors over 70 invocations vs baseline 0.0% over 630: "
            "worse at 99% confidence",
            id="two-errors-vs-clean-at-99",
        ),
        pytest.param(
            Sample(70, 2),
            Sample(630, 0),
            Thresholds(compare_to_baseline=True, confidence=0.999, min_invocations=50),
            PASS,
            "target 2.9% errors over 70 invocations vs baseline 0.0% over 630: "
            "not worse at 99.9% confidence",
            id="two-errors-vs-clean-at-99.9",
        ),
        # maxP99DurationMs and maxDurationIncrease.
        pytest.param(
            Sample(400, 0, 1620.0),
            None,
            Thresholds(max_p99_duration_ms=1500),
            FAIL,
            "target p99 1620 ms, above the 1500 ms allowed",
            id="p99-above",
        ),
        pytest.param(
            Sample(400, 0, 1500.0),
            None,
            Thresholds(max_p99_duration_ms=1500),
            PASS,
            "target p99 1500 ms, within the 1500 ms allowed",
            id="p99-at-the-limit",
        ),
        pytest.param(
            Sample(400, 0),
            None,
            Thresholds(max_p99_duration_ms=1500),
            INCONCLUSIVE,
            "target p99 unknown",
            id="p99-unknown",
        ),
        pytest.param(
            Sample(400, 0, 900.0),
            Sample(3600, 0, 300.0),
            Thresholds(max_duration_increase=2),
            FAIL,
            "target p99 900 ms is 3.00 times baseline 300 ms, above the 2x allowed",
            id="p99-increase-above",
        ),
        pytest.param(
            Sample(400, 0, 600.0),
            Sample(3600, 0, 300.0),
            Thresholds(max_duration_increase=2),
            PASS,
            "target p99 600 ms is 2.00 times baseline 300 ms, within the 2x allowed",
            id="p99-increase-at-the-limit",
        ),
        pytest.param(
            Sample(400, 0, 330.0),
            Sample(3600, 0),
            Thresholds(max_duration_increase=1.5),
            INCONCLUSIVE,
            "baseline p99 unknown",
            id="p99-increase-baseline-unknown",
        ),
        pytest.param(
            Sample(400, 0),
            Sample(3600, 0, 300.0),
            Thresholds(max_duration_increase=1.5),
            INCONCLUSIVE,
            "target p99 unknown",
            id="p99-increase-target-unknown",
        ),
        pytest.param(
            Sample(400, 0, 330.0),
            None,
            Thresholds(max_duration_increase=1.5),
            INCONCLUSIVE,
            "no baseline invocations to compare with",
            id="p99-increase-without-baseline",
        ),
        # Several checks: a fail beats an unknown, an unknown beats a pass.
        pytest.param(
            Sample(400, 40, 2000.0),
            Sample(3600, 36, 300.0),
            Thresholds(
                max_error_rate=5,
                compare_to_baseline=True,
                max_p99_duration_ms=1500,
                max_duration_increase=2,
            ),
            FAIL,
            "target 10.0% errors over 400 invocations, above the 5% allowed; "
            "target 10.0% errors over 400 invocations vs baseline 1.0% over 3600: "
            "worse at 99% confidence; target p99 2000 ms, above the 1500 ms allowed; "
            "target p99 2000 ms is 6.67 times baseline 300 ms, above the 2x allowed",
            id="every-check-fails",
        ),
        pytest.param(
            Sample(400, 40),
            None,
            Thresholds(max_error_rate=5, compare_to_baseline=True, max_p99_duration_ms=1500),
            FAIL,
            "target 10.0% errors over 400 invocations, above the 5% allowed",
            id="a-fail-beats-unknowns",
        ),
        pytest.param(
            Sample(400, 0),
            Sample(3600, 0),
            Thresholds(max_error_rate=5, max_p99_duration_ms=1500),
            INCONCLUSIVE,
            "target p99 unknown",
            id="an-unknown-beats-a-pass",
        ),
        pytest.param(
            Sample(400, 4, 320.0),
            Sample(3600, 36, 300.0),
            Thresholds(
                max_error_rate=5,
                compare_to_baseline=True,
                max_p99_duration_ms=1500,
                max_duration_increase=2,
            ),
            PASS,
            "target 1.0% errors over 400 invocations, within the 5% allowed; "
            "target 1.0% errors over 400 invocations vs baseline 1.0% over 3600: "
            "not worse at 99% confidence; target p99 320 ms, within the 1500 ms allowed; "
            "target p99 320 ms is 1.07 times baseline 300 ms, within the 2x allowed",
            id="every-check-passes",
        ),
        pytest.param(
            Sample(400, 2),
            None,
            Thresholds(),
            PASS,
            "target 0.5% errors over 400 invocations: no check set",
            id="no-check-set",
        ),
    ],
)
def test_judge(
    target: Sample,
    baseline: Sample | None,
    thresholds: Thresholds,
    outcome: Outcome,
    reason: str,
) -> None:
    verdict = judge(target, baseline, thresholds)
    assert (verdict.outcome, verdict.reason) == (outcome, reason)


def test_a_verdict_keeps_the_figures_it_used() -> None:
    thresholds = Thresholds(compare_to_baseline=True, max_duration_increase=2)
    target, baseline = Sample(70, 15, 900.0), Sample(630, 0, 300.0)
    verdict = judge(target, baseline, thresholds)
    assert verdict.outcome == "fail"  # the record and the events carry the plain word
    assert (verdict.target_invocations, verdict.target_errors) == (70, 15)
    assert verdict.target_error_rate == pytest.approx(100 * 15 / 70)
    assert (verdict.baseline_invocations, verdict.baseline_errors) == (630, 0)
    assert verdict.baseline_error_rate == 0.0
    assert (verdict.target_p99_ms, verdict.baseline_p99_ms) == (900.0, 300.0)
    assert verdict.p_value == pytest.approx(float(tail(target, baseline)))
    assert verdict.p99_ratio == pytest.approx(3.0)


def test_a_verdict_without_a_baseline_says_so_in_its_figures() -> None:
    verdict = judge(Sample(0, 0), None, Thresholds())
    assert verdict.target_error_rate is None
    assert verdict.baseline_invocations is None
    assert verdict.baseline_error_rate is None
    assert verdict.p_value is None


@pytest.mark.parametrize(
    ("build", "field"),
    [
        pytest.param(lambda: Sample(-1, 0), "invocations", id="negative-invocations"),
        pytest.param(lambda: Sample(10, 11), "errors", id="more-errors-than-invocations"),
        pytest.param(lambda: Sample(10, -1), "errors", id="negative-errors"),
        pytest.param(lambda: Sample(10, 0, math.nan), "p99_ms", id="nan-p99"),
        pytest.param(lambda: Thresholds(max_error_rate=101), "maxErrorRate", id="rate-over-100"),
        pytest.param(lambda: Thresholds(confidence=1.0), "confidence", id="certainty"),
        pytest.param(lambda: Thresholds(confidence=0), "confidence", id="no-confidence"),
        pytest.param(lambda: Thresholds(max_p99_duration_ms=0), "maxP99DurationMs", id="p99-0"),
        pytest.param(
            lambda: Thresholds(max_duration_increase=-1), "maxDurationIncrease", id="ratio-neg"
        ),
        pytest.param(lambda: Thresholds(min_invocations=-1), "minInvocations", id="min-neg"),
    ],
)
def test_nonsense_is_refused_naming_the_field(build: Callable[[], object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        build()


def test_the_docstring_examples_hold() -> None:
    results = doctest.testmod(analysis)
    assert results.attempted > 0
    assert results.failed == 0


# -- Properties --------------------------------------------------------------------

p99s = st.none() | st.floats(1, 5_000)
thresholds_strategy = st.builds(
    Thresholds,
    max_error_rate=st.none() | st.floats(0, 100),
    compare_to_baseline=st.booleans(),
    confidence=st.sampled_from([0.9, 0.95, 0.99, 0.999]),
    max_p99_duration_ms=st.none() | st.floats(1, 5_000),
    max_duration_increase=st.none() | st.floats(0.5, 5),
    min_invocations=st.integers(0, 200),
)


def samples(most: int) -> st.SearchStrategy[Sample]:
    return st.integers(0, most).flatmap(
        lambda n: st.builds(Sample, st.just(n), st.integers(0, n), p99s)
    )


@given(samples(3_000), samples(20_000), thresholds_strategy)
@settings(max_examples=300, deadline=None)
def test_more_target_errors_never_turn_a_fail_into_a_pass(
    target: Sample, baseline: Sample, thresholds: Thresholds
) -> None:
    if target.errors == target.invocations:
        return
    worse = Sample(target.invocations, target.errors + 1, target.p99_ms)
    before = judge(target, baseline, thresholds).outcome
    after = judge(worse, baseline, thresholds).outcome
    assert after in (before, FAIL)


@given(samples(3_000), samples(20_000), thresholds_strategy)
@settings(max_examples=300, deadline=None)
def test_more_baseline_errors_never_fail_a_target_that_did_not_fail(
    target: Sample, baseline: Sample, thresholds: Thresholds
) -> None:
    if baseline.errors == baseline.invocations:
        return
    noisier = Sample(baseline.invocations, baseline.errors + 1, baseline.p99_ms)
    before = judge(target, baseline, thresholds).outcome
    after = judge(target, noisier, thresholds).outcome
    assert before is FAIL or after is not FAIL


@given(samples(2_000), st.integers(1, 9))
@settings(max_examples=200, deadline=None)
def test_a_target_erring_exactly_like_its_baseline_is_never_worse(
    target: Sample, times: int
) -> None:
    baseline = Sample(target.invocations * times, target.errors * times)
    p_value = fisher_p_value(target, baseline)
    assert 0.5 <= p_value <= 1.0
