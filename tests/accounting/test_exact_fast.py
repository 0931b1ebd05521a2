"""The closed-form accountant of one subsampled-Gaussian step and of Gaussians (issue 17).

References used here, none produced by fltheory:

* an independent 50-digit mpmath computation of the exact profile: the crossing of the privacy
  loss ``log p(x) - log q(x)`` (mixture densities written out, root by Illinois iteration) and
  :math:`\\delta(\\varepsilon) = P(S) - e^{\\varepsilon} Q(S)` from ``mpmath.ncdf``, then
  ε(δ) by a second root find, for every direction of the relation (the worst counts);
* the intervals of the previous implementation (fltheory main at 7e176c5: bracketed crossing,
  brentq on the certified bounds), recorded below: both are certified, so they must overlap;
* dp-accounting 0.6.0's PLD accountant (pessimistic, value_discretization_interval = 1e-4),
  run here.
"""

import math

import dp_accounting
import mpmath as mp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fltheory.accounting import _exact, delta, dp_sgd, epsilon

_MP = mp.MPContext()
_MP.dps = 50


# ---------------------------------------------------------------------------------------------
# independent reference (mpmath, 50 digits)
# ---------------------------------------------------------------------------------------------
def _illinois(f, a, b, fa, fb, rtol):
    side = 0
    for _ in range(400):
        c = (a * fb - b * fa) / (fb - fa)
        if not min(a, b) < c < max(a, b):
            c = (a + b) / 2
        fc = f(c)
        if fc == 0:
            return c, c
        if (fc > 0) == (fa > 0):
            a, fa = c, fc
            if side == -1:
                fb /= 2
            side = -1
        else:
            b, fb = c, fc
            if side == 1:
                fa /= 2
            side = 1
        if abs(b - a) <= rtol * max(abs(a), abs(b)) + _MP.mpf(10) ** -300:
            break
    return a, b


def _ref_pairs(q, z, rel):
    """Each direction as (P means, P weights, Q means, Q weights, increasing), std z, clip 1."""
    m, one = _MP.mpf, _MP.mpf(1)
    q = m(q)
    if q >= 1:
        s = m(2) if rel == "replace_one" else one
        return [([s], [one], [m(0)], [one], True)]
    mix = ([m(0), one], [1 - q, q])
    if rel == "add_remove":
        return [(*mix, [m(0)], [one], True), ([m(0)], [one], *mix, False)]
    return [(*mix, [m(0), -one], [1 - q, q], True)]


def _ref_delta(pair, z, eps):
    pm, pw, qm, qw, inc = pair
    z, eps = _MP.mpf(z), _MP.mpf(eps)
    sgn = 1 if inc else -1

    def dens(ms, ws, x):
        return sum(w * _MP.exp(-(x - mu) ** 2 / (2 * z * z)) for mu, w in zip(ms, ws))

    def loss(x):                                  # increasing in x after the mirror
        return _MP.log(dens(pm, pw, sgn * x)) - _MP.log(dens(qm, qw, sgn * x))

    if eps >= loss(_MP.mpf(10) ** 8):
        return _MP.mpf(0)
    a, b = _MP.mpf(-1), _MP.mpf(1)
    while loss(a) > eps:
        a *= 2
    while loss(b) < eps:
        b *= 2
    x1, x2 = _illinois(lambda x: loss(x) - eps, a, b, loss(a) - eps, loss(b) - eps,
                       _MP.mpf(10) ** -45)
    t = (x1 + x2) / 2

    def tail(ms, ws):
        return sum(w * _MP.ncdf((sgn * mu - t) / z) for mu, w in zip(ms, ws))

    return tail(pm, pw) - _MP.exp(eps) * tail(qm, qw)


def _ref_epsilon(q, z, d, rel):
    d = _MP.mpf(d)
    best = _MP.mpf(0)
    for pair in _ref_pairs(q, z, rel):
        def f(e, pair=pair):
            return _ref_delta(pair, z, e) - d

        f0 = f(0)
        if f0 <= 0:
            continue
        b = _MP.mpf(1)
        while f(b) > 0:
            b *= 2
        lo, hi = _illinois(f, _MP.mpf(0), b, f0, f(b), _MP.mpf(10) ** -30)
        best = max(best, (lo + hi) / 2)
    return best


