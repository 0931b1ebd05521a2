r"""Device-aware planning: per-class settings that meet every budget and minimise an error bound.

For every device class :math:`c` (``n_c`` clients with ``m_c`` records each) the planner chooses

* the **participation rate** :math:`p_c` (each client takes part in a round independently with
  probability :math:`p_c`),
* the **batch size** :math:`B_c` (Poisson batches, record rate :math:`q_c = B_c / m_c`),
* the **local steps** :math:`K_c` of DP-SGD per round,
* the **pruning ratio** :math:`r_c` (the client trains and sends the sub-model of a fraction
  :math:`r_c` of the coordinates, drawn each round from a public seed, as in federated dropout),
* the **quantizer bits** :math:`b_c` (QSGD with :math:`s_c = 2^{b_c - 1} - 1` levels on the kept
  coordinates; 32 = no quantization),
* the **noise multiplier** :math:`z_c` of each local step,

from a discrete grid (:class:`~fltheory.plan.devices.Grid`).

Privacy (certified)
-------------------
The executed mechanism of a class-:math:`c` client is record-level DP-SGD inside FL with revealed
participation, :func:`fltheory.accounting.local_dp_sgd` ``(p_c, q_c, z_c, K_c, T)``: the two-level
revealed mixture, never the unsound product :math:`p_c q_c`.  Pruning with a public mask and
quantization of the noised update are post-processing and claim no amplification.  For every
:math:`(p, B, K)` the search finds, vectorised over the whole grid, the smallest :math:`z` whose
RDP bound (integer orders; a certified upper bound) meets :math:`\varepsilon_c`; the chosen point is
then recalibrated with the PLD accountant (:func:`fltheory.accounting.calibrate_noise`) and its
certified ε is reported.

Resources (a stated model)
--------------------------
With :math:`d' = \lceil r d\rceil` parameters trained, :math:`\bar B` the
:math:`(1 - 10^{-6})`-quantile of the Poisson batch size (Binomial :math:`(m, q)`, exact), ``w``
bytes per float, ``s`` optimizer slots and ``a`` flops per parameter per example:

.. math::

    \mathrm{memory} = w\, d' (2 + s + \bar B), \qquad
    \mathrm{flops} = K (a \bar B + 12)\, d' + 5 d' [b < 32],

    \mathrm{bits} = 64\,[r < 1] + \begin{cases} 32 d' & b = 32 \\ 32 + b d' & b < 32
    \end{cases}, \qquad
    \mathrm{round\ seconds} = \frac{\mathrm{flops}}{F_c} + \frac{\mathrm{bits}}{U_c}.

Memory holds the weights, the update accumulator, the optimizer state and the per-example
gradients of one batch (the data set itself is not counted); 12 flops per parameter and step
draw the noise and apply the update; the bits are those the engine counts
(:class:`fltheory.fl.compressors.QSGD` and the 64-bit mask seed).  A class is feasible when
:math:`\mathrm{memory} \le M_c`, :math:`\mathrm{round\ seconds} \le` the deadline,
:math:`\mathrm{bits} \le` the uplink budget and :math:`z_c \le` ``grid.max_noise_multiplier``;
memory and time hold with probability at least :math:`1 - K\cdot10^{-6}` per round (the batch
quantile).

Error bound (the objective)
---------------------------
Write :math:`u_i` for client :math:`i`'s update per unit step (its :math:`K_c` noisy clipped steps
averaged, masked; clip :math:`C`).  With per-example gradients of norm at most :math:`C`,
independent Poisson batches, Gaussian noise, a Bernoulli(:math:`r_c`) coordinate mask and unbiased
QSGD of variance :math:`\omega_c` (:func:`fltheory.bounds.compressor_variance`), the variance of
:math:`u_i` around :math:`r_c \nabla F_c` is at most

.. math::

    v_c = \underbrace{\frac{r_c d\, z_c^2 C^2}{K_c B_c^2}}_{\text{DP noise}}
        + \underbrace{\frac{r_c (1 - q_c) C^2}{K_c B_c}}_{\text{batch sampling}}
        + \underbrace{r_c (1 - r_c) C^2}_{\text{pruning mask}}
        + \underbrace{\omega_c S_c}_{\text{quantizer}}
        + \underbrace{(1 - p_c)\, r_c^2 C^2}_{\text{participation}},
    \qquad S_c = r_c C^2 + \frac{r_c d z_c^2 C^2}{K_c B_c^2} + \frac{r_c(1 - q_c) C^2}{K_c B_c}

(DP noise: :math:`K` independent :math:`\mathcal N(0, z^2C^2)` vectors on the :math:`r d` kept
coordinates, each divided by :math:`B`, averaged over :math:`K` steps -- the DP noise variance per
coordinate after averaging is :math:`z_c^2 C^2 / (K_c B_c^2)`; batch sampling:
:math:`\mathrm{Var}\sum_j b_j g_j/(qm) \le (1-q)C^2/(qm)`; participation:
:math:`\mathrm{Var}(1_i x) = p(1-p)\lVert x\rVert^2`, here with the unbiased estimator that
divides by :math:`\bar N = \sum_c n_c p_c`).  The round moves the model by :math:`-\eta` times
:math:`\bar N^{-1}\sum_{i \in S} K_i Q_i(u_i)`, whose mean is :math:`\bar K(\nabla F + b)` and
whose variance is :math:`W`:

.. math::

    \bar K = \sum_c \pi_c r_c K_c, \quad \pi_c = \frac{n_c p_c}{\bar N}, \quad
    W = \frac{1}{\bar N^{2}} \sum_c n_c p_c K_c^2 v_c, \quad
    \lVert b\rVert \le \zeta \sum_c \Big|\frac{\pi_c r_c K_c}{\bar K} - \nu_c\Big|,

with :math:`\nu_c = n_c / N` the class weights of the federation's objective and
:math:`\zeta \ge \lVert \nabla F_c - \nabla F\rVert` (``objective.heterogeneity``).  For an
:math:`L`-smooth :math:`F` and :math:`\eta L \bar K \le 1` the descent lemma gives, per round,
:math:`\mathbb E F(\theta_{t+1}) \le F(\theta_t) - \frac{\eta\bar K}{2}\lVert\nabla F\rVert^2 +
\frac{\eta\bar K}{2}\lVert b\rVert^2 + \frac{L\eta^2}{2} W` (proof on the docs page "Planning for
heterogeneous devices"), hence the planner's objective

.. math::

    \min_{t < T} \mathbb E\lVert\nabla F(\theta_t)\rVert^2 \;\le\;
    J = \frac{2\,(F(\theta_0) - F^\star)}{\eta \bar K T} + \frac{L\eta\, W}{\bar K}
        + \zeta^2 \Big(\sum_c \Big|\frac{\pi_c r_c K_c}{\bar K} - \nu_c\Big|\Big)^2 ,

the form of Ajalloeian and Stich (2020, Thm. 4) for SGD with biased, noisy gradients.  It holds
when each round's local gradients are taken at the round's starting point (exactly for
:math:`K_c = 1`); with several local steps the client drift is not in :math:`J`, so :math:`J`
**ranks** settings and is not a certificate.  Only ε (certified) and the resource model (stated;
the engine's own bit counts) are guarantees.  Two consequences visible in the plans: pruning and
local steps leave the noise-to-progress ratio :math:`W/\bar K` of the DP noise unchanged (they
scale noise and progress alike), so pruning is chosen only where a budget forces it, and local
steps buy progress per round at the price of a larger noise multiplier.

Search
------
Per class, the whole grid is evaluated at once with NumPy (noise calibration by vectorised
bisection); classes are coupled only through :math:`\bar N`, :math:`\pi` and :math:`\bar K`, so a
coordinate descent over the classes (each step: the best feasible grid point of one class, the
others fixed) reaches a point no single class can improve; the sweep order is drawn from
``seed``, and the tests check the plan does not depend on it.

References
----------
.. [1] N. Ajalloeian, S. U. Stich. "On the Convergence of SGD with Biased Gradients."
   arXiv:2008.00051, 2020, Thm. 4.
.. [2] D. Alistarh et al. "QSGD." NeurIPS 2017, Lemma 3.1 (quantizer variance).
.. [3] S. Caldas, J. Konečný, H. B. McMahan, A. Talwalkar. "Expanding the Reach of Federated
   Learning by Reducing Client Resource Requirements." arXiv:1812.07210, 2018 (federated dropout).
.. [4] J. Kaplan et al. "Scaling Laws for Neural Language Models." arXiv:2001.08361, 2020
   (6 flops per parameter per example for forward and backward).
.. [5] L. Lange, O. Borchardt, E. Rahm. "Federated Learning With Individualized Privacy Through
   Client Sampling." arXiv:2501.17634, 2025 (per-client sampling / noise, SAMPLE and SCALE).
.. [6] J. Xu, R. Hu, O. Kotevska. "Optimal Client Sampling in Federated Learning with Client-level
   Heterogeneous Differential Privacy." arXiv:2505.13655, 2025 (per-group sampling and
   sparsification).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fltheory.accounting import _rdp
from fltheory.bounds.compression import bits_per_round, compressor_variance
from fltheory.plan.devices import DeviceClass, DevicesSpec, load_devices

__all__ = ["ClassPlan", "Plan", "plan", "baseline", "BASELINES", "max_participation", "search_orders", "rdp_epsilon", "min_noise",
           "class_grid", "CONSTRAINTS", "SETTINGS"]

#: Constraints checked for every class (``epsilon`` via the noise multiplier cap).
CONSTRAINTS = ("epsilon", "memory", "round_time", "uplink")
#: The chosen settings of a class.
SETTINGS = ("participation", "batch_size", "batch_rate", "local_steps", "prune_ratio",
            "quantizer_bits", "quantizer_levels", "noise_multiplier")

_QUANTILE = 1e-6
_NOISE_FLOPS = 12
_QUANT_FLOPS = 5
_SEED_BITS = 64
_FLOAT_BITS = 32
_Z_MIN = 0.05
_BISECT = 40
_Z_RTOL = 2e-3


def search_orders() -> np.ndarray:
    """Integer RDP orders used by the search (any set of orders gives a certified bound)."""
    return np.array(list(range(2, 33)) + [40, 48, 64, 96, 128, 192, 256, 512, 1024], float)


def rdp_epsilon(participation, batch_rate, noise_multiplier, local_steps, rounds: int,
                delta: float, orders: np.ndarray | None = None) -> np.ndarray:
    r"""Certified ε (RDP) of :func:`~fltheory.accounting.local_dp_sgd`, vectorised.

    Per round the RDP of the revealed mixture is
    :math:`\frac{1}{\alpha-1}\log(1 - p + p\,e^{(\alpha-1) K \varepsilon_q(\alpha)})`
    (:func:`fltheory.accounting.fl_sampling.revealed_rdp`), composed over ``rounds`` and converted
    with :func:`fltheory.accounting._rdp.rdp_to_epsilon`.

    Examples
    --------
    >>> from fltheory.accounting import epsilon, local_dp_sgd
    >>> e = rdp_epsilon(0.5, 0.25, 2.0, 4, 30, 1e-5, orders=search_orders())
    >>> ref = epsilon(local_dp_sgd(0.5, 0.25, 2.0, 4, 30), 1e-5, method="rdp").epsilon
    >>> bool(ref <= e[()] * (1 + 1e-9))
    True
    """
    orders = search_orders() if orders is None else np.asarray(orders, float)
    p, q, z, k = np.broadcast_arrays(*(np.asarray(x, float) for x in
                                       (participation, batch_rate, noise_multiplier,
                                        local_steps)))
    shape = p.shape
    pf, qf, zf, kf = (a.ravel() for a in (p, q, z, k))
    inner = np.asarray(_rdp.rdp_poisson_gaussian(qf, zf, orders), float).reshape(pf.size, -1)
    a1 = orders - 1.0
    x = a1[None, :] * kf[:, None] * inner
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        mix = np.where(pf[:, None] >= 1.0, x,
                       np.logaddexp(np.log1p(-np.minimum(pf, 1.0))[:, None],
                                    np.log(pf)[:, None] + x))
    per_round = np.maximum(mix / a1[None, :], 0.0)
    e, _ = _rdp.rdp_to_epsilon(orders, rounds * per_round, delta)
    return np.asarray(e, float).reshape(shape)


def min_noise(participation, batch_rate, local_steps, rounds: int, target_epsilon: float,
              delta: float, *, max_noise: float = 50.0) -> np.ndarray:
    """Smallest noise multiplier (relative precision 2e-3) whose RDP ε meets the target.

    ``inf`` where even ``max_noise`` does not.  Vectorised bisection on :math:`\\log z`; the
    returned value is always on the safe side (its ε is at most the target).

    Examples
    --------
    >>> z = min_noise([0.5, 1.0], 0.25, 4, 30, 2.0, 1e-5)
    >>> bool(z[0] < z[1]), bool((rdp_epsilon([0.5, 1.0], 0.25, z, 4, 30, 1e-5) <= 2.0).all())
    (True, True)
    """
    p, q, k = np.broadcast_arrays(*(np.asarray(x, float) for x in
                                    (participation, batch_rate, local_steps)))
    shape = p.shape
    pf, qf, kf = p.ravel(), q.ravel(), k.ravel()
    lo = np.full(pf.size, math.log(_Z_MIN))
    hi = np.full(pf.size, math.log(max_noise))
    ok_hi = rdp_epsilon(pf, qf, max_noise, kf, rounds, delta) <= target_epsilon
    ok_lo = rdp_epsilon(pf, qf, _Z_MIN, kf, rounds, delta) <= target_epsilon
    for _ in range(_BISECT):
        act = ok_hi & ~ok_lo & (hi - lo > _Z_RTOL)
        if not act.any():
            break
        mid = 0.5 * (lo[act] + hi[act])
        ok = rdp_epsilon(pf[act], qf[act], np.exp(mid), kf[act], rounds, delta) \
            <= target_epsilon
        h, l_ = hi[act], lo[act]
        hi[act] = np.where(ok, mid, h)
        lo[act] = np.where(ok, l_, mid)
    z = np.where(ok_lo, _Z_MIN, np.exp(hi))
    return np.where(ok_hi, z, np.inf).reshape(shape)


def max_participation(batch_rate, noise_multiplier, local_steps, rounds: int,
                      target_epsilon: float, delta: float) -> np.ndarray:
    """Largest participation rate (relative precision 2e-3) whose RDP ε meets the target.

    0 where even :math:`p = 10^{-4}` does not; vectorised bisection on :math:`\\log p`.

    Examples
    --------
    >>> p = max_participation(0.25, [1.0, 2.0], 4, 30, 2.0, 1e-5)
    >>> bool(p[0] < p[1] <= 1.0)
    True
    """
    q, z, k = np.broadcast_arrays(*(np.asarray(x, float) for x in
                                    (batch_rate, noise_multiplier, local_steps)))
    shape = q.shape
    qf, zf, kf = q.ravel(), z.ravel(), k.ravel()
    lo = np.full(qf.size, math.log(1e-4))
    hi = np.zeros(qf.size)
    ok_hi = rdp_epsilon(1.0, qf, zf, kf, rounds, delta) <= target_epsilon
    ok_lo = rdp_epsilon(1e-4, qf, zf, kf, rounds, delta) <= target_epsilon
    for _ in range(_BISECT):
        act = ok_lo & ~ok_hi & (hi - lo > _Z_RTOL)
        if not act.any():
            break
        mid = 0.5 * (lo[act] + hi[act])
        ok = rdp_epsilon(np.exp(mid), qf[act], zf[act], kf[act], rounds, delta) \
            <= target_epsilon
        h, l_ = hi[act], lo[act]
        lo[act] = np.where(ok, mid, l_)
        hi[act] = np.where(ok, h, mid)
    p = np.where(ok_hi, 1.0, np.exp(lo))
    return np.where(ok_lo, p, 0.0).reshape(shape)


def _levels(bits: np.ndarray) -> np.ndarray:
    return np.where(bits >= _FLOAT_BITS, 0, 2 ** (np.minimum(bits, 31) - 1) - 1).astype(np.int64)


def class_grid(spec: DevicesSpec, cls: DeviceClass, *, batch_sizes=None,
               epsilon: float | None = None, noise=None) -> dict:
    """Every grid point of one class with its resources, noise and error terms (flat arrays).

    ``batch_sizes`` replaces the grid's batch sizes, ``epsilon`` the class's target (for the
    uniform baseline at the strictest ε) and ``noise`` (an array over the grid points) the
    calibrated noise multipliers.

    Examples
    --------
    >>> from fltheory.plan import load_devices
    >>> spec = load_devices({"rounds": 10, "deadline_seconds": 1.0, "model": {"d": 100},
    ...     "device": [{"name": "phone", "count": 5, "compute_flops": 1e9,
    ...                 "memory_bytes": 1e6, "uplink_bps": 1e6, "data_size": 100,
    ...                 "epsilon": 2.0, "delta": 1e-5}]})
    >>> g = class_grid(spec, spec.classes[0])
    >>> sorted(set(g["quantizer_bits"].tolist()))
    [2, 4, 8, 32]
    """
    from scipy import stats

    gr, mdl, C = spec.grid, spec.model, spec.clip
    m = cls.data_size
    bs = list(batch_sizes) if batch_sizes is not None else \
        ([b for b in gr.batch_size if b <= m] or [m])
    P, B, K, R, Qb = np.meshgrid(np.array(gr.participation, float), np.array(bs, float),
                                 np.array(gr.local_steps, float), np.array(gr.prune_ratio, float),
                                 np.array(gr.quantizer_bits, np.int64), indexing="ij")
    P, B, K, R, Qb = (a.ravel() for a in (P, B, K, R, Qb))
    q = B / m
    # noise: one calibration per (p, B, K); the compression axes do not change the mechanism
    if noise is None:
        pbk, inv = np.unique(np.stack([P, B, K], 1), axis=0, return_inverse=True)
        z_u = min_noise(pbk[:, 0], pbk[:, 1] / m, pbk[:, 2], spec.rounds,
                        cls.epsilon if epsilon is None else epsilon, cls.delta,
                        max_noise=gr.max_noise_multiplier)
        Z = z_u[inv.ravel()]
    else:
        Z = np.broadcast_to(np.asarray(noise, float), P.shape).copy()
    d = mdl.d
    # kept coordinates: Binomial(d, r) per round; its (1 - 1e-6)-quantile for the budgets
    dk = np.where(R < 1, stats.binom.ppf(1.0 - _QUANTILE, d, R), d).astype(float)
    b_hi = stats.binom.ppf(1.0 - _QUANTILE, m, q)
    b_hi = np.maximum(b_hi, 1.0)
    memory = mdl.bytes_per_float * dk * (2 + mdl.optimizer_slots + b_hi)
    quant = Qb < _FLOAT_BITS
    flops = K * (mdl.flops_per_example * b_hi + _NOISE_FLOPS) * dk + _QUANT_FLOPS * dk * quant
    levels = _levels(Qb)
    bits = np.where(quant, bits_per_round("qsgd", dk.astype(np.int64),
                                          levels=np.maximum(levels, 1)),
                    _FLOAT_BITS * dk) + _SEED_BITS * (R < 1)
    seconds = flops / cls.compute_flops + bits / cls.uplink_bps
    omega = np.zeros_like(dk)
    if quant.any():
        dq, lq = dk[quant].astype(np.int64), levels[quant]
        om = np.where(lq == 1, compressor_variance("l2", np.maximum(dq, 1)),
                      compressor_variance("qsgd", dq, levels=np.maximum(lq, 1)))
        omega[quant] = om
    noise, samp, v = _client_variance(R, d, Z, C, K, B, q, P, omega)
    return {"participation": P, "batch_size": B.astype(np.int64), "batch_rate": q,
            "local_steps": K.astype(np.int64), "prune_ratio": R, "quantizer_bits": Qb,
            "quantizer_levels": levels, "noise_multiplier": Z, "memory_bytes": memory,
            "flops": flops, "uplink_bits": bits, "round_seconds": seconds, "omega": omega,
            "noise_var": noise, "sampling_var": samp, "variance": v, "batch_quantile": b_hi,
            "kept_params": dk.astype(np.int64)}


def _client_variance(r, d, z, C, k, b, q, p, omega):
    """DP noise, batch-sampling and total variance :math:`v_c` of one client (docstring)."""
    noise = r * d * z ** 2 * C ** 2 / (k * b ** 2)
    samp = r * (1.0 - q) * C ** 2 / (k * b)
    second = r * C ** 2 + noise + samp
    with np.errstate(invalid="ignore"):
        v = noise + samp + r * (1 - r) * C ** 2 + omega * second + (1 - p) * r ** 2 * C ** 2
    return noise, samp, np.where(np.isfinite(z), v, np.inf)


def _violations(spec: DevicesSpec, cls: DeviceClass, g: dict) -> dict:
    """Ratio value / budget of each constraint (> 1 violates) per grid point."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"epsilon": np.where(np.isfinite(g["noise_multiplier"]), 0.0, np.inf),
                "memory": g["memory_bytes"] / cls.memory_bytes,
                "round_time": g["round_seconds"] / spec.deadline_seconds,
                "uplink": g["uplink_bits"] / cls.uplink_budget_bits}


