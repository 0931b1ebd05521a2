"""Audit statistics: Clopper-Pearson, hypothesis-test / GDP / one-run bounds, ROC utilities.

References are independent: scipy's exact binomial interval, closed forms, the PLD accountant
(for the GDP curve of the full-batch Gaussian mechanism), scikit-learn's AUC, and Monte Carlo
checks that a bound claimed at confidence 1 - beta fails at most about beta of the time.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from fltheory.audit import stats as S


# --------------------------------------------------------------------------------------------------
# Clopper-Pearson
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (57, 200), (1, 1000)])
def test_clopper_pearson_matches_scipy_exact_interval(k, n):
    lo, hi = S.clopper_pearson(k, n, 0.9)
    ref = sps.binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact")
    assert lo == pytest.approx(ref.low, abs=1e-12)
    assert hi == pytest.approx(ref.high, abs=1e-12)


def test_clopper_pearson_one_sided_and_closed_forms():
    # k = 0: upper = 1 - alpha^(1/n); k = n: lower = alpha^(1/n)
    upper = pytest.approx(1 - 0.05 ** (1 / 50))
    assert S.clopper_pearson(0, 50, 0.95, side="upper") == (0.0, upper)
    assert S.clopper_pearson(50, 50, 0.95, side="lower") == (pytest.approx(0.05 ** (1 / 50)), 1.0)
    lo, hi = S.clopper_pearson([0, 5], [10, 10], side="lower")
    assert lo[0] == 0.0 and np.all(hi == 1.0)


def test_clopper_pearson_coverage_monte_carlo():
    rng = np.random.default_rng(0)
    p, n = 0.07, 60
    k = rng.binomial(n, p, size=4000)
    lo, hi = S.clopper_pearson(k, np.full_like(k, n), 0.9)
    cover = np.mean((lo <= p) & (p <= hi))
    assert cover >= 0.9  # exact intervals are conservative


@pytest.mark.parametrize("bad", [dict(successes=-1, trials=5), dict(successes=6, trials=5),
                                 dict(successes=1.5, trials=5), dict(successes=1, trials=0)])
def test_clopper_pearson_rejects_bad_counts(bad):
    with pytest.raises(ValueError):
        S.clopper_pearson(**bad)


def test_clopper_pearson_rejects_bad_confidence():
    with pytest.raises(ValueError, match="confidence must be in"):
        S.clopper_pearson(1, 5, 1.0)


# --------------------------------------------------------------------------------------------------
# Hypothesis-test bound
# --------------------------------------------------------------------------------------------------
def test_epsilon_lower_bound_formula():
    b = S.epsilon_lower_bound(900, 1000, 20, 1000, delta=1e-5, confidence=0.9)
    tpr_lb = S.clopper_pearson(900, 1000, 0.95, side="lower")[0]
    fpr_ub = S.clopper_pearson(20, 1000, 0.95, side="upper")[1]
    assert b.epsilon == pytest.approx(math.log((tpr_lb - 1e-5) / fpr_ub))
    assert b.method == "hypothesis_test" and b.confidence == 0.9 and "Jagielski" in b.reference


def test_epsilon_lower_bound_zero_without_signal_and_monotone():
    assert S.epsilon_lower_bound(500, 1000, 500, 1000, delta=1e-5).epsilon == 0.0
    eps = [S.epsilon_lower_bound(900, 1000, fp, 1000, delta=1e-5).epsilon for fp in (0, 5, 50)]
    assert eps[0] > eps[1] > eps[2] > 0
    # a large delta swallows the true-positive rate
    assert S.epsilon_lower_bound(10, 1000, 0, 1000, delta=0.2).epsilon == 0.0


def test_epsilon_lower_bound_valid_for_randomized_response():
    """eps-DP randomized response: the bound at 90 % must exceed eps rarely (<= ~10 %)."""
    rng = np.random.default_rng(3)
    eps = 1.0
    p = math.exp(eps) / (1 + math.exp(eps))
    n = 300
    over = 0
    for _ in range(200):
        tp = rng.binomial(n, p)
        fp = rng.binomial(n, 1 - p)
        over += S.epsilon_lower_bound(tp, n, fp, n, delta=0.0, confidence=0.9).epsilon > eps
    assert over <= 20


# --------------------------------------------------------------------------------------------------
# Gaussian DP
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("z,T", [(1.0, 1), (2.0, 4), (4.0, 4), (3.0, 1)])
def test_gdp_epsilon_matches_accountant_for_full_batch_gaussian(z, T):
    from fltheory.accounting import dp_sgd, epsilon

    g = epsilon(dp_sgd(1.0, z, T), 1e-5)
    e = S.gdp_epsilon(math.sqrt(T) / z, 1e-5)
    assert g.epsilon_lower - 1e-6 <= e <= g.epsilon + 1e-6


def test_gdp_round_trips_and_limits():
    for mu in (0.1, 0.5, 1.0, 3.0, 10.0):
        e = S.gdp_epsilon(mu, 1e-6)
        assert S.gdp_delta(e, mu) == pytest.approx(1e-6, rel=1e-6)
        assert S.gdp_mu(e, 1e-6) == pytest.approx(mu, rel=1e-6)
    assert S.gdp_epsilon(1e-5, 1e-5) == 0.0  # delta(0) = 2 Phi(mu/2) - 1 < delta
    assert S.gdp_epsilon(1e-3, 1e-5) > 0.0
    assert S.gdp_delta(0.0, 1.0) == pytest.approx(2 * sps.norm.cdf(0.5) - 1)
    assert np.all(np.isfinite(S.gdp_delta(np.array([0.0, 50.0, 500.0]), 40.0)))
    with pytest.raises(ValueError, match="mu"):
        S.gdp_delta(1.0, -1.0)


def test_gdp_mu_lower_bound_formula_and_validity():
    fn, fp, n = 300, 310, 1000
    mu = S.gdp_mu_lower_bound(fn, n, fp, n, confidence=0.9)
    fpr_ub = S.clopper_pearson(fp, n, 0.95, side="upper")[1]
    fnr_ub = S.clopper_pearson(fn, n, 0.95, side="upper")[1]
    assert mu == pytest.approx(sps.norm.ppf(1 - fpr_ub) - sps.norm.ppf(fnr_ub))
    # Monte Carlo: N(mu, 1) vs N(0, 1), threshold at mu/2; the bound should rarely exceed mu
    rng = np.random.default_rng(1)
    true_mu, over = 1.0, 0
    for _ in range(200):
        a = rng.normal(true_mu, 1, 500)
        b = rng.normal(0, 1, 500)
        over += S.gdp_mu_lower_bound(int((a < 0.5).sum()), 500, int((b >= 0.5).sum()), 500,
                                     confidence=0.9) > true_mu
    assert over <= 20


# --------------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------------
def test_one_run_cap_m1000_all_correct():
    """m = 1000 canaries, all guessed correctly: about 5.78 (the documented cap), or below."""
    b = S.one_run_lower_bound(1000, 1000, 1000, delta=1e-5)
    assert 5.7 < b.epsilon <= 5.79
    # delta = 0 has the closed form: Bin(r, p) >= r has probability p^r = beta
    b0 = S.one_run_lower_bound(1000, 1000, 1000, delta=0.0)
    q = 0.05 ** (1 / 1000)
    assert b0.epsilon == pytest.approx(math.log(q / (1 - q)), abs=1e-6)
    assert b.epsilon < b0.epsilon  # the delta correction costs something


def test_one_run_p_value_properties():
    base = S.one_run_p_value(1000, 200, 150, 1.0, 0.0)
    assert base == pytest.approx(sps.binom.sf(149, 200, math.exp(1) / (1 + math.exp(1))))
    assert S.one_run_p_value(1000, 200, 150, 1.0, 1e-5) >= base
    pv = [S.one_run_p_value(1000, 200, v, 1.0, 1e-5) for v in (120, 150, 180)]
    assert pv[0] > pv[1] > pv[2]
    assert S.one_run_p_value(1000, 200, 0, 1.0, 1e-5) == 1.0
    with pytest.raises(ValueError, match="v must be <= 200"):
        S.one_run_p_value(1000, 200, 201, 1.0, 1e-5)


def test_one_run_bound_valid_for_randomized_response():
    """Each guess correct w.p. e^eps/(1+e^eps): the 95 % bound should rarely exceed eps."""
    rng = np.random.default_rng(7)
    eps, m, over = 2.0, 500, 0
    p = math.exp(eps) / (1 + math.exp(eps))
    for _ in range(60):
        v = int(rng.binomial(m, p))
        over += S.one_run_lower_bound(m, m, v, delta=1e-5).epsilon > eps
    assert over <= 6


def test_one_run_guesses():
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0])
    inc = np.array([1, 1, 0, 1, 0, 0], bool)
    assert S.one_run_guesses(scores, inc, 2) == (2, 2)  # top 1 in, bottom 1 out
    assert S.one_run_guesses(scores, inc, 6) == (6, 4)
    assert S.one_run_guesses(scores, inc, 4, positive_fraction=1.0) == (4, 3)
    with pytest.raises(ValueError, match="guesses must be <= 6"):
        S.one_run_guesses(scores, inc, 7)


# --------------------------------------------------------------------------------------------------
# Threshold audits on scores
# --------------------------------------------------------------------------------------------------
def test_audit_scores_gaussian_mu_and_orientation():
    rng = np.random.default_rng(0)
    res = [S.audit_scores(rng.normal(1, 1, 1000), rng.normal(0, 1, 1000), delta=1e-5,
                          method="gdp", seed=s) for s in range(10)]
    assert all(r.mu <= 1.0 for r in res) and np.mean([r.mu for r in res]) > 0.6
    # narrow "in" scores: the lower tail (complementary inequality TNR <= e^eps FNR + delta)
    # separates best; narrow "out" scores: the upper tail (TPR <= e^eps FPR + delta)
    r = S.audit_scores(rng.normal(3, 0.3, 1000), rng.normal(0, 1, 1000), delta=1e-5)
    assert r.details["orientation"] == "below" and r.epsilon > 3
    assert r.details["evaluation_runs"] == 1000
    r = S.audit_scores(rng.normal(3, 1, 1000), rng.normal(0, 0.3, 1000), delta=1e-5)
    assert r.details["orientation"] == "above" and r.epsilon > 3


def test_audit_scores_is_reproducible_and_checks_input():
    rng = np.random.default_rng(0)
    a, b = rng.normal(2, 1, 200), rng.normal(0, 1, 200)
    assert S.audit_scores(a, b, delta=1e-5, seed=3) == S.audit_scores(a, b, delta=1e-5, seed=3)
    with pytest.raises(ValueError, match="scores_in must hold at least 4"):
        S.audit_scores([1.0, 2.0], b, delta=1e-5)
    with pytest.raises(ValueError, match="method must be one of"):
        S.audit_scores(a, b, delta=1e-5, method="bayes")


def test_mu_estimate_unbiased_and_se():
    rng = np.random.default_rng(2)
    est = np.array([S.mu_estimate(rng.normal(1.5, 1, 400), rng.normal(0, 1, 400))
                    for _ in range(200)])
    assert abs(est[:, 0].mean() - 1.5) < 0.02
    assert est[:, 1].mean() == pytest.approx(est[:, 0].std(), rel=0.2)


# --------------------------------------------------------------------------------------------------
# ROC
# --------------------------------------------------------------------------------------------------
def test_roc_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(y * 0.7, 1), 1)  # with ties
    assert S.roc_auc(s, y) == pytest.approx(roc_auc_score(y, s))


def test_tpr_at_fpr():
    s = np.arange(10.0)
    y = np.array([0, 0, 0, 0, 0, 1, 0, 1, 1, 1])
    r = S.tpr_at_fpr(s, y, 0.0)
    assert r["tpr"] == 0.75 and r["fpr"] == 0.0 and r["threshold"] == 7.0
    assert r["tpr_lower"] < 0.75 < r["tpr_upper"]
    assert S.tpr_at_fpr(s, y, 1.0)["tpr"] == 1.0
    with pytest.raises(ValueError, match="both members"):
        S.roc_auc([1.0, 2.0], [1, 1])