# (q, z, delta, relation, lower, upper of fltheory main at 7e176c5)
CASES = [
    (1e-08, 3, 1e-15, 'add_remove', 3.991083003289085e-08, 3.9976297827593044e-08),
    (1e-08, 0.5, 1e-15, 'replace_one', 0.001483197531303218, 0.0014831976481226624),
    (1e-08, 0.1, 1e-15, 'replace_one', 82.76852858704571, 82.76852858755946),
    (1e-08, 19.7, 1e-15, 'add_remove', 2.4407848208323615e-09, 3.896438567940568e-09),
    (1e-06, 1, 1e-08, 'add_remove', 9.153157262797013e-06, 9.153535277159052e-06),
    (1e-06, 3, 1e-08, 'replace_one', 1.2492608771895614e-06, 1.2500883417802148e-06),
    (1e-06, 100, 1e-15, 'replace_one', 1.0028923604978022e-07, 1.2120331726346173e-07),
    (4e-05, 19.7, 1e-08, 'add_remove', 4.764404297269449e-06, 4.764734359661423e-06),
    (4e-05, 1, 1e-15, 'replace_one', 0.03403187244288848, 0.034031872569158565),
    (4e-05, 19.7, 1e-15, 'add_remove', 1.3801812217549737e-05, 1.3820654885925706e-05),
    (0.001, 1, 1e-15, 'add_remove', 0.8717102791748611, 0.8717102793166477),
    (0.001, 0.5, 1e-15, 'replace_one', 8.734531945226205, 8.734531945407912),
    (0.001, 19.7, 1e-15, 'replace_one', 0.0006638196503315019, 0.0006638200358454902),
    (0.003, 2.0, 1e-12, 'add_remove', 0.055771876329969806, 0.0557718764269281),
    (0.01, 3, 0.001, 'add_remove', 0.0008368875401121005, 0.0008368875471479899),
    (0.01, 1, 1e-05, 'add_remove', 0.19945044779383608, 0.19945044783401272),
    (0.01, 19.7, 1e-08, 'replace_one', 0.004012675885116334, 0.004012675930167204),
    (0.02, 0.7, 1e-06, 'replace_one', 2.311373543577936, 2.311373543644911),
    (0.1, 0.1, 1e-08, 'replace_one', 98.99198474366024, 98.99198474417726),
    (0.1, 19.7, 0.001, 'replace_one', 0.009267426315259456, 0.009267426324859957),
    (0.1, 3, 1e-15, 'add_remove', 0.7316544834098662, 0.7316544835458971),
    (0.5, 1, 0.001, 'add_remove', 2.2720835791409106, 2.2720835791783816),
    (0.5, 0.5, 1e-15, 'replace_one', 17.304425470699833, 17.304425470915596),
    (0.5, 100, 0.001, 'add_remove', 0.002475418394151377, 0.002475418401579179),
    (0.99, 19.7, 0.001, 'add_remove', 0.08459869792133573, 0.08459869793686235),
    (0.99, 0.5, 0.001, 'add_remove', 7.5650670419096295, 7.565067041974027),
    (0.99, 0.1, 0.001, 'replace_one', 84.59768199052623, 84.59768199091924),
    (0.99, 0.1, 1e-15, 'add_remove', 128.6555301724312, 128.65553017313977),
    (1.0, 0.5, 0.001, 'replace_one', 19.624120567417567, 19.624120567539293),
    (1.0, 0.1, 1e-15, 'add_remove', 128.67807326804075, 128.6780732687494),
    (1.0, 19.7, 1e-08, 'add_remove', 0.24237889970768714, 0.24237889976967608),
    (1.0, 100, 1e-15, 'replace_one', 0.14361639763972486, 0.1436163977637529),
]


@pytest.mark.parametrize("q, z, d, rel, old_lo, old_up", CASES)
def test_interval_contains_the_mpmath_reference_and_is_tight(q, z, d, rel, old_lo, old_up):
    g = epsilon(dp_sgd(q, z, 1), d, neighboring=rel)
    assert g.upper_method.startswith("exact")
    ref = _ref_epsilon(q, z, d, rel)
    assert ref > 0
    assert _MP.mpf(g.epsilon_lower) <= ref <= _MP.mpf(g.epsilon)
    assert (g.epsilon - g.epsilon_lower) / g.epsilon <= 1e-10
    # both implementations are certified: their intervals must overlap
    assert max(g.epsilon_lower, old_lo) <= min(g.epsilon, old_up)


@pytest.mark.parametrize("q, z, d", [(4e-05, 19.7, 1e-08), (1e-08, 19.7, 1e-15),
                                     (1e-06, 1, 1e-08)])