# ------------------------------------------------------------------------------------------------
# The objective, vectorised over one class's candidates with the other classes fixed
# ------------------------------------------------------------------------------------------------
def _objective(spec: DevicesSpec, counts: np.ndarray, fixed: list, c: int, cand: dict,
               idx: np.ndarray) -> dict:
    """J and its terms when class ``c`` takes candidates ``idx`` and the others ``fixed``."""
    ob = spec.objective
    T = spec.rounds
    nu = counts / counts.sum()
    others = [j for j in range(len(counts)) if j != c]

    def agg(key_fn):
        return sum(counts[j] * fixed[j]["participation"] * key_fn(fixed[j]) for j in others)

    np_o = agg(lambda f: 1.0)
    npkv_o = agg(lambda f: f["local_steps"] ** 2 * f["variance"])
    nprk_o = agg(lambda f: f["prune_ratio"] * f["local_steps"])
    p = cand["participation"][idx]
    k = cand["local_steps"][idx].astype(float)
    rk = cand["prune_ratio"][idx] * k
    with np.errstate(divide="ignore", invalid="ignore"):
        nbar = np_o + counts[c] * p
        W = (npkv_o + counts[c] * p * k ** 2 * cand["variance"][idx]) / nbar ** 2
        kbar = (nprk_o + counts[c] * p * rk) / nbar
        tv = np.abs(counts[c] * p * rk / (nbar * kbar) - nu[c])
        for j in others:
            f = fixed[j]
            tv = tv + np.abs(counts[j] * f["participation"] * f["prune_ratio"] * f["local_steps"]
                             / (nbar * kbar) - nu[j])
        opt = 2.0 * ob.initial_gap / (ob.lr * kbar * T)
        var = ob.smoothness * ob.lr * W / kbar
    het = (tv * ob.heterogeneity) ** 2
    return {"J": opt + var + het, "optimisation": opt, "variance": var, "heterogeneity": het,
            "W": W, "mean_local_progress": kbar, "participants": nbar}


