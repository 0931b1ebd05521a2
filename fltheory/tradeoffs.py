"""Compression trade-off curves: privacy x communication x utility x robustness x compute.

:func:`compression_tradeoff` evaluates, for a grid of rand-k levels ``k``, one row per
(``k``, release mode) with every quantity a researcher weighs when choosing ``k``; and
:func:`pareto_front` extracts the non-dominated rows.

The three release modes (one client, one round; ``h = n - f`` honest clients, each update the
average of ``b`` per-sample gradients clipped to ``C``, Gaussian noise of std
:math:`s = z\\cdot 2C/b` on every released coordinate, ``T`` rounds):

``dense``
    No compression: d coordinates released.
``shared``
    Coordinated rand-k: every client sends the same k coordinates (mask drawn from a seed shared
    with the server, fresh each round).  The mask is public, so it gives **no** privacy
    amplification; its gain is dimension -- the noise energy is :math:`ks^2` instead of
    :math:`ds^2` and the robust aggregator works in k dimensions.
``secret``
    Each coordinate is kept with probability :math:`\\gamma = k/d` under masks the adversary
    never sees, noise is added to **all** d coordinates and no positions are sent (a dense
    release: no communication saving).  Who a mask is drawn for decides the ε
    (``mask_unit``): ``"record"`` (default; an independent mask per record, applied to its
    clipped gradient before the sum) is amplified -- under add/remove (sensitivity
    :math:`C/b`, multiplier :math:`2z`) the step is the Poisson(γ)-subsampled Gaussian in RDP
    (:func:`fltheory.accounting.coordinate_sampled_gaussian`, proof in the docs), and the
    replace-one ε of the table follows by group privacy over the two add/remove steps of a
    replacement, :math:`(2\\varepsilon, (1+e^{\\varepsilon})\\delta')`; ``"client"`` (one mask
    per client over the average of its b records) gets **no** amplification at record level
    (the other records reveal the mask): ε is the dense one.  Fixed-size rand-k masks have no
    sound amplification bound.

Columns (worst case over updates with :math:`\\|g_i\\|\\le C`; ``g`` the honest-mean norm, ``G`` the
heterogeneity, ρ the fraction of :math:`\\|\\nabla\\|^2` on the kept coordinates -- k/d for rand-k
in expectation unless ``retained_energy`` says otherwise; κ and κ_F of the aggregator):

``bits``
    dense :math:`wd`; shared :math:`wk + 64` (values + a 64-bit seed); secret :math:`wd`.
``epsilon``
    replace-one, at δ: dense and shared :math:`\\varepsilon_T(z)` (exact for T Gaussian
    releases); secret: see above (never above the dense value).
``noise_energy``
    dense and secret :math:`ds^2`; shared :math:`ks^2`.
``mse``
    dense :math:`ds^2/h`; shared :math:`\\omega C^2 + \\tfrac dk\\, ds^2/h`; secret
    :math:`(1/\\gamma-1)C^2/h + ds^2/(\\gamma^2 h)`.
``robust_error``
    dense :math:`\\kappa[(1-1/h)ds^2 + G^2]`; shared :math:`\\kappa[(1-1/h)ks^2 + \\rho G^2]`;
    secret :math:`\\kappa[(1-1/h)(ds^2 + \\gamma(1-\\gamma)C^2) + \\gamma^2G^2]`.
``robust_error_rel``
    ``robust_error`` divided by the signal energy: :math:`g^2`, :math:`\\rho g^2`,
    :math:`\\gamma^2 g^2`.
``min_batch_size``
    :math:`b^*` of :func:`fltheory.bounds.min_batch_size_bound` with :math:`D = d, \\rho = 1`
    (dense) or :math:`D = k` and ρ (shared); secret: see below.
``flops``, ``memory_bytes``
    :func:`fltheory.bounds.aggregation_cost` at dimension d (dense, secret) or k (shared).

``mse`` is the error of the server's *unbiased* (rescaled) estimate of the honest mean;
``robust_error`` bounds :math:`\\|F - \\bar y_S\\|^2` on what the aggregator sees (expected honest
spread times κ).  For ``secret`` masks the signal is :math:`\\gamma\\nabla` while independent masks add
:math:`\\gamma(1-\\gamma)\\|g_i\\|^2` of client-to-client variance that no batch size removes: the VN
condition needs :math:`\\kappa_F^2\\gamma g^2 > (1-\\gamma)C^2`, else ``min_batch_size`` is ``inf``
(the mathematical answer, not a failure).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ._checks import (check_choice, check_int, check_nonnegative, check_open_unit,
                      check_positive)
# plain-Python twins of the symbolic bounds (tests/bounds/test_bounds_numeric.py checks that
# they agree): the table needs numbers only, and sympy takes about a second to import
from .bounds._numeric import (aggregation_cost_value, analytic_z, gaussian_epsilon_value,
                              kappa_value, min_batch_from_threshold, vn_threshold_value)

__all__ = ["TradeoffTable", "compression_tradeoff", "pareto_front", "MODES"]

#: Release modes of :func:`compression_tradeoff`.
MODES = ("dense", "shared", "secret")

_COLUMNS = ("k", "gamma", "bits", "epsilon", "noise_energy", "omega", "mse", "robust_error",
            "robust_error_rel", "min_batch_size", "flops", "memory_bytes")


class TradeoffTable:
    """Rows of a trade-off sweep, stored column-wise.

    ``table["bits"]`` is a float array, ``table["mode"]`` an array of strings; ``table.rows()``
    gives one dict per row; ``table.to_dict()`` is JSON-able (infinite values as ``"inf"`` by
    :func:`fltheory.cli.emit`).  ``table.meta`` holds the parameters, units and notes.
    """

    def __init__(self, columns: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> None:
        cols = {k: np.asarray(v) for k, v in columns.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns must have equal lengths, got {sorted(lengths)}")
        self._cols = cols
        self.meta = dict(meta or {})

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names."""
        return tuple(self._cols)

    def __len__(self) -> int:
        return len(next(iter(self._cols.values()))) if self._cols else 0

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._cols:
            raise ValueError(f"column must be one of {', '.join(self._cols)}, got {name!r}")
        return self._cols[name]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per row."""
        out = []
        for i in range(len(self)):
            row = {}
            for c, v in self._cols.items():
                x = v[i]
                row[c] = x.item() if hasattr(x, "item") else x
            out.append(row)
        return out

    def select(self, index) -> "TradeoffTable":
        """Rows ``index`` (boolean mask or integer indices) as a new table."""
        return TradeoffTable({c: v[index] for c, v in self._cols.items()}, self.meta)

    def to_dict(self) -> dict[str, Any]:
        """Columns as lists plus the metadata."""
        return {"columns": {c: v.tolist() for c, v in self._cols.items()}, "meta": self.meta}

    def __repr__(self) -> str:
        return f"TradeoffTable({len(self)} rows: {', '.join(self.columns)})"


def _amplified_epsilon(gamma: np.ndarray, z: float, rounds: int, delta: float) -> np.ndarray:
    """Replace-one ε at ``delta`` of T releases with per-record secret masks (noise ``z 2C/b``).

    Add/remove: sensitivity C/b, so multiplier 2z, RDP of the Poisson(γ)-subsampled Gaussian
    (the proved account of :func:`coordinate_sampled_gaussian`).  Replace-one = remove then
    add: group privacy gives :math:`(2\\varepsilon', (1 + e^{\\varepsilon'})\\delta')`; δ' is
    lowered until :math:`(1 + e^{\\varepsilon'(\\delta')})\\delta' \\le \\delta`.
    """
    from fltheory.accounting import coordinate_sampled_gaussian, epsilon   # lazy import

    out = []
    for q in np.asarray(gamma, dtype=float):
        ev = coordinate_sampled_gaussian(float(q), 2.0 * z, rounds, mask_unit="record")
        dp = delta / 2.0
        for _ in range(60):
            e1 = float(epsilon(ev, delta=dp, method="rdp").epsilon)
            if (1.0 + math.exp(min(e1, 700.0))) * dp <= delta:
                break
            dp = delta / (1.0 + math.exp(min(e1, 700.0))) / 1.01
        out.append(2.0 * e1)
    return np.array(out, dtype=float)


def compression_tradeoff(d: int, k: Iterable[int] | None = None, *, n: int = 20, f: int = 4,
                         aggregator: str = "cwtm", nnm: bool = False, epsilon: float = 1.0,
                         delta: float = 1e-5, noise_multiplier: float | None = None,
                         rounds: int = 1, batch_size: int = 1024, clip: float = 1.0,
                         grad_norm: float | None = None, heterogeneity: float = 0.0,
                         retained_energy: float | None = None, modes: Sequence[str] = MODES,
                         float_bits: int = 32, amplification: bool = True,
                         mask_unit: str = "record") -> TradeoffTable:
    """Trade-off table of rand-k compression levels (see the module docstring for every formula).

    Parameters
    ----------
    d : int
        Model dimension.
    k : iterable of int, optional
        Compression levels (kept coordinates); default ``d/10^j`` for ``j = 4, 3, 2, 1``.
    n, f : int
        Clients and Byzantine clients.
    aggregator : str
        Robust aggregation rule (κ from :func:`fltheory.bounds.kappa`, κ_F from
        :func:`fltheory.bounds.vn_threshold`, cost from :func:`fltheory.bounds.aggregation_cost`).
    nnm : bool
        Compose the aggregator with nearest-neighbour mixing.
    epsilon, delta : float
        Target privacy of the ``rounds`` un-amplified releases; the noise multiplier is
        :math:`z = \\sqrt T\\, z_{\\mathrm{analytic}}(\\varepsilon, \\delta)` (exact for T Gaussian
        releases) unless ``noise_multiplier`` is given.
    noise_multiplier : float, optional
        Fix z instead (``epsilon`` is then computed).
    rounds : int
        Releases per client (T).
    batch_size : int
        Per-sample gradients averaged per release (sensitivity :math:`2C/b`).
    clip : float
        Per-sample clipping norm C.
    grad_norm : float, optional
        Honest-mean gradient norm :math:`\\|\\nabla\\|` (default ``clip``).
    heterogeneity : float
        G, with :math:`G^2 = \\frac1h\\sum\\|g_i-\\nabla\\|^2`.
    retained_energy : float, optional
        ρ for the shared mode (default ``k/d``: rand-k in expectation).
    modes : sequence of {"dense", "shared", "secret"}
    float_bits : int
        Bits per transmitted float.
    amplification : bool
        Compute the secret-mask ε with :mod:`fltheory.accounting`.  ``False`` skips the
        ``secret`` rows.
    mask_unit : {"record", "client"}
        Who each secret mask is drawn for: ``"record"`` (an independent mask per record before
        the sum: amplified) or ``"client"`` (one mask per client over its average: no
        amplification at record level, the dense ε is reported).

    Returns
    -------
    TradeoffTable

    References
    ----------
    .. [1] Guerraoui et al. (2021), PODC 2021 (VN condition); Allouah et al. (2023), AISTATS 2023
       (κ); secret coordinate masks: W.-N. Chen, D. Song, A. Özgür, P. Kairouz (2023), NeurIPS 2023
       (the idea; the accounting of REFERENCES §3 is derived).

    Examples
    --------
    >>> t = compression_tradeoff(1_000_000, [10_000, 100_000], modes=("dense", "shared"))
    >>> t["mode"].tolist()
    ['dense', 'shared', 'shared']
    >>> [int(b) for b in t["bits"]]
    [32000000, 320064, 3200064]
    """
    d = check_int("d", d, minimum=1)
    if k is None:
        ks = sorted({max(1, d // 10 ** j) for j in (4, 3, 2, 1)})
    else:
        ks = [check_int("k", kk, minimum=1, maximum=d) for kk in np.atleast_1d(np.asarray(k))]
        if not ks:
            raise ValueError("k must not be empty")
    n = check_int("n", n, minimum=1)
    f = check_int("f", f, minimum=0)
    if not n > 2 * f:
        raise ValueError(f"n must be > 2f, got n={n}, f={f}")
    eps = check_positive("epsilon", epsilon)
    dl = check_open_unit("delta", delta)
    rounds = check_int("rounds", rounds, minimum=1)
    bsz = check_int("batch_size", batch_size, minimum=1)
    C = check_positive("clip", clip)
    g = C if grad_norm is None else check_positive("grad_norm", grad_norm)
    G = check_nonnegative("heterogeneity", heterogeneity)
    float_bits = check_int("float_bits", float_bits, minimum=1)
    modes = [check_choice("modes", m, MODES) for m in modes]
    mask_unit = check_choice("mask_unit", mask_unit, ("record", "client"))
    if not amplification:
        modes = [m for m in modes if m != "secret"]
    if not modes:
        raise ValueError("modes must name at least one of 'dense', 'shared', 'secret'")
    if noise_multiplier is None:
        z = math.sqrt(rounds) * analytic_z(eps, dl)
    else:
        z = check_positive("noise_multiplier", noise_multiplier)
    eps_plain = gaussian_epsilon_value(z, dl, steps=rounds)
    s = z * 2.0 * C / bsz
    h = n - f
    kap = kappa_value(aggregator, n, f, nnm=nnm)
    kF = vn_threshold_value(aggregator, n, f)

    def cost(dim):
        return aggregation_cost_value(aggregator, n, f, dim, nnm=nnm)

    def min_batch(dim, rho):
        return min_batch_from_threshold(dim, C, z, g, 0.0, rho, kF)

    rows: list[dict[str, Any]] = []
    if "dense" in modes:
        fl, mem = cost(d)
        rows.append(dict(mode="dense", k=d, gamma=1.0, bits=float(float_bits * d),
                         epsilon=eps_plain, noise_energy=d * s * s,
                         omega=0.0, mse=d * s * s / h,
                         robust_error=kap * ((1 - 1 / h) * d * s * s + G * G),
                         robust_error_rel=kap * ((1 - 1 / h) * d * s * s + G * G) / g ** 2,
                         min_batch_size=min_batch(d, 1.0),
                         flops=fl, memory_bytes=mem))
    if "shared" in modes:
        for kk in ks:
            rho = kk / d if retained_energy is None else check_positive("retained_energy",
                                                                        retained_energy)
            om = d / kk - 1            # omega of rand-k (compressor_variance)
            fl, mem = cost(kk)
            rerr = kap * ((1 - 1 / h) * kk * s * s + rho * G * G)
            rows.append(dict(mode="shared", k=kk, gamma=kk / d,
                             bits=float(float_bits * kk + 64),   # values + a 64-bit seed
                             epsilon=eps_plain, noise_energy=kk * s * s, omega=om,
                             mse=om * C * C + (d / kk) * d * s * s / h,
                             robust_error=rerr, robust_error_rel=rerr / (rho * g * g),
                             min_batch_size=min_batch(kk, min(rho, 1.0)),
                             flops=fl, memory_bytes=mem))
    if "secret" in modes:
        gammas = np.array([kk / d for kk in ks])
        eps_amp = (_amplified_epsilon(gammas, z, rounds, dl) if mask_unit == "record" else
                   np.full(gammas.shape, eps_plain))
        from .bounds.dp_byzantine import secret_mask_min_batch_bound   # symbolic: lazy

        sb = secret_mask_min_batch_bound()
        fl, mem = cost(d)
        for kk, gam, ea in zip(ks, gammas, eps_amp):
            rerr = kap * ((1 - 1 / h) * (d * s * s + gam * (1 - gam) * C * C) + gam * gam * G * G)
            if kF ** 2 * gam * g * g > (1 - gam) * C * C:
                bmin = float(sb.evaluate(d=d, C=C, z=z, g=g, kappa_F=kF, gamma=gam))
            else:
                bmin = math.inf
            rows.append(dict(mode="secret", k=kk, gamma=float(gam),
                             bits=float(float_bits * d),
                             epsilon=min(float(ea), eps_plain), noise_energy=d * s * s,
                             omega=float(1 / gam - 1),
                             mse=(1 / gam - 1) * C * C / h + d * s * s / (gam * gam * h),
                             robust_error=rerr, robust_error_rel=rerr / (gam * gam * g * g),
                             min_batch_size=bmin, flops=fl, memory_bytes=mem))
    cols: dict[str, Any] = {"mode": np.array([r["mode"] for r in rows])}
    for c in _COLUMNS:
        cols[c] = np.array([float(r[c]) for r in rows], dtype=float)
    meta = {
        "d": d, "n": n, "f": f, "aggregator": aggregator, "nnm": bool(nnm), "kappa": kap,
        "kappa_F": kF, "noise_multiplier": z, "noise_std": s, "delta": dl, "rounds": rounds,
        "batch_size": bsz, "clip": C, "grad_norm": g, "heterogeneity": G,
        "retained_energy": "k/d" if retained_energy is None else retained_energy,
        "float_bits": float_bits, "mask_unit": mask_unit,
        "units": {"bits": "bits per client per round", "noise_energy": "squared l2 norm",
                  "mse": "squared l2 norm", "robust_error": "squared l2 norm",
                  "robust_error_rel": "relative to retained signal energy",
                  "min_batch_size": "samples per worker per step", "flops": "flops per round",
                  "memory_bytes": "bytes"},
        "notes": [
            "shared: public mask, no privacy amplification; noise energy k s^2.",
            ("secret: Poisson(k/d) secret masks, an independent mask per record before the sum, "
             "noise on all d coordinates, no positions sent (dense release); epsilon: RDP of "
             "the Poisson(k/d)-subsampled Gaussian under add/remove, group privacy to "
             "replace-one" if mask_unit == "record" else
             "secret: one Poisson(k/d) mask per client over the average of its records: NO "
             "amplification at record level (its other records reveal the mask); epsilon is "
             "the dense value"),
            "min_batch_size = inf means no batch size meets the VN condition.",
        ],
    }
    return TradeoffTable(cols, meta)


def pareto_front(table: TradeoffTable | Mapping[str, Any], objectives: Sequence[str],
                 maximize: Iterable[str] = ()) -> np.ndarray:
    """Indices of the rows no other row dominates (all ``objectives`` minimised by default).

    Row i dominates row j when it is no worse on every objective and strictly better on one.
    Infinite values take part as ordinary (worst) values.  Indices are sorted by the first
    objective.

    Parameters
    ----------
    table : TradeoffTable or mapping of column name -> array
    objectives : sequence of str
        Column names.
    maximize : iterable of str
        Objectives to maximise instead.

    Examples
    --------
    >>> pareto_front({"bits": [1, 2, 3, 2], "mse": [3, 2, 1, 3]}, ["bits", "mse"])
    array([0, 1, 2])
    """
    if not objectives:
        raise ValueError("objectives must name at least one column")
    maximize = set(maximize)
    unknown = maximize - set(objectives)
    if unknown:
        raise ValueError(f"maximize must be a subset of objectives, got {sorted(unknown)}")
    cols = []
    for o in objectives:
        try:
            col = np.asarray(table[o], dtype=float)
        except KeyError:
            raise ValueError(f"objectives must be columns of the table, got {o!r}") from None
        if np.any(np.isnan(col)):
            raise ValueError(f"column {o!r} contains NaN")
        cols.append(-col if o in maximize else col)
    M = np.stack(cols, axis=1)
    le = np.all(M[:, None, :] <= M[None, :, :], axis=2)
    lt = np.any(M[:, None, :] < M[None, :, :], axis=2)
    dominated = np.any(le & lt, axis=0)
    idx = np.flatnonzero(~dominated)
    return idx[np.argsort(M[idx, 0], kind="stable")]