def test_a_direction_certified_below_delta_at_the_root_is_not_searched(monkeypatch, q, z, d):
    """Tiny sampling rates under add/remove: the remove direction's root r is found first; the
    add direction's certified δ at r is already below δ, so its root is no larger and it is not
    searched.  The interval still contains the 50-digit reference (both directions)."""
    calls = []
    orig = _exact._HalfLinePair.solve

    def spy(self, log_delta):
        calls.append(self.kind)
        return orig(self, log_delta)

    monkeypatch.setattr(_exact._HalfLinePair, "solve", spy)
    g = epsilon(dp_sgd(q, z, 1), d, neighboring="add_remove")
    assert calls == ["remove"]
    ref = _ref_epsilon(q, z, d, "add_remove")
    assert _MP.mpf(g.epsilon_lower) <= ref <= _MP.mpf(g.epsilon)


@pytest.mark.parametrize("q, z, d, rel", [(c[0], c[1], c[2], c[3]) for c in CASES[::3]])
@pytest.mark.parametrize("factor", [0.5, 2.0])
def test_delta_interval_contains_the_mpmath_reference(q, z, d, rel, factor):
    e = factor * epsilon(dp_sgd(q, z, 1), d, neighboring=rel).epsilon
    g = delta(dp_sgd(q, z, 1), e, neighboring=rel)
    ref = max(_ref_delta(p, z, e) for p in _ref_pairs(q, z, rel))
    assert _MP.mpf(g.delta_lower) <= ref <= _MP.mpf(g.delta)
    assert g.delta - g.delta_lower <= 1e-8 * g.delta
    assert g.upper_method.startswith("exact")


def test_epsilon_zero_where_delta_exceeds_the_total_variation():
    # TV of one step = q (2 Phi(1 / (2 z)) - 1) (add/remove), by mpmath
    q, z = 1e-3, 3.0
    tv = _MP.mpf(q) * (2 * _MP.ncdf(_MP.mpf(1) / (2 * z)) - 1)
    g = epsilon(dp_sgd(q, z, 1), float(tv * (1 + _MP.mpf(10) ** -9)))
    assert g.epsilon == 0.0 and g.epsilon_lower == 0.0
    g = epsilon(dp_sgd(q, z, 1), float(tv * (1 - _MP.mpf(10) ** -6)))
    assert g.epsilon_lower > 0


@pytest.mark.parametrize("rel, s", [("add_remove", 1), ("replace_one", 2)])
def test_zero_epsilon_of_a_composition_uses_the_summed_total_variation(rel, s):
    # two different steps: the PLD is not a closed form, but sum_i TV_i <= delta decides eps = 0
    ev = dp_accounting.ComposedDpEvent([dp_sgd(2e-5, 10.0, 3), dp_sgd(1e-5, 20.0, 5)])
    tv = sum(_MP.mpf(c) * _MP.mpf(q) * (2 * _MP.ncdf(_MP.mpf(s) / (2 * z)) - 1)
             for q, z, c in [(2e-5, 10.0, 3), (1e-5, 20.0, 5)])
    g = epsilon(ev, float(tv * (1 + _MP.mpf(10) ** -9)), neighboring=rel)
    assert g.epsilon == 0.0 and g.upper_method == "exact (total variation)"
    # below the sum the shortcut must not answer (the composition's own TV is smaller than the
    # sum, so epsilon may still be 0 there, but only the PLD can say so)
    g = epsilon(ev, float(tv * (1 - _MP.mpf(10) ** -6)), neighboring=rel)
    assert g.upper_method == "pld"


# ---------------------------------------------------------------------------------------------
# the premises of the allowance: the Gaussian masses are accurate far within 1e-12
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("y", [-40.0, -8.5, -1.0, -1e-3, 0.0, 0.3, 2.0, 5.5, 12.0, 26.0, 36.9,
                               37.0, 40.0, 150.0, 2500.0])
def test_log_tail_is_accurate(y):
    ref = _MP.log(_MP.ncdf(-_MP.mpf(y)))
    got = _exact._log_sf(y)  # noqa: SLF001
    # log rounding (2^-52 |log X|) is charged separately; the evaluation itself is within 1e-14
    assert abs(got - ref) <= 1e-14 + 2.0 ** -51 * abs(ref)


@pytest.mark.parametrize("c", [0.0, 1e-3, 0.4, 1.7, 3.0, 6.5, 30.0, 190.0, 1500.0])
@pytest.mark.parametrize("h", [1e-3, 5e-3, 0.05, 0.25, 0.5, 0.6, 2.5, 10.0, 3000.0])
def test_interval_mass_is_accurate_within_its_allowance(c, h):
    ref = _MP.log(_MP.ncdf(h - _MP.mpf(c)) - _MP.ncdf(-_MP.mpf(c) - h))    # c >= 0: the tails
    lm, rho = _exact._log_mass(c, h)  # noqa: SLF001
    # the allowance minus its 1e-12 floor must already cover the error (plus 1e-14): the floor
    # is then a margin of 100 on the evaluation
    assert abs(lm - ref) <= (rho - _exact._REL_FP) + 1e-14  # noqa: SLF001