def _pick(g: dict, i: int) -> dict:
    return {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in g.items()}


def _pareto(obj: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``obj`` (minimise every column).

    Rows are visited in lexicographic order, so a row can only be dominated by a row already on
    the front: each row is compared with the (small) front, not with every other row.
    """
    order = np.lexsort(obj.T[::-1])
    front: list[int] = []
    F = np.empty((0, obj.shape[1]))
    for i in order:
        row = obj[i]
        if F.shape[0] and ((F <= row).all(1) & (F < row).any(1)).any():
            continue
        if F.shape[0] and (F == row).all(1).any():
            continue
        front.append(int(i))
        F = np.vstack([F, row])
    return np.array(front, dtype=np.int64)


@dataclass
class ClassPlan:
    """The plan of one device class: its settings, resources, certified ε and explanation."""

    name: str
    feasible: bool
    count: int
    epsilon_target: float
    delta: float
    epsilon: float | None = None
    epsilon_method: str | None = None
    memory_bytes: float | None = None
    memory_budget_bytes: float = 0.0
    uplink_bits: float | None = None
    uplink_budget_bits: float = 0.0
    round_seconds: float | None = None
    deadline_seconds: float = 0.0
    settings: dict = field(default_factory=dict)
    binding: list = field(default_factory=list)
    explanation: list = field(default_factory=list)
    reason: str | None = None
    alternatives: list = field(default_factory=list)
    error_terms: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON record of the class (the settings flattened in)."""
        out = {"name": self.name, "feasible": self.feasible, "count": self.count,
               "epsilon_target": self.epsilon_target, "delta": self.delta,
               "epsilon": self.epsilon, "epsilon_method": self.epsilon_method,
               "memory_bytes": self.memory_bytes,
               "memory_budget_bytes": self.memory_budget_bytes,
               "uplink_bits": self.uplink_bits, "uplink_budget_bits": self.uplink_budget_bits,
               "round_seconds": self.round_seconds, "deadline_seconds": self.deadline_seconds}
        out.update({k: self.settings.get(k) for k in SETTINGS})
        out.update(binding=list(self.binding), explanation=list(self.explanation),
                   reason=self.reason, error_terms=dict(self.error_terms),
                   alternatives=list(self.alternatives))
        return out


@dataclass
class Plan:
    """A whole plan: one :class:`ClassPlan` per device class and the predicted error bound."""

    spec: DevicesSpec
    classes: list
    objective: dict
    mode: str = "plan"

    @property
    def feasible(self) -> bool:
        return all(c.feasible for c in self.classes)

    def __getitem__(self, name: str) -> ClassPlan:
        return by_name(self.classes, name)

    def to_dict(self) -> dict:
        return {"name": self.spec.name, "mode": self.mode, "rounds": self.spec.rounds,
                "deadline_seconds": self.spec.deadline_seconds, "model_parameters":
                self.spec.model.d, "feasible": self.feasible, "objective": dict(self.objective),
                "classes": [c.to_dict() for c in self.classes]}


def by_name(items, name: str):
    """The item of ``items`` whose ``name`` is ``name`` (``KeyError`` otherwise)."""
    for item in items:
        if item.name == name:
            return item
    raise KeyError(name)


def _fmt_bytes(x: float) -> str:
    for unit, f in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if x >= f:
            return f"{x / f:.3g} {unit}"
    return f"{x:.0f} B"


_LABEL = {"memory": "memory", "round_time": "round time", "uplink": "uplink bits",
          "epsilon": "epsilon"}


def _infeasible_reason(spec: DevicesSpec, cls: DeviceClass, g: dict, viol: dict) -> str:
    units = {"memory": (g["memory_bytes"], cls.memory_bytes, _fmt_bytes),
             "round_time": (g["round_seconds"], spec.deadline_seconds, lambda x: f"{x:.4g} s"),
             "uplink": (g["uplink_bits"], cls.uplink_budget_bits, lambda x: f"{x:.4g} bits")}
    parts = []
    if not np.isfinite(g["noise_multiplier"]).any():
        return (f"epsilon: target {cls.epsilon:g} at delta {cls.delta:g} needs a noise multiplier "
                f"above grid.max_noise_multiplier={spec.grid.max_noise_multiplier:g} for every "
                "participation rate, batch size and number of local steps in the grid")
    for key, (val, budget, fmt) in units.items():
        best = float(np.min(val))
        if best > budget:
            parts.append(f"{_LABEL[key]}: the smallest configuration in the grid needs "
                         f"{fmt(best)} > budget {fmt(budget)} (over by {fmt(best - budget)}, "
                         f"x{best / budget:.3g})")
    if parts:
        return "; ".join(parts)
    worst = np.max(np.stack([viol[k] for k in ("memory", "round_time", "uplink", "epsilon")]), 0)
    i = int(np.argmin(worst))
    over = [f"{_LABEL[k]} x{viol[k][i]:.3g}" for k in ("memory", "round_time", "uplink")
            if viol[k][i] > 1]
    return ("each budget can be met alone but not all together; the closest grid point "
            f"(B={int(g['batch_size'][i])}, K={int(g['local_steps'][i])}, "
            f"r={g['prune_ratio'][i]:g}, bits={int(g['quantizer_bits'][i])}) exceeds "
            + ", ".join(over))


def plan(source, *, seed: int = 0, refine: bool = True, alternatives: int = 5,
         max_sweeps: int = 20) -> Plan:
    """Per-class settings meeting every class's ε and resources, minimising the error bound.

    Parameters
    ----------
    source : path, dict or DevicesSpec
        The devices file (:func:`~fltheory.plan.load_devices`).
    seed : int
        Order of the coordinate-descent sweeps (the plan does not depend on it; tested).
    refine : bool
        Recalibrate the chosen noise multipliers with the PLD accountant (tighter than the RDP
        search; default ``True``).
    alternatives : int
        Pareto alternatives listed per class (error bound, round time, uplink bits, memory).
    max_sweeps : int
        Coordinate-descent sweeps at most.

    Returns
    -------
    Plan

    Examples
    --------
    >>> from fltheory.plan import plan
    >>> p = plan({"rounds": 20, "deadline_seconds": 1.0, "model": {"d": 650},
    ...     "device": [{"name": "phone", "count": 10, "compute_flops": 1e9,
    ...                 "memory_bytes": 4e6, "uplink_bps": 1e6, "data_size": 200,
    ...                 "epsilon": 4.0, "delta": 1e-5}]}, refine=False)
    >>> c = p["phone"]
    >>> c.feasible and c.epsilon <= 4.0 and c.memory_bytes <= c.memory_budget_bytes
    True
    """
    spec = load_devices(source)
    counts = np.array([c.count for c in spec.classes], float)
    grids, viols, feas = [], [], []
    for cls in spec.classes:
        g = class_grid(spec, cls)
        v = _violations(spec, cls, g)
        ok = np.ones(g["participation"].size, bool)
        for key in CONSTRAINTS:
            ok &= v[key] <= 1.0
        grids.append(g)
        viols.append(v)
        feas.append(np.flatnonzero(ok))
    live = [c for c in range(len(spec.classes)) if feas[c].size]
    # initial point: each class alone with the others absent (participation 0)
    fixed: list = [None] * len(spec.classes)
    zero = {"participation": 0.0, "variance": 0.0, "prune_ratio": 0.0, "local_steps": 0.0}
    for c in range(len(spec.classes)):
        fixed[c] = dict(zero)
    chosen: dict[int, int] = {}
    rng = np.random.default_rng(seed)
    for sweep in range(max_sweeps):
        changed = False
        order = list(live)
        if sweep:
            rng.shuffle(order)
        for c in order:
            idx = feas[c]
            J = _objective(spec, counts, fixed, c, grids[c], idx)["J"]
            best = int(idx[int(np.argmin(J))])
            if chosen.get(c) != best:
                prev = chosen.get(c)
                if prev is None or J.min() < _objective(spec, counts, fixed, c, grids[c],
                                                        np.array([prev]))["J"][0] - 1e-15:
                    chosen[c] = best
                    changed = True
            fixed[c] = _pick(grids[c], chosen[c])
        if not changed and sweep:
            break
    out = []
    total = None
    for c, cls in enumerate(spec.classes):
        cp = ClassPlan(name=cls.name, feasible=c in chosen, count=cls.count,
                       epsilon_target=cls.epsilon, delta=cls.delta,
                       memory_budget_bytes=float(cls.memory_bytes),
                       uplink_budget_bits=float(cls.uplink_budget_bits),
                       deadline_seconds=float(spec.deadline_seconds))
        if c not in chosen:
            cp.reason = _infeasible_reason(spec, cls, grids[c], viols[c])
            cp.explanation = [f"infeasible: {cp.reason}"]
            out.append(cp)
            continue
        i = chosen[c]
        g = grids[c]
        cp.settings = {k: _pick(g, i)[k] for k in SETTINGS}
        cp.memory_bytes = float(g["memory_bytes"][i])
        cp.uplink_bits = float(g["uplink_bits"][i])
        cp.round_seconds = float(g["round_seconds"][i])
        terms = _objective(spec, counts, fixed, c, g, np.array([i]))
        total = {k: float(v[0]) for k, v in terms.items()}
        cp.error_terms = {"dp_noise": float(g["noise_var"][i]),
                          "batch_sampling": float(g["sampling_var"][i]),
                          "quantizer_omega": float(g["omega"][i]),
                          "client_variance": float(g["variance"][i])}
        cp.binding, cp.explanation = _explain(spec, counts, fixed, c, g, viols[c], i)
        cp.alternatives = _alternatives(spec, counts, fixed, c, g, feas[c], i, alternatives)
        out.append(cp)
    result = Plan(spec=spec, classes=out, objective=total or {})
    _certify(result, refine)
    if total is not None:
        _refresh_objective(result, counts)
    return result


def _explain(spec, counts, fixed, c, g, viol, i) -> tuple[list, list]:
    """Which constraints bind at the chosen point, and one line per choice."""
    allidx = np.arange(g["participation"].size)
    J_all = _objective(spec, counts, fixed, c, g, allidx)["J"]
    J_i = J_all[i]
    binding = ["epsilon"]
    lines = [f"noise multiplier {g['noise_multiplier'][i]:.4g}: the smallest meeting "
             f"epsilon {spec.classes[c].epsilon:g} at this participation, batch and local steps "
             "(certified, revealed participation)"]
    res = ("memory", "round_time", "uplink")
    for key in res:
        others = [k for k in CONSTRAINTS if k != key]
        ok_others = np.ones_like(J_all, bool)
        for k in others:
            ok_others &= viol[k] <= 1.0
        blocked = ok_others & (viol[key] > 1.0) & (J_all < J_i * (1 - 1e-9))
        if blocked.any():
            j = int(np.flatnonzero(blocked)[np.argmin(J_all[blocked])])
            binding.append(key)
            lines.append(f"{_LABEL[key]} binds: a better point (J {J_all[j]:.4g} < "
                         f"{J_i:.4g}; B={int(g['batch_size'][j])}, "
                         f"K={int(g['local_steps'][j])}, r={g['prune_ratio'][j]:g}, "
                         f"bits={int(g['quantizer_bits'][j])}) needs x{viol[key][j]:.3g} "
                         "of the budget")
        else:
            lines.append(f"{_LABEL[key]} slack: uses {100 * viol[key][i]:.3g}% of the budget")
    lines.append(f"participation {g['participation'][i]:g}, batch {int(g['batch_size'][i])}, "
                 f"{int(g['local_steps'][i])} local steps, prune ratio {g['prune_ratio'][i]:g}, "
                 f"{int(g['quantizer_bits'][i])}-bit updates: the lowest error bound among "
                 "the feasible grid points with the other classes fixed")
    return binding, lines


def _alternatives(spec, counts, fixed, c, g, feas, i, n) -> list:
    if n <= 0 or feas.size == 0:
        return []
    terms = _objective(spec, counts, fixed, c, g, feas)
    obj = np.stack([terms["J"], g["round_seconds"][feas], g["uplink_bits"][feas],
                    g["memory_bytes"][feas]], 1)
    front = feas[_pareto(obj)]
    Jf = _objective(spec, counts, fixed, c, g, front)["J"]
    order = front[np.argsort(Jf, kind="stable")]
    out = []
    for j in order[: n + 1]:
        if int(j) == int(i):
            continue
        row = {k: _pick(g, int(j))[k] for k in SETTINGS}
        row.update(error_bound=float(_objective(spec, counts, fixed, c, g,
                                                np.array([j]))["J"][0]),
                   round_seconds=float(g["round_seconds"][j]),
                   uplink_bits=float(g["uplink_bits"][j]),
                   memory_bytes=float(g["memory_bytes"][j]))
        out.append(row)
        if len(out) >= n:
            break
    return out


def _certify(result: Plan, refine: bool) -> None:
    """Certified ε of each chosen point (PLD), with the noise recalibrated by PLD if asked."""
    from fltheory.accounting import calibrate_noise, epsilon, local_dp_sgd

    T = result.spec.rounds
    for cp in result.classes:
        if not cp.feasible:
            continue
        s = cp.settings
        p, q, k = s["participation"], s["batch_rate"], s["local_steps"]

        def build(z, p=p, q=q, k=k):
            return local_dp_sgd(p, q, z, k, T)

        z_rdp = s["noise_multiplier"]
        z = z_rdp
        if refine and z_rdp > _Z_MIN:
            try:
                z = calibrate_noise(build, cp.epsilon_target, cp.delta, rtol=2e-3,
                                    bracket=(z_rdp / 8, z_rdp))
            except ValueError:
                z = z_rdp
        eps, method = epsilon(build(z), cp.delta).epsilon, "pld"
        if eps > cp.epsilon_target:
            # the PLD bound at the searched z is looser than the RDP bound the search met (rare):
            # keep that z and report the smallest of the certified upper bounds
            z = z_rdp
            bounds = {"pld": epsilon(build(z), cp.delta).epsilon,
                      "rdp": min(epsilon(build(z), cp.delta, method="rdp").epsilon,
                                 float(rdp_epsilon(p, q, z, k, T, cp.delta)))}
            method = min(bounds, key=bounds.get)
            eps = bounds[method]
        s["noise_multiplier"] = float(z)
        cp.epsilon = float(eps)
        cp.epsilon_method = method
        cp.explanation[0] = (f"noise multiplier {z:.4g}: the smallest meeting epsilon "
                             f"{cp.epsilon_target:g} at delta {cp.delta:g} for this participation, "
                             f"batch and local steps (certified {method.upper()} epsilon "
                             f"{eps:.4g}, revealed participation)")


def _refresh_objective(result: Plan, counts: np.ndarray) -> None:
    """Recompute the error terms with the certified (recalibrated) noise multipliers."""
    spec = result.spec
    fixed = []
    for cp in result.classes:
        if not cp.feasible:
            fixed.append({"participation": 0.0, "variance": 0.0, "prune_ratio": 0.0,
                          "local_steps": 0.0})
            continue
        s = cp.settings
        noise, samp, v = (float(x) for x in _client_variance(
            s["prune_ratio"], spec.model.d, s["noise_multiplier"], spec.clip, s["local_steps"],
            s["batch_size"], s["batch_rate"], s["participation"],
            cp.error_terms["quantizer_omega"]))
        cp.error_terms.update(
            dp_noise=noise, batch_sampling=samp, client_variance=v,
            dp_noise_variance_per_coordinate=(s["noise_multiplier"] * spec.clip) ** 2
            / (s["local_steps"] * s["batch_size"] ** 2))
        fixed.append({"participation": s["participation"], "variance": v,
                      "prune_ratio": s["prune_ratio"], "local_steps": s["local_steps"]})
    c0 = next(i for i, cp in enumerate(result.classes) if cp.feasible)
    one = {k: np.array([fixed[c0][k]], float) for k in fixed[c0]}
    t = _objective(spec, counts, fixed, c0, one, np.array([0]))
    result.objective = {k: float(v[0]) for k, v in t.items()}


# ------------------------------------------------------------------------------------------------
# Baselines: one uniform recipe, and the per-client sampling / noise heuristics of the literature
# ------------------------------------------------------------------------------------------------
#: Baselines :func:`baseline` builds.
BASELINES = ("uniform", "sample", "scale")


def baseline(source, kind: str) -> Plan:
    """A baseline recipe for the devices file, certified like :func:`plan`.

    * ``"uniform"``: one setting for every class (participation, batch, local steps, pruning,
      quantizer, noise) meeting every class's resources, with the noise multiplier calibrated
      so that every class meets the **strictest** ε; the setting minimises the same error bound.
    * ``"sample"``: IDP-FedAvg's SAMPLE idea (Lange et al. 2025): the uniform recipe's noise
      multiplier for everyone, and per class the largest participation rate whose certified ε
      meets the class's own target.
    * ``"scale"``: the SCALE idea (per-client noise scales): the uniform recipe's participation
      for everyone and per class the smallest noise multiplier meeting its own target.

    Resources do not depend on the participation rate or the noise, so both heuristics fit the
    budgets the uniform recipe fits.

    Examples
    --------
    >>> b = baseline({"rounds": 10, "deadline_seconds": 1.0, "model": {"d": 100},
    ...     "device": [{"name": "a", "count": 4, "compute_flops": 1e9, "memory_bytes": 1e6,
    ...                 "uplink_bps": 1e6, "data_size": 64, "epsilon": 1.0, "delta": 1e-5},
    ...                {"name": "b", "count": 4, "compute_flops": 1e9, "memory_bytes": 1e6,
    ...                 "uplink_bps": 1e6, "data_size": 64, "epsilon": 8.0, "delta": 1e-5}]},
    ...     "uniform")
    >>> b["a"].settings == b["b"].settings and b["b"].epsilon <= 1.0
    True
    """
    from fltheory._checks import check_choice
    from fltheory.accounting import (calibrate_noise, calibrate_sampling_rate, epsilon,
                                     local_dp_sgd)

    kind = check_choice("kind", kind, BASELINES)
    spec = load_devices(source)
    counts = np.array([c.count for c in spec.classes], float)
    T = spec.rounds
    eps_min = min(c.epsilon for c in spec.classes)
    m_min = min(c.data_size for c in spec.classes)
    bs = [b for b in spec.grid.batch_size if b <= m_min] or [m_min]
    grids = [class_grid(spec, c, batch_sizes=bs, epsilon=eps_min) for c in spec.classes]
    z_u = np.max(np.stack([g["noise_multiplier"] for g in grids]), 0)
    grids = [class_grid(spec, c, batch_sizes=bs, noise=z_u) for c in spec.classes]
    ok = np.isfinite(z_u)
    viols = [_violations(spec, c, g) for c, g in zip(spec.classes, grids)]
    for v in viols:
        for key in ("memory", "round_time", "uplink"):
            ok &= v[key] <= 1.0
    out = [ClassPlan(name=c.name, feasible=False, count=c.count, epsilon_target=c.epsilon,
                     delta=c.delta, memory_budget_bytes=float(c.memory_bytes),
                     uplink_budget_bits=float(c.uplink_budget_bits),
                     deadline_seconds=float(spec.deadline_seconds)) for c in spec.classes]
    if not ok.any():
        for cp, cls, g, v in zip(out, spec.classes, grids, viols):
            cp.reason = ("no single recipe fits every class; for this class: "
                         + _infeasible_reason(spec, cls, g, v))
            cp.explanation = [f"infeasible: {cp.reason}"]
        return Plan(spec=spec, classes=out, objective={}, mode=kind)
    idx = np.flatnonzero(ok)
    fixed = [{k: g[k][idx] for k in ("participation", "variance", "prune_ratio",
                                     "local_steps")} for g in grids]
    J = _objective(spec, counts, fixed, 0, grids[0], idx)["J"]
    i = int(idx[int(np.argmin(J))])
    base = _pick(grids[0], i)
    p0, b0, k0 = base["participation"], base["batch_size"], base["local_steps"]

    def build(cls, p, z):
        return local_dp_sgd(p, b0 / cls.data_size, z, k0, T)

    # the uniform noise: the largest PLD-calibrated multiplier over the classes at eps_min
    zs = []
    for cls in spec.classes:
        zs.append(_pld_noise(lambda z, c=cls: build(c, p0, z), p0, b0 / cls.data_size, k0,
                             eps_min, cls.delta, spec))
    z_uni = max(zs)
    ps, zc = [p0] * len(spec.classes), [z_uni] * len(spec.classes)
    if kind == "sample":
        z_common = _tune_sample(spec, counts, base, z_uni)
        ps = [calibrate_sampling_rate(lambda x, c_=cls: build(c_, min(x, 1.0), z_common),
                                      cls.epsilon, cls.delta, rtol=2e-3)
              for cls in spec.classes]
        zc = [z_common] * len(spec.classes)
    elif kind == "scale":
        p_common = _tune_scale(spec, counts, base)
        ps = [p_common] * len(spec.classes)
        zc = [_pld_noise(lambda x, c_=cls: build(c_, p_common, x), p_common,
                         b0 / cls.data_size, k0, cls.epsilon, cls.delta, spec)
              for cls in spec.classes]
    for c, (cp, cls, g) in enumerate(zip(out, spec.classes, grids)):
        p, z = ps[c], zc[c]
        gval = epsilon(build(cls, p, z), cls.delta)
        cp.feasible = True
        cp.settings = {k: base[k] for k in SETTINGS}
        cp.settings.update(participation=float(p), noise_multiplier=float(z),
                           batch_rate=b0 / cls.data_size)
        cp.epsilon, cp.epsilon_method = float(gval.epsilon), gval.method
        cp.memory_bytes = float(g["memory_bytes"][i])
        cp.uplink_bits = float(g["uplink_bits"][i])
        cp.round_seconds = float(g["round_seconds"][i])
        cp.error_terms = {"quantizer_omega": float(g["omega"][i])}
        cp.explanation = [{"uniform": f"uniform recipe: every class at the strictest epsilon "
                                      f"{eps_min:g} (noise multiplier {z:.4g})",
                           "sample": f"SAMPLE: common noise multiplier {z:.4g} (tuned by the "
                                     f"error bound), participation {p:.4g} meets this class's "
                                     f"epsilon {cls.epsilon:g}",
                           "scale": f"SCALE: common participation {p:.4g} (tuned by the error "
                                    f"bound), noise multiplier {z:.4g} meets this class's "
                                    f"epsilon {cls.epsilon:g}"}[kind]]
    result = Plan(spec=spec, classes=out, objective={}, mode=kind)
    _refresh_objective(result, counts)
    return result


def _baseline_J(spec, counts, base, ps, zs) -> np.ndarray:
    """J of the uniform recipe ``base`` with per-class arrays of participation and noise."""
    fixed = []
    for cls, p, z in zip(spec.classes, ps, zs):
        q = base["batch_size"] / cls.data_size
        _, _, v = _client_variance(base["prune_ratio"], spec.model.d, z, spec.clip,
                                   base["local_steps"], base["batch_size"], q, p, base["omega"])
        fixed.append({"participation": p, "variance": v, "prune_ratio": base["prune_ratio"],
                      "local_steps": base["local_steps"]})
    n = np.size(ps[0])
    cand = {k: np.broadcast_to(np.asarray(v, float), (n,)) for k, v in fixed[0].items()}
    with np.errstate(invalid="ignore", divide="ignore"):
        J = _objective(spec, counts, fixed, 0, cand, np.arange(n))["J"]
    return np.where(np.isfinite(J), J, np.inf)


def _tune_sample(spec, counts, base, z_uni) -> float:
    """SAMPLE's one free parameter, the common noise multiplier, chosen by the error bound."""
    zs = z_uni * np.geomspace(1.0, 1.0 / 30, 48)
    ps = [max_participation(base["batch_size"] / c.data_size, zs, base["local_steps"],
                            spec.rounds, c.epsilon, c.delta) for c in spec.classes]
    J = _baseline_J(spec, counts, base, ps, [zs] * len(ps))
    alive = np.sum([p > 0 for p in ps], 0) == len(ps)
    J = np.where(alive, J, np.inf)
    return float(zs[int(np.argmin(J))])


def _tune_scale(spec, counts, base) -> float:
    """SCALE's one free parameter, the common participation rate, chosen by the error bound."""
    pg = np.array(spec.grid.participation, float)
    zs = [min_noise(pg, base["batch_size"] / c.data_size, base["local_steps"], spec.rounds,
                    c.epsilon, c.delta, max_noise=spec.grid.max_noise_multiplier)
          for c in spec.classes]
    J = _baseline_J(spec, counts, base, [pg] * len(zs), zs)
    return float(pg[int(np.argmin(J))])


def _pld_noise(build, p, q, k, target, delta, spec) -> float:
    """Smallest noise multiplier meeting ``target`` with PLD, bracketed by the RDP search."""
    from fltheory.accounting import calibrate_noise

    zr = float(min_noise(p, q, k, spec.rounds, target, delta,
                         max_noise=spec.grid.max_noise_multiplier))
    if not math.isfinite(zr) or zr <= _Z_MIN:
        return zr
    try:
        return calibrate_noise(build, target, delta, rtol=2e-3, bracket=(zr / 8, zr))
    except ValueError:
        return zr
