"""Privacy from the randomness of compression: coordinate masks, quantizers, sign, finite mechanisms.

Compression randomness amplifies privacy only if it is (1) independent of the data, (2) hidden
from the adversary the guarantee is stated against, and (3) not revealed by the release.  The
builders here encode which of those hold:

* :func:`coordinate_sampled_gaussian` -- secret Poisson coordinate masks drawn independently
  for each protected unit (record or client) amplify like Poisson sampling (RDP, proved on the
  docs page); a per-client mask at record level, and shared/public masks, give none (a warning
  says why); fixed-size rand-k masks are refused (no sound bound is known).
* :func:`stochastic_quantizer` -- the 1-bit randomized quantizer, exact pure ε; plain unbiased
  stochastic rounding (:func:`stochastic_rounding`) is refused: it is not DP.
* :func:`sign_gaussian` -- ``sign(x + N(0, σ²))``: exact pure ε and PLD of the binary output,
  or the (looser) Gaussian bound it post-processes.
* :func:`finite_mechanism` / :func:`randomized_response` -- exact PLD and RDP of any mechanism
  with finitely many inputs and outputs, from the upper envelope of all neighbouring pairs.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import attr
import dp_accounting
import numpy as np
from scipy.special import log_ndtr

from fltheory._checks import (check_choice, check_int, check_positive, check_probability,
                              check_real)
from fltheory.accounting import _steps
from fltheory.accounting._guarantee import PrivacyGuarantee
from fltheory.accounting._lattice import EnvelopePair
from fltheory.accounting._warn import NoAmplificationWarning
from fltheory.accounting.scenarios import Param, Scenario, register_scenario

__all__ = ["coordinate_sampled_gaussian", "stochastic_quantizer", "stochastic_rounding",
           "sign_gaussian", "finite_mechanism", "randomized_response", "pure_epsilon",
           "CoordinateSampledGaussianDpEvent", "StochasticQuantizerDpEvent",
           "SignGaussianDpEvent", "FiniteMechanismDpEvent", "MASKS", "UNITS",
           "MaskedGaussianNoAmplificationDpEvent"]

MASKS = ("secret", "shared", "rand_k")

_REF_COORD = ("secret Poisson coordinate masks (idea: Chen, Song, Ozgur, Kairouz, NeurIPS 2023, "
              "arXiv:2304.01541); worst case 1-sparse by convexity of the subsampled-Gaussian "
              "RDP in the squared sensitivity (fltheory, 'Amplification in federated learning', "
              "Sec. compression); RDP: Mironov, Talwar, Zhang, arXiv:1908.10530")
_REF_FINITE = ("exact dominating pair of a finite mechanism: upper concave envelope of the "
               "neighbouring pairs' ROC curves (Zhu, Dong, Wang, AISTATS 2022, Sec. 3)")
_REF_SIGN = ("sign(x + N(0, sigma^2)), |x| <= clip: exact binary-output pair "
             "(Phi(c/sigma), Phi(-c/sigma)) (fltheory, docs Sec. compression)")
_REF_QUANT = ("1-bit randomized quantizer to +-B, P(+B) = (B + x) / (2B): exact pair, "
              "eps = log((B + c) / (B - c)) (fltheory, docs Sec. compression)")

_LOCAL_MSG = ("{what} is a local randomizer of one client's value: neighbouring inputs replace "
              "that value, so pass neighboring='replace_one' (got {rel!r}; there is no "
              "'absent' input to add or remove)")


# ---------------------------------------------------------------------------------------------
# Finite mechanisms
# ---------------------------------------------------------------------------------------------
def _as_rows(matrix) -> np.ndarray:
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] < 2 or m.shape[1] < 1:
        raise ValueError(f"matrix must be 2-D with at least 2 rows (inputs), got shape {m.shape}")
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise ValueError("matrix entries must be finite and >= 0")
    s = m.sum(axis=1)
    if np.any(np.abs(s - 1.0) > 1e-9):
        bad = int(np.argmax(np.abs(s - 1.0)))
        raise ValueError(f"matrix rows must sum to 1 (row {bad} sums to {s[bad]:.12g})")
    return m / s[:, None]


def _neighbour_pairs(k: int, neighbors) -> list[tuple[int, int]]:
    if neighbors is None:
        return [(i, j) for i in range(k) for j in range(k) if i != j]
    out = set()
    for pr in neighbors:
        i, j = (int(x) for x in pr)
        if not (0 <= i < k and 0 <= j < k) or i == j:
            raise ValueError(f"neighbors must be pairs of distinct row indices in [0, {k}), "
                             f"got {pr!r}")
        out.add((i, j))
        out.add((j, i))
    return sorted(out)


@attr.define(frozen=True)
class FiniteMechanismDpEvent(dp_accounting.DpEvent):
    """A mechanism with finitely many inputs (rows) and outputs (columns).

    ``matrix[x][y]`` is the probability of output ``y`` on input ``x``.  Neighbouring inputs:
    every pair of rows, or the pairs listed in ``neighbors``.

    Threat model
        The adversary sees the output; the mechanism's internal coins are secret.  Inputs are
        one client's value (local model), so the relation is replace-one.
    """

    matrix: tuple
    neighbors: tuple | None = None


class FiniteStep(_steps.Step):
    """One use of a finite mechanism (envelope of its neighbouring pairs)."""

    relations = ("replace_one",)
    reference = _REF_FINITE

    def __init__(self, rows: np.ndarray, pairs: list[tuple[int, int]], *, what: str,
                 reference: str | None = None):
        self.rows = rows
        self.pairs_idx = pairs
        self.what = what
        if reference is not None:
            self.reference = reference
        self._pair = None
        self._key = ("finite", rows.tobytes(), tuple(pairs))

    def key(self) -> tuple:
        return self._key

    def describe(self) -> str:
        return self.what

    def check_relation(self, relation: str) -> None:
        if relation != "replace_one":
            raise ValueError(_LOCAL_MSG.format(what=self.what, rel=relation))

    def _log_pairs(self):
        with np.errstate(divide="ignore"):
            lr = np.log(self.rows)
        return [(lr[i], lr[j]) for i, j in self.pairs_idx]

    def envelope(self) -> EnvelopePair:
        if self._pair is None:
            self._pair = EnvelopePair(self._log_pairs(), name=self.what)
        return self._pair

    def pairs(self, relation: str) -> dict:
        return {"replace": self.envelope()}

    def rdp(self, orders: np.ndarray, relation: str) -> np.ndarray:
        orders = np.asarray(orders, float)
        best = np.zeros(orders.shape)
        for lp, lq in self._log_pairs():
            if np.any(np.isfinite(lp) & ~np.isfinite(lq)):
                return np.full(orders.shape, np.inf)
            b = np.isfinite(lp) & np.isfinite(lq)
            a = orders[:, None]
            t = a * lp[b][None, :] + (1 - a) * lq[b][None, :]
            mx = t.max(axis=1, keepdims=True)
            s = (mx[:, 0] + np.log(np.exp(t - mx).sum(axis=1))) / (orders - 1.0)
            best = np.maximum(best, s)
        return best

    def pure_epsilon(self) -> float:
        eps = 0.0
        for lp, lq in self._log_pairs():
            fin = np.isfinite(lp)
            if np.any(fin & ~np.isfinite(lq)):
                return math.inf
            if np.any(fin):
                eps = max(eps, float(np.max(lp[fin] - lq[fin])))
        return eps


def _handle_finite(ev: FiniteMechanismDpEvent):
    rows = _as_rows(ev.matrix)
    pairs = _neighbour_pairs(rows.shape[0], ev.neighbors)
    return [(FiniteStep(rows, pairs, what=f"finite mechanism ({rows.shape[0]} inputs x "
                                           f"{rows.shape[1]} outputs)"), 1)]


_steps.register_event(FiniteMechanismDpEvent, _handle_finite)


def finite_mechanism(matrix, neighbors: Sequence[tuple[int, int]] | None = None):
    """Exact accounting of any mechanism with finitely many inputs and outputs.

    ``matrix[x, y] = Pr[M(x) = y]``.  Every neighbouring pair of inputs :math:`(x, x')`
    gives a pair :math:`(M(x), M(x'))`; the step is accounted with the single pair whose
    hockey-stick curve is the upper envelope of all of them,

    .. math::

        H_\\gamma(\\tilde P \\| \\tilde Q) = \\max_{x \\simeq x'} H_\\gamma(M(x) \\| M(x'))
        \\quad \\text{for all } \\gamma \\ge 0,

    built from the upper concave hull of the points :math:`(M(x')(S), M(x)(S))` of all
    likelihood-ratio sets :math:`S`.  When one neighbouring pair dominates the others (k-ary
    randomized response, the 1-bit quantizer, sign) the envelope *is* that pair and the PLD is
    exact; otherwise it is the tight bound for inputs that may change adaptively between uses.
    The certified lower bound always comes from a real pair (the one with the largest total
    variation).  RDP is the maximum over pairs of the Rényi divergence (exact).

    Use ``neighboring="replace_one"``: the input is one client's value.

    Parameters
    ----------
    matrix : array_like, shape (k, m)
        Row-stochastic matrix, ``k >= 2`` inputs, ``m`` outputs.
    neighbors : sequence of (int, int), optional
        Neighbouring input pairs (symmetrised); default: all pairs.

    Returns
    -------
    FiniteMechanismDpEvent

    References
    ----------
    .. [1] Y. Zhu, J. Dong, Y.-X. Wang. AISTATS 2022, Sec. 3 (dominating pairs; the envelope
       of tradeoff functions).
    .. [2] W.-N. Chen, P. Kairouz, A. Özgür. "Breaking the Communication-Privacy-Accuracy
       Trilemma." NeurIPS 2020, arXiv:2007.11707 (SQKR, a finite mechanism).

    Examples
    --------
    >>> import numpy as np
    >>> from fltheory.accounting import finite_mechanism, epsilon, pure_epsilon
    >>> e = np.exp(1.0)
    >>> rr = finite_mechanism([[e / (e + 1), 1 / (e + 1)], [1 / (e + 1), e / (e + 1)]])
    >>> round(pure_epsilon(rr).epsilon, 6)
    1.0
    >>> g = epsilon(rr, delta=1e-6, neighboring="replace_one")
    >>> g.epsilon_lower <= 1.0 <= g.epsilon + 1e-9
    True
    """
    rows = _as_rows(matrix)
    nb = None if neighbors is None else tuple(tuple(int(x) for x in p) for p in neighbors)
    if nb is not None:
        _neighbour_pairs(rows.shape[0], nb)
    return FiniteMechanismDpEvent(tuple(tuple(float(v) for v in r) for r in rows), nb)


def randomized_response(num_values: int, epsilon: float):
    """k-ary randomized response with parameter ε (a :func:`finite_mechanism`).

    Reports the true value with probability :math:`e^\\varepsilon/(e^\\varepsilon + k - 1)` and
    each other value with probability :math:`1/(e^\\varepsilon + k - 1)`.

    Parameters
    ----------
    num_values : int
        k ≥ 2.
    epsilon : float
        ε ≥ 0.

    Returns
    -------
    FiniteMechanismDpEvent

    References
    ----------
    .. [1] S. L. Warner. "Randomized Response." JASA 1965; P. Kairouz, S. Oh, P. Viswanath.
       "Extremal Mechanisms for Local Differential Privacy." NeurIPS 2014 (k-RR).

    Examples
    --------
    >>> from fltheory.accounting import randomized_response, pure_epsilon
    >>> round(pure_epsilon(randomized_response(4, 2.0)).epsilon, 9)
    2.0
    """
    k = check_int("num_values", num_values, minimum=2)
    eps = check_real("epsilon", epsilon)
    if eps < 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    e = math.exp(min(eps, 700.0))
    m = np.full((k, k), 1.0 / (e + k - 1))
    np.fill_diagonal(m, e / (e + k - 1))
    return finite_mechanism(m)


def pure_epsilon(event) -> PrivacyGuarantee:
    """Exact pure-DP ε (δ = 0) of finite mechanisms and their compositions.

    For a single finite mechanism, :math:`\\varepsilon = \\max_{x \\simeq x', y}
    \\log(M(x)_y / M(x')_y)` (``inf`` when an output is possible on one input and not on a
    neighbour); compositions add.

    Parameters
    ----------
    event : dp_accounting.DpEvent
        Built from :func:`finite_mechanism`, :func:`randomized_response`,
        :func:`stochastic_quantizer` or :func:`sign_gaussian` (``analysis="exact"``), possibly
        composed.

    Returns
    -------
    PrivacyGuarantee
        ``delta = 0``, ``method = "exact (pure DP)"``, ``neighboring = "replace_one"``.

    References
    ----------
    .. [1] C. Dwork, A. Roth. "The Algorithmic Foundations of Differential Privacy." 2014,
       Thm. 3.16 (basic composition of pure DP, tight for pure ε).

    Examples
    --------
    >>> from fltheory.accounting import sign_gaussian, pure_epsilon
    >>> round(pure_epsilon(sign_gaussian(clip=1.0, noise_std=1.0)).epsilon, 4)
    1.6683
    """
    steps = _steps.flatten(event)
    total = 0.0
    refs = []
    for s, c in steps:
        if not isinstance(s, FiniteStep):
            raise ValueError(f"pure_epsilon needs finite mechanisms, got {s.describe()}; use "
                             "epsilon(event, delta) for (epsilon, delta)-DP")
        total += c * s.pure_epsilon()
        if s.reference not in refs:
            refs.append(s.reference)
    return PrivacyGuarantee(total, 0.0, "exact (pure DP)", "replace_one", "; ".join(refs),
                            total, notes=("exact: attained by the worst neighbouring inputs",))


# ---------------------------------------------------------------------------------------------
# Quantizers and sign
# ---------------------------------------------------------------------------------------------
@attr.define(frozen=True)
class StochasticQuantizerDpEvent(dp_accounting.DpEvent):
    """1-bit randomized quantizer of ``x ∈ [-clip, clip]`` to ``±level`` (``level > clip``).

    ``P(+level) = (level + x) / (2 level)`` (unbiased).  Threat model: the quantizer's coin is
    the client's own and secret; the adversary sees the bit.
    """

    clip: float
    level: float


@attr.define(frozen=True)
class SignGaussianDpEvent(dp_accounting.DpEvent):
    """``sign(x + N(0, noise_std²))`` of a scalar ``x ∈ [-clip, clip]``.

    Threat model: the Gaussian noise is drawn by the client and never revealed; the adversary
    sees only the sign.
    """

    clip: float
    noise_std: float


_ROUNDING_MSG = (
    "unbiased stochastic rounding without added noise is not differentially private: an input "
    "on a grid point is reported exactly (e.g. x = clip is rounded to +clip with probability 1, "
    "x = -clip never), so epsilon is infinite for every delta < 1. Sound alternatives: a "
    "randomized quantizer with level > clip (stochastic_quantizer(clip, level), "
    "epsilon = log((level + clip) / (level - clip))), or noise before rounding: "
    "sign_gaussian, binomial, skellam, discrete_gaussian")


def stochastic_rounding(grid_step: float | None = None):
    """Refusal: plain unbiased stochastic rounding is not DP (ε = ∞).

    Rounding :math:`x` to one of its two neighbouring grid points with probabilities
    proportional to the distance is unbiased, but an input on a grid point is reported
    exactly, so two neighbouring inputs on different grid points give disjoint outputs:
    :math:`\\varepsilon = \\infty` for every :math:`\\delta < 1`.

    Parameters
    ----------
    grid_step : float, optional
        Ignored; accepted so that the refusal can be reached by name.

    Raises
    ------
    ValueError
        Always, saying what is sound instead.

    References
    ----------
    .. [1] N. Agarwal, A. T. Suresh, F. Yu, S. Kumar, H. B. McMahan. "cpSGD."
       NeurIPS 2018, Sec. 3 (noise is needed on top of stochastic quantization).

    Examples
    --------
    >>> from fltheory.accounting import stochastic_rounding
    >>> stochastic_rounding(0.1)
    Traceback (most recent call last):
    ...
    ValueError: unbiased stochastic rounding without added noise is not differentially private: ...
    """
    raise ValueError(_ROUNDING_MSG)


def stochastic_quantizer(clip: float, level: float):
    """The 1-bit randomized quantizer: exact ε = log((level + clip) / (level − clip)).

    A client holding :math:`x \\in [-c, c]` sends :math:`+B` with probability
    :math:`(B + x)/(2B)` and :math:`-B` otherwise (unbiased).  The likelihood ratio of the two
    extreme inputs on :math:`+B` is the largest, so

    .. math::

        \\varepsilon = \\log\\frac{B + c}{B - c},\\qquad B > c,

    exactly (pure DP), and the binary pair :math:`((B+c)/2B, (B-c)/2B)` vs its mirror is the
    exact dominating pair for PLD composition (e.g. over coordinates).  ``level == clip`` is
    unbiased stochastic rounding to the clip range, refused: it is not DP.

    Parameters
    ----------
    clip : float
        :math:`c > 0`, bound on :math:`|x|`.
    level : float
        :math:`B > c`.

    Returns
    -------
    StochasticQuantizerDpEvent
        Compose over coordinates/rounds with ``dp_accounting.SelfComposedDpEvent``; use
        ``neighboring="replace_one"``.

    References
    ----------
    .. [1] fltheory docs, "Amplification in federated learning", Sec. compression (derivation);
       the quantizer is the 1-bit case of the randomized quantizers of Chen, Kairouz, Özgür,
       NeurIPS 2020, arXiv:2007.11707.

    Examples
    --------
    >>> import math
    >>> from fltheory.accounting import stochastic_quantizer, pure_epsilon
    >>> round(pure_epsilon(stochastic_quantizer(clip=1.0, level=3.0)).epsilon, 6)
    0.693147
    >>> stochastic_quantizer(clip=1.0, level=1.0)
    Traceback (most recent call last):
    ...
    ValueError: level == clip is unbiased stochastic rounding ...
    """
    c = check_positive("clip", clip)
    b = check_positive("level", level)
    if b == c:
        raise ValueError("level == clip is unbiased stochastic rounding to the clip range; "
                         + _ROUNDING_MSG)
    if b < c:
        raise ValueError(f"level must be > clip (= {c:g}) so that (level + x) / (2 level) is a "
                         f"probability for every |x| <= clip, got {level}")
    return StochasticQuantizerDpEvent(c, b)


def _handle_quant(ev: StochasticQuantizerDpEvent):
    c = check_positive("clip", ev.clip)
    b = check_positive("level", ev.level)
    if b <= c:
        raise ValueError("level must be > clip; " + _ROUNDING_MSG)
    rows = np.array([[(b + c) / (2 * b), (b - c) / (2 * b)],
                     [(b - c) / (2 * b), (b + c) / (2 * b)]])
    return [(FiniteStep(rows, [(0, 1), (1, 0)],
                        what=f"1-bit stochastic quantizer (clip={c:g}, level={b:g})",
                        reference=_REF_QUANT), 1)]


_steps.register_event(StochasticQuantizerDpEvent, _handle_quant)


def sign_gaussian(clip: float, noise_std: float, *, analysis: str = "exact"):
    """``sign(x + N(0, σ²))`` for a scalar ``|x| <= clip``: exact pure DP and PLD, or the
    Gaussian bound.

    The output is :math:`+1` with probability :math:`\\Phi(x/\\sigma)`; the extreme inputs
    :math:`\\pm c` give the exact dominating pair, hence the exact pure ε

    .. math::

        \\varepsilon = \\log\\frac{\\Phi(c/\\sigma)}{\\Phi(-c/\\sigma)}
        \\qquad (c = \\sigma = 1:\\ 1.6683),

    and, composed over coordinates or rounds, the exact PLD (``analysis="exact"``).
    ``analysis="gaussian"`` returns the Gaussian mechanism it post-processes (noise multiplier
    :math:`\\sigma/c`): always valid, looser for a scalar, but the right tool for an
    :math:`\\ell_2`-clipped vector whose coordinates are signed (one Gaussian of sensitivity
    :math:`C` instead of :math:`d` scalar steps).

    Parameters
    ----------
    clip : float
        :math:`c > 0`.
    noise_std : float
        :math:`\\sigma > 0`.
    analysis : {"exact", "gaussian"}
        See above.

    Returns
    -------
    dp_accounting.DpEvent
        ``SignGaussianDpEvent`` (exact; use ``neighboring="replace_one"``) or
        ``GaussianDpEvent(noise_std / clip)``.

    References
    ----------
    .. [1] J. Bernstein, Y.-X. Wang, K. Azizzadenesheli, A. Anandkumar. "signSGD." ICML 2018
       (sign compression); fltheory docs, Sec. compression (exact ε).

    Examples
    --------
    >>> from fltheory.accounting import sign_gaussian, pure_epsilon
    >>> round(pure_epsilon(sign_gaussian(1.0, 1.0)).epsilon, 4)
    1.6683
    """
    c = check_positive("clip", clip)
    s = check_positive("noise_std", noise_std)
    analysis = check_choice("analysis", analysis, ("exact", "gaussian"))
    if analysis == "gaussian":
        return dp_accounting.GaussianDpEvent(s / c)
    return SignGaussianDpEvent(c, s)


def _handle_sign(ev: SignGaussianDpEvent):
    c = check_positive("clip", ev.clip)
    s = check_positive("noise_std", ev.noise_std)
    lp, lm = float(log_ndtr(c / s)), float(log_ndtr(-c / s))
    rows = np.exp(np.array([[lp, lm], [lm, lp]]))
    rows = rows / rows.sum(axis=1, keepdims=True)
    return [(FiniteStep(rows, [(0, 1), (1, 0)],
                        what=f"sign of Gaussian (clip={c:g}, noise_std={s:g})",
                        reference=_REF_SIGN), 1)]


_steps.register_event(SignGaussianDpEvent, _handle_sign)


# ---------------------------------------------------------------------------------------------
# Coordinate sampling
# ---------------------------------------------------------------------------------------------
@attr.define(frozen=True)
class CoordinateSampledGaussianDpEvent(dp_accounting.DpEvent):
    """One step of a Gaussian release with secret Poisson coordinate masks, one mask per unit.

    Each coordinate of the protected unit's clipped contribution (norm ≤ C) is kept
    independently with probability ``coordinate_rate`` under a mask drawn for that unit alone,
    the masked contributions are summed, and Gaussian noise :math:`\\mathcal N(0, z^2C^2)` is
    added to *every* coordinate of the sum.

    Threat model
        The masks are drawn independently of the data, one per privacy unit (``mask_unit``:
        one per record for record-level DP, applied before the sum; one per client over the
        client's whole update for client-level DP), and are never revealed: the release does
        not show which coordinates were kept (noise on all coordinates, no positions or
        per-coordinate counts transmitted).  Add/remove of one unit.
    """

    coordinate_rate: float
    noise_multiplier: float
    mask_unit: str = "record"


class CoordStep(_steps.Step):
    """Secret-mask coordinate sampling, one independent mask per unit: RDP (1-sparse worst case)."""

    has_pld = False
    relations = ("add_remove",)
    reference = _REF_COORD

    def __init__(self, g: float, z: float):
        self.g, self.z = g, z

    def key(self) -> tuple:
        return ("coord", self.g, self.z)

    def describe(self) -> str:
        return (f"secret coordinate masks, one per privacy unit (rate {self.g:g}, z={self.z:g}; "
                "RDP: the 1-sparse pair is not a dominating pair for every hockey-stick "
                "divergence, so no PLD is used)")

    def check_relation(self, relation: str) -> None:
        if relation != "add_remove":
            raise ValueError(
                "secret coordinate masks are analysed under add/remove (one unit's masked "
                f"contribution appears or not), got {relation!r}; for replace-one use group "
                "privacy over add/remove, or the unamplified bound "
                "coordinate_sampled_gaussian(..., mask='shared')")

    def rdp(self, orders: np.ndarray, relation: str) -> np.ndarray:
        from fltheory.accounting import _rdp

        orders = np.asarray(orders, float)
        # proved for integer orders (log-sum-exp convexity); fractional orders use the next
        # integer (Renyi divergences are non-decreasing in the order)
        return np.asarray(_rdp.rdp_poisson_gaussian(self.g, self.z, np.ceil(orders)), float)


def _handle_coord(ev: CoordinateSampledGaussianDpEvent):
    g = check_probability("coordinate_rate", ev.coordinate_rate)
    z = check_positive("noise_multiplier", ev.noise_multiplier)
    check_choice("mask_unit", ev.mask_unit, UNITS)
    if g == 1.0:
        return [(_steps.GaussianStep(1.0, z), 1)]
    return [(CoordStep(g, z), 1)]


_steps.register_event(CoordinateSampledGaussianDpEvent, _handle_coord)

@attr.define(frozen=True)
class MaskedGaussianNoAmplificationDpEvent(dp_accounting.DpEvent):
    """A Gaussian release with coordinate masks that give no (proved) amplification.

    Accounted as the unmasked Gaussian with multiplier ``noise_multiplier`` (sound: given the
    mask, every kept coordinate is a Gaussian release of sensitivity at most C).  That bound
    ignores the masks, so its certified lower bound is not one of this mechanism: results carry
    no lower bound.  ``reason`` says why the masks are not counted.
    """

    noise_multiplier: float
    reason: str = "shared"


class _NoAmpStep(_steps.GaussianStep):
    """The Gaussian bound of a masked release (no lower bound for the masked mechanism)."""

    has_lower = False

    def key(self) -> tuple:
        return ("masked-gaussian", self.z)

    def describe(self) -> str:
        return f"masked Gaussian, masks not counted (z={self.z:g})"


_NOAMP_NOTE = ("coordinate masks not counted: the Gaussian bound is valid for the masked "
               "release, but its lower bound is not one of that mechanism, so none is given")


def _handle_noamp(ev: MaskedGaussianNoAmplificationDpEvent):
    z = check_positive("noise_multiplier", ev.noise_multiplier)
    st = _NoAmpStep(1.0, z)
    st.notes = (_NOAMP_NOTE,)
    return [(st, 1)]


_steps.register_event(MaskedGaussianNoAmplificationDpEvent, _handle_noamp)

#: Who a secret mask is drawn for / who is protected.
UNITS = ("record", "client")

_SHARED_MSG = (
    "shared/public coordinate masks give no privacy amplification: the adversary knows which "
    "coordinates were kept, so epsilon equals that of the unsparsified Gaussian mechanism "
    "(returned). The gain is dimension only: the noise energy is k sigma^2 instead of "
    "d sigma^2, and conditions that scale with the noise norm (robust aggregation, "
    "batch-size requirements) see k instead of d. For amplification the masks must be secret "
    "(mask='secret') and drawn independently for each protected unit.")

_UNIT_MSG = (
    "secret coordinate masks drawn once per {mask_unit} give no amplification for "
    "{privacy_unit}-level DP: {why} The unamplified Gaussian bound is returned (sound: given the "
    "mask, every kept coordinate is a Gaussian release of sensitivity at most C). For "
    "amplification draw an independent mask per {privacy_unit} before the sum "
    "(mask_unit='{privacy_unit}').")

_UNIT_WHY = {
    ("client", "record"): "the client's other records are multiplied by the same mask and "
                          "reveal it (gamma=0.01, z=3.73, b=1024: the exact epsilon(1e-5) is "
                          "about 0.64, the amplified number 0.045).",
    ("record", "client"): "a client's update is the sum of several independently masked "
                          "records, which is not a Poisson coordinate mask of the client's "
                          "update; no amplification is proved for it.",
}

_RANDK_MSG = (
    "fixed-size rand-k masks (exactly k coordinates kept) have no known sound amplification "
    "bound: the coordinates are not independent, and only the 1-sparse worst case is known, "
    "which is a lower bound, not a guarantee. Sound options: mask='secret' (independent "
    "Poisson masks with coordinate_rate = k/d, amplification proven), or mask='shared' "
    "(no amplification claimed).")


def coordinate_sampled_gaussian(coordinate_rate: float, noise_multiplier: float, steps: int, *,
                                mask: str = "secret", mask_unit: str | None = None,
                                privacy_unit: str | None = None):
    """Gaussian releases with random coordinate sparsification, accounted soundly.

    Each step, each coordinate of a contribution of norm :math:`\\le C` is kept with
    probability :math:`\\gamma` and :math:`\\mathcal N(0, z^2 C^2)` is added to every
    coordinate of the sum.  Who the mask is independent over decides what it buys:

    * ``mask="secret", mask_unit == privacy_unit`` (an independent mask per record applied
      before the sum, for record-level DP; or one mask over the client's whole update, for
      client-level DP): conditioning on the other units (their masked contributions are
      independent of the target's mask and the same under both neighbours, a post-processing),
      the coordinates of the target's contribution :math:`v` are independent
      Poisson-subsampled Gaussians with sensitivities :math:`|v_j|`, so the step's RDP is
      :math:`\\sum_j f(v_j^2)` with :math:`f(u)` the RDP of the :math:`\\gamma`-subsampled
      Gaussian at sensitivity :math:`\\sqrt u`.  For integer orders :math:`f` is a
      log-sum-exp of linear functions of :math:`u`, hence convex with :math:`f(0) = 0`, hence
      superadditive: :math:`\\sum_j f(v_j^2) \\le f(\\sum_j v_j^2) \\le f(C^2)`.  The worst
      case *for RDP* is 1-sparse, i.e. exactly the Poisson-subsampled Gaussian with rate
      :math:`\\gamma` and multiplier :math:`z` (fractional orders use the next integer).  The
      1-sparse reduction does **not** hold for every hockey-stick divergence (at ε = 0,
      γ = 0.7, σ = 0.5C a difference spread over two coordinates has total variation 0.4978,
      the 1-sparse one 0.4779), so no PLD is used: ``method="pld"`` falls back to RDP.
    * ``mask="secret", mask_unit="client", privacy_unit="record"`` (one mask per client over
      the sum of its records, record-level DP): **no amplification** -- the client's other
      records reveal the mask.  The unamplified Gaussian is returned with a
      :class:`NoAmplificationWarning` (likewise ``mask_unit="record", privacy_unit="client"``,
      for which no amplification is proved).
    * ``mask="shared"``: no amplification (the gain is dimension only); returns the
      unsparsified Gaussian composition with a :class:`NoAmplificationWarning`.
    * ``mask="rand_k"``: refused (``ValueError``): only a lower bound is known.

    Parameters
    ----------
    coordinate_rate : float
        :math:`\\gamma \\in (0, 1]`.
    noise_multiplier : float
        :math:`z = \\sigma / C > 0`, with :math:`C` the largest contribution of one protected
        unit to the sum.
    steps : int
        Number of steps.
    mask : {"secret", "shared", "rand_k"}
        Who may see the masks (see above).
    mask_unit : {"record", "client"}
        Required for ``mask="secret"``: the unit each independent mask is drawn for.
    privacy_unit : {"record", "client"}, optional
        The unit the guarantee protects (default: ``mask_unit``).

    Returns
    -------
    dp_accounting.DpEvent
        ``SelfComposedDpEvent(CoordinateSampledGaussianDpEvent(γ, z, unit), steps)`` (amplified)
        or ``SelfComposedDpEvent(MaskedGaussianNoAmplificationDpEvent(z), steps)`` (no
        amplification: the Gaussian bound, without a lower bound).

    References
    ----------
    .. [1] W.-N. Chen, D. Song, A. Özgür, P. Kairouz. "Privacy Amplification via Compression:
       Achieving the Optimal Privacy-Accuracy-Communication Trade-off in Distributed Mean
       Estimation." NeurIPS 2023, arXiv:2304.01541 (amplification by secret sparsification).
    .. [2] I. Mironov, K. Talwar, L. Zhang. arXiv:1908.10530, 2019, Sec. 3 (sampled Gaussian).
    .. [3] fltheory docs, "Soundness" (the proof, the counterexample for hockey-stick
       divergences, and the exact checks of :mod:`fltheory.verify`).

    Examples
    --------
    >>> from fltheory.accounting import coordinate_sampled_gaussian, dp_sgd, epsilon
    >>> ev = coordinate_sampled_gaussian(0.01, 1.0, 1000, mask_unit="record")
    >>> a = epsilon(ev, 1e-5, method="rdp").epsilon
    >>> b = epsilon(dp_sgd(0.01, 1.0, 1000), 1e-5, method="rdp").epsilon
    >>> abs(a - b) / b < 0.02
    True
    """
    g = check_probability("coordinate_rate", coordinate_rate)
    z = check_positive("noise_multiplier", noise_multiplier)
    t = check_int("steps", steps, minimum=1)
    mask = check_choice("mask", mask, MASKS)
    if mask == "rand_k":
        raise ValueError(_RANDK_MSG)
    if mask == "shared":
        warnings.warn(_SHARED_MSG, NoAmplificationWarning, stacklevel=2)
        return dp_accounting.SelfComposedDpEvent(MaskedGaussianNoAmplificationDpEvent(z), t)
    if mask_unit is None:
        raise ValueError(
            "mask_unit must be given for mask='secret': 'record' (an independent mask per "
            "record, applied before the sum: record-level DP) or 'client' (one mask over the "
            "client's whole update: client-level DP); a per-client mask at record level "
            "(mask_unit='client', privacy_unit='record') gets no amplification")
    mu = check_choice("mask_unit", mask_unit, UNITS)
    pu = mu if privacy_unit is None else check_choice("privacy_unit", privacy_unit, UNITS)
    if mu != pu:
        warnings.warn(_UNIT_MSG.format(mask_unit=mu, privacy_unit=pu, why=_UNIT_WHY[(mu, pu)]),
                      NoAmplificationWarning, stacklevel=2)
        return dp_accounting.SelfComposedDpEvent(
            MaskedGaussianNoAmplificationDpEvent(z, f"mask per {mu}, {pu}-level DP"), t)
    return dp_accounting.SelfComposedDpEvent(CoordinateSampledGaussianDpEvent(g, z, mu), t)


# ---------------------------------------------------------------------------------------------
# CLI scenarios
# ---------------------------------------------------------------------------------------------
def _coord_build(coordinate_rate, noise_multiplier, steps, mask="secret", mask_unit="record",
                 privacy_unit=""):
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        return coordinate_sampled_gaussian(coordinate_rate, noise_multiplier, steps, mask=mask,
                                           mask_unit=mask_unit, privacy_unit=privacy_unit or None)


register_scenario(Scenario(
    name="coordinate_sampled_gaussian",
    build=_coord_build,
    params=(
        Param("coordinate_rate", float, "probability gamma that a coordinate is kept",
              role="rate"),
        Param("noise_multiplier", float, "noise multiplier z = sigma / C", role="noise"),
        Param("steps", int, "number of steps", role="count"),
        Param("mask", str, "secret | shared (rand_k is refused)", default="secret",
              choices=MASKS),
        Param("mask_unit", str, "record: an independent mask per record before the sum; "
              "client: one mask over the client's update", default="record", choices=UNITS),
        Param("privacy_unit", str, "record | client (default: mask_unit); a per-client mask "
              "at record level is not amplified", default=""),
    ),
    summary="Gaussian with random coordinate masks (secret masks amplify, shared do not)",
    example="fltheory epsilon --scenario coordinate_sampled_gaussian --coordinate-rate 0.01 "
            "--noise-multiplier 1.0 --steps 1000 --mask-unit record --delta 1e-5 --method rdp",
    neighboring=("add_remove",),
))


def _composed(ev, count):
    count = int(count)
    return ev if count == 1 else dp_accounting.SelfComposedDpEvent(ev, count)


register_scenario(Scenario(
    name="stochastic_quantizer",
    build=lambda clip, level, count=1: _composed(stochastic_quantizer(clip, level), count),
    params=(
        Param("clip", float, "bound c on |x|"),
        Param("level", float, "output level B > c", role="noise"),
        Param("count", int, "number of quantized coordinates x rounds", default=1,
              role="count"),
    ),
    summary="1-bit randomized quantizer, exact (eps = log((B+c)/(B-c)) per use)",
    example="fltheory epsilon --scenario stochastic_quantizer --clip 1 --level 3 --count 100 "
            "--delta 1e-5 --neighboring replace_one",
    neighboring=("replace_one",),
))

register_scenario(Scenario(
    name="sign_gaussian",
    build=lambda clip, noise_std, count=1, analysis="exact": _composed(
        sign_gaussian(clip, noise_std, analysis=analysis), count),
    params=(
        Param("clip", float, "bound c on |x|"),
        Param("noise_std", float, "Gaussian noise standard deviation sigma", role="noise"),
        Param("count", int, "number of signed coordinates x rounds", default=1, role="count"),
        Param("analysis", str, "exact | gaussian", default="exact",
              choices=("exact", "gaussian")),
    ),
    summary="sign(x + N(0, sigma^2)): exact binary pair or the Gaussian bound",
    example="fltheory epsilon --scenario sign_gaussian --clip 1 --noise-std 1 --count 10 "
            "--delta 1e-5 --neighboring replace_one",
    neighboring=("replace_one",),
))

register_scenario(Scenario(
    name="randomized_response",
    build=lambda num_values, local_epsilon, count=1: _composed(
        randomized_response(num_values, local_epsilon), count),
    params=(
        Param("num_values", int, "alphabet size k"),
        Param("local_epsilon", float, "local epsilon of k-RR"),
        Param("count", int, "number of uses", default=1, role="count"),
    ),
    summary="k-ary randomized response (a finite mechanism, exact PLD)",
    example="fltheory epsilon --scenario randomized_response --num-values 4 --local-epsilon 1 "
            "--count 50 --delta 1e-6 --neighboring replace_one",
    neighboring=("replace_one",),
))