# ---------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------
log_q = st.floats(-8.0, math.log10(0.99))
log_z = st.floats(-1.0, 2.0)
log_d = st.floats(-15.0, -3.0)
rels = st.sampled_from(["add_remove", "replace_one"])


def _eps(q, z, d, rel):
    g = epsilon(dp_sgd(q, z, 1), d, neighboring=rel)
    assert 0.0 <= g.epsilon_lower <= g.epsilon < math.inf
    return g


@settings(max_examples=60, deadline=None)
@given(log_q, log_z, log_d, rels, st.floats(1.001, 10.0))
def test_epsilon_grows_as_delta_falls(lq, lz, ld, rel, r):
    q, z, d = 10 ** lq, 10 ** lz, 10 ** ld
    assert _eps(q, z, d / r, rel).epsilon >= _eps(q, z, d, rel).epsilon_lower


@settings(max_examples=60, deadline=None)
@given(log_q, log_z, log_d, rels, st.floats(1.001, 10.0))
def test_epsilon_grows_with_q(lq, lz, ld, rel, r):
    q, z, d = 10 ** lq, 10 ** lz, 10 ** ld
    assert _eps(min(q * r, 1.0), z, d, rel).epsilon >= _eps(q, z, d, rel).epsilon_lower


@settings(max_examples=60, deadline=None)
@given(log_q, log_z, log_d, rels, st.floats(1.001, 10.0))
def test_epsilon_falls_with_z(lq, lz, ld, rel, r):
    q, z, d = 10 ** lq, 10 ** lz, 10 ** ld
    assert _eps(q, z * r, d, rel).epsilon_lower <= _eps(q, z, d, rel).epsilon


@settings(max_examples=15, deadline=None)
@given(log_q, log_z, log_d, rels)
def test_random_configurations_contain_the_mpmath_reference(lq, lz, ld, rel):
    q, z, d = 10 ** lq, 10 ** lz, 10 ** ld
    g = _eps(q, z, d, rel)
    ref = _ref_epsilon(q, z, d, rel)
    assert _MP.mpf(g.epsilon_lower) <= ref <= _MP.mpf(g.epsilon)
    # tight except where epsilon is ill-conditioned (delta close to delta(0), or to q)
    assert g.epsilon - g.epsilon_lower <= 1e-8 * g.epsilon + 1e-11


@pytest.mark.parametrize("mu, d", [(1e-3, 1e-15), (1.0, 1e-14), (20.0, 1e-300), (6325.0, 1e-8)])
def test_gaussian_profile_at_extremes(mu, d):
    # q = 1: one Gaussian of multiplier 1 / mu (add/remove); the reference is the same
    # closed form as the pair (N(1, z^2) vs N(0, z^2)) in mpmath
    g = epsilon(dp_accounting.GaussianDpEvent(1.0 / mu), d)
    ref = _ref_epsilon(1.0, 1.0 / mu, d, "add_remove")
    assert _MP.mpf(g.epsilon_lower) <= ref <= _MP.mpf(g.epsilon)
    assert g.epsilon - g.epsilon_lower <= 1e-11 * g.epsilon


# ---------------------------------------------------------------------------------------------
# dp-accounting (pessimistic PLD at 1e-4, run here)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("q, z, d, rel", [(4e-5, 19.7, 1e-8, "add_remove"),
                                          (1e-3, 3.0, 1e-10, "replace_one"),
                                          (1e-6, 19.7, 1e-8, "add_remove"),
                                          (0.02, 5.0, 1e-6, "add_remove")])
def test_agrees_with_dp_accounting_up_to_its_discretisation(q, z, d, rel):
    nr = (dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE if rel == "add_remove"
          else dp_accounting.NeighboringRelation.REPLACE_ONE)
    acc = dp_accounting.pld.PLDAccountant(nr, value_discretization_interval=1e-4)
    acc.compose(dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z)))
    theirs = acc.get_epsilon(d)
    g = epsilon(dp_sgd(q, z, 1), d, neighboring=rel)
    # pessimistic rounding moves every loss up by at most one interval: theirs is within
    # [eps, eps + 1e-4] of the exact eps
    assert g.epsilon_lower - 1e-12 <= theirs <= g.epsilon + 1e-4 + 1e-12
