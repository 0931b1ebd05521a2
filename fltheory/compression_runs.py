r"""Experiment 9: compression for private and robust FL, measured on the engine.

The research question: can compression -- keeping :math:`k \ll d` coordinates, quantizing,
pruning -- make differentially private *and* Byzantine-robust FL practical?  The DP x Byzantine
analysis needs a batch size growing like :math:`\sqrt d` and the spectral rules cost
:math:`\binom nf` eigenproblems per round; :func:`fltheory.tradeoffs.compression_tradeoff` answers
on paper.  :func:`run_compression_grid` answers with runs of :func:`fltheory.fl.simulate`: one
point per (task, compressor, k/d, ε, attack, rule, seed), each measured for

* final ``accuracy`` and ``loss`` of the global model;
* ``bits`` per client per round (the engine's count) next to ``bits_predicted``, the encoding
  model of :func:`fltheory.bounds.bits_per_round`;
* ``epsilon``: the certified ε (at ``delta``) of the accounting event the engine returns for what
  it executed (``run.accounting_event``, ``run.guarantee``), the noise multiplier calibrated to
  the target ``epsilon_target`` on that same event;
* ``aggregation_seconds``: the median wall time per round of the rule on the messages the server
  received (``simulate(config, record_messages=True)``), in the dimension the rule needs (k for a
  shared rand-k mask: the columns outside the mask are zero for every client);
* ``robust_error_measured`` :math:`\|F(x) - \bar x_H\|^2` per round, recomputed from the recorded
  messages (``H`` the honest clients), and ``robust_error_predicted`` :math:`\kappa\cdot
  \frac1{|H|}\sum_{i\in H}\|x_i-\bar x_H\|^2` with κ from :func:`fltheory.bounds.kappa`; SMEA:
  :math:`\frac{4f}{n-2f}\lambda_{\max}(\Sigma_H)`, derived in the docs (compression page);
* the compressor's measured :math:`\mathbb E\|Q(x)-x\|^2/\|x\|^2` on honest round-1 messages next
  to ω (unbiased) or :math:`1-\delta` (biased) of :func:`fltheory.bounds.compressor_variance`.

The grid (a base recipe per task, then slices -- each a Cartesian product) is
:data:`DEFAULT_GRID`, mirrored in ``experiments/grids/compression_runs.toml``; a ``[quick]``
table overrides it for the reduced version.

Compressors (``k/d`` = ``ratio``):

=====================  =====================================================================
``none``               dense release (ratio 1 only)
``randk_shared``       rand-k mask from a public per-round seed inside the mechanism: noise on the
                       k kept coordinates only, no amplification; the rule works in k dimensions
``randk_secret``       secret per-record Poisson masks of rate k/d inside the mechanism, noise on
                       every coordinate (dense noisy release; no amplification claimed at record level)
``topk_ef``            top-k of the noisy update with error feedback (post-processing)
``qsgd``               QSGD with ``qsgd_levels[ratio]`` levels (matching bit widths)
``scaled_sign``        scaled sign :math:`\tfrac{\|x\|_1}{d}\mathrm{sign}(x)` (ratio 1 only); the plain
                       sign has no variance bound to check and is not in the grid
``magnitude_prune``    keep the k largest magnitudes, no error feedback (post-processing)
=====================  =====================================================================

Examples
--------
>>> grid = load_grid(quick=True)
>>> "digits_mlp" in grid["tasks"], len(expand_points(grid, seeds=[0])) > 10
(True, True)
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from fltheory.config import ExperimentConfig

__all__ = ["DEFAULT_GRID", "COMPRESSORS", "load_grid", "expand_points", "run_compression_grid",
           "smea_kappa", "summarize", "point_config", "smea_dense_timing", "load_results", "variance_within_bound", "within_prediction",
           "write_results"]

#: Compressor names of the grid.
COMPRESSORS = ("none", "randk_shared", "randk_secret", "topk_ef", "qsgd", "scaled_sign",
               "magnitude_prune")
_RATIO_FREE = ("none", "scaled_sign")
_UPDATE_ATTACKS = ("alie", "ipm")     # the others poison data and train like honest clients

#: Attack parameters used by the grid (engine names).
ATTACK_PARAMS = {"none": {}, "alie": {}, "ipm": {"tau": 10.0}, "label_flip": {}}

_MLP = {
    "data": {"name": "digits", "num_clients": 20, "partition": "iid"},
    "model": {"name": "mlp", "hidden": 32},
    "training": {"algorithm": "fedavg", "rounds": 30, "local_steps": 1, "lr": 2.0,
                 "batch_sampling": "poisson"},
    "privacy": {"level": "record", "clip": 1.0, "batch_rate": 0.5, "delta": 1e-5},
    "run": {"eval_every": 1000, "progress": False},
}

#: The default grid (``experiments/grids/compression_runs.toml`` holds the same).
DEFAULT_GRID: dict = {
    "name": "compression-runs",
    "seeds": [0],
    "delta": 1e-5,
    "byzantine_fraction": 0.15,
    "qsgd_levels": [[1.0, 15], [0.1, 3], [0.01, 1]],
    "variance_draws": 10,
    "tasks": {
        "digits_mlp": _MLP,
        "digits_cnn": {**copy.deepcopy(_MLP), "model": {"name": "cnn", "hidden": 8},
                       "training": {**_MLP["training"], "rounds": 20}},
        "synthetic": {
            "data": {"name": "synthetic_logistic", "num_clients": 20, "samples_per_client": 10,
                     "dim": 1000, "heterogeneity": 0.0},
            "model": {"name": "logreg"},
            "training": {"algorithm": "fedavg", "rounds": 3, "local_steps": 1, "lr": 1.0,
                         "batch_sampling": "poisson"},
            "privacy": {"level": "record", "clip": 1.0, "batch_rate": 0.5, "delta": 1e-5},
            "run": {"eval_every": 1000, "progress": False},
        },
    },
    "slices": [
        {"name": "accuracy_vs_bits", "tasks": ["digits_mlp"], "compressors": list(COMPRESSORS),
         "ratios": [1.0, 0.1, 0.01], "epsilons": ["none", 1.0, 4.0],
         "attacks": ["none", "alie"], "aggregators": ["nnm+cwtm"]},
        {"name": "rules_attacks", "tasks": ["digits_mlp"],
         "compressors": ["none", "randk_shared"], "ratios": [1.0, 0.1], "epsilons": [4.0],
         "attacks": ["none", "alie", "ipm", "label_flip"],
         "aggregators": ["mean", "cwtm", "nnm+cwtm", "krum", "gm", "smea"]},
        {"name": "cnn", "tasks": ["digits_cnn"],
         "compressors": ["none", "randk_shared", "topk_ef"], "ratios": [1.0, 0.1],
         "epsilons": [4.0], "attacks": ["alie"], "aggregators": ["cwtm", "nnm+cwtm"]},
        {"name": "scaling", "tasks": ["synthetic"], "dims": [1000, 10000, 100000, 1000000],
         "compressors": ["none", "randk_shared"], "ratios": [1.0, 0.01], "epsilons": [4.0],
         "attacks": ["alie"], "aggregators": ["cwtm"],
         "time_rules": ["mean", "cwtm", "nnm+cwtm", "krum", "gm", "smea"]},
    ],
    "smea_dense": {"n": 10, "f": 2, "dims": [16, 32, 64, 128, 256, 512]},
    "quick": {
        "tasks": {"digits_mlp": {"data": {"num_clients": 10}, "model": {"hidden": 16},
                                 "training": {"rounds": 8}},
                  "synthetic": {"data": {"num_clients": 10, "samples_per_client": 10},
                                "training": {"rounds": 2}}},
        "slices": [
            {"name": "accuracy_vs_bits", "tasks": ["digits_mlp"],
             "compressors": list(COMPRESSORS), "ratios": [1.0, 0.1, 0.01],
             "epsilons": [4.0], "attacks": ["alie"], "aggregators": ["nnm+cwtm"]},
            {"name": "rules_attacks", "tasks": ["digits_mlp"],
             "compressors": ["none", "randk_shared"], "ratios": [1.0, 0.1], "epsilons": [4.0],
             "attacks": ["none", "ipm", "label_flip"],
             "aggregators": ["mean", "cwtm", "krum", "gm", "smea"]},
            {"name": "scaling", "tasks": ["synthetic"], "dims": [1000, 10000, 100000],
             "compressors": ["none", "randk_shared"], "ratios": [1.0, 0.01],
             "epsilons": [4.0], "attacks": ["alie"], "aggregators": ["cwtm"],
             "time_rules": ["mean", "cwtm", "nnm+cwtm", "krum", "gm", "smea"]},
        ],
        "smea_dense": {"n": 8, "f": 2, "dims": [16, 32, 64, 128, 256]},
    },
}

_SLICE_KEYS = ("name", "tasks", "compressors", "ratios", "epsilons", "attacks", "aggregators",
               "dims", "time_rules")


# --------------------------------------------------------------------------------------------------
# The grid
# --------------------------------------------------------------------------------------------------
def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def load_grid(source: Any = None, *, quick: bool = False) -> dict:
    """The grid: :data:`DEFAULT_GRID`, a TOML file or a dict; ``quick`` applies its ``quick`` table.

    Raises ``ValueError`` naming the key for unknown compressors, attacks, slice keys or tasks.

    Examples
    --------
    >>> load_grid(quick=True)["tasks"]["digits_mlp"]["training"]["rounds"]
    8
    """
    if source is None:
        grid = copy.deepcopy(DEFAULT_GRID)
    elif isinstance(source, dict):
        grid = copy.deepcopy(source)
    else:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib

        path = Path(source)
        if not path.is_file():
            raise ValueError(f"grid file not found: {path}")
        try:
            grid = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not a valid TOML file: {exc}") from None
    q = grid.pop("quick", None)
    if quick and q:
        grid = _merge(grid, {k: v for k, v in q.items() if k != "slices"})
        if "slices" in q:
            grid["slices"] = copy.deepcopy(q["slices"])
    _check_grid(grid)
    return grid


def _check_grid(grid: dict) -> None:
    from fltheory._checks import check_choice, check_open_unit, check_probability

    for key in ("tasks", "slices"):
        if key not in grid:
            raise ValueError(f"grid must have a '{key}' table")
    check_open_unit("delta", grid.get("delta", 1e-5))
    bf = check_probability("byzantine_fraction", grid.get("byzantine_fraction", 0.15))
    if not bf < 0.5:
        raise ValueError(f"byzantine_fraction must be < 0.5, got {bf}")
    for s in grid["slices"]:
        bad = sorted(set(s) - set(_SLICE_KEYS))
        if bad:
            raise ValueError(f"unknown slice key {bad[0]!r} (valid keys: {', '.join(_SLICE_KEYS)})")
        for t in s.get("tasks", []):
            if t not in grid["tasks"]:
                raise ValueError(f"slices.tasks must name tasks of the grid "
                                 f"({', '.join(grid['tasks'])}), got {t!r}")
        for c in s.get("compressors", []):
            if isinstance(c, str) and c.strip().lower() == "sign":
                raise ValueError("slices.compressors: 'sign' is the plain sign, which has no "
                                 "variance bound to check the runs against; the grid's scaled "
                                 "sign (||x||_1/d) sign(x) is 'scaled_sign' (before this "
                                 "release it was called 'sign')")
            check_choice("slices.compressors", c, COMPRESSORS)
        for a in s.get("attacks", []):
            check_choice("slices.attacks", a, tuple(ATTACK_PARAMS))
        for e in s.get("epsilons", []):
            if e != "none" and not (isinstance(e, (int, float)) and e > 0):
                raise ValueError(f"slices.epsilons must be 'none' or > 0, got {e!r}")
        for r in s.get("ratios", []):
            r = float(r)
            if not 0 < r <= 1:
                raise ValueError(f"slices.ratios must be in (0, 1], got {r}")


def _levels(grid: dict, ratio: float) -> int:
    for r, s in grid.get("qsgd_levels", DEFAULT_GRID["qsgd_levels"]):
        if math.isclose(float(r), ratio):
            return int(s)
    raise ValueError(f"qsgd_levels has no entry for ratio {ratio}")


def expand_points(grid: dict, seeds: Iterable[int]) -> list[dict]:
    """Every point of the grid (duplicates across slices removed), in a stable order.

    Examples
    --------
    >>> pts = expand_points(load_grid(quick=True), [0])
    >>> {p["compressor"] for p in pts} >= {"none", "randk_shared", "qsgd"}
    True
    """
    seen, out = set(), []
    for s in grid["slices"]:
        dims = s.get("dims", [None])
        for task, dim, comp, ratio, eps, att, agg, seed in itertools.product(
                s["tasks"], dims, s["compressors"], s.get("ratios", [1.0]), s["epsilons"],
                s["attacks"], s["aggregators"], seeds):
            ratio = float(ratio)
            if comp in _RATIO_FREE and ratio != 1.0:
                continue
            if comp not in _RATIO_FREE and comp != "qsgd" and ratio == 1.0:
                continue            # rand-k / top-k / pruning at k = d are the dense point
            p = {"slice": s["name"], "task": task, "dim": dim, "compressor": comp,
                 "ratio": ratio, "epsilon_target": None if eps == "none" else float(eps),
                 "attack": att, "aggregator": agg, "seed": int(seed),
                 "time_rules": list(s.get("time_rules", []))}
            if comp == "qsgd":
                p["levels"] = _levels(grid, ratio)
            key = json.dumps({k: v for k, v in p.items() if k not in ("slice", "time_rules")},
                             sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            out.append(p)
    return out


def _compression_section(p: dict) -> dict:
    c, r = p["compressor"], p["ratio"]
    if c == "none":
        return {"name": "none"}
    if p["epsilon_target"] is None and c in ("randk_shared", "randk_secret"):
        # no DP mechanism to put the mask in: unbiased rand-k (scaled by d/k) on the update
        return {"name": "randk", "ratio": r, "mask": "shared" if c == "randk_shared"
                else "secret"}
    if c == "randk_shared":
        return {"name": "randk", "ratio": r, "stage": "mechanism", "mask": "shared"}
    if c == "randk_secret":
        return {"name": "prune", "ratio": r, "stage": "mechanism", "mask": "secret"}
    if c == "topk_ef":
        return {"name": "topk", "ratio": r, "error_feedback": True}
    if c == "magnitude_prune":
        return {"name": "topk", "ratio": r}
    if c == "qsgd":
        return {"name": "qsgd", "levels": p["levels"]}
    return {"name": "scaled_sign"}


def point_config(grid: dict, p: dict, noise_multiplier: float | None = None) -> dict:
    """The engine configuration (a nested dict) of point ``p``.

    Examples
    --------
    >>> g = load_grid(quick=True)
    >>> p = expand_points(g, [0])[0]
    >>> point_config(g, p, 1.0)["byzantine"]["num_byzantine"]
    2
    """
    cfg = copy.deepcopy(grid["tasks"][p["task"]])
    cfg["name"] = f"{grid.get('name', 'compression-runs')}-{p['task']}"
    cfg["seed"] = p["seed"]
    if p.get("dim") is not None:
        cfg["data"]["dim"] = int(p["dim"])
    n = int(cfg["data"]["num_clients"])
    # no attack: no Byzantine client (the engine then runs the rule with f = 0)
    f = 0 if p["attack"] == "none" else max(1, int(round(grid.get("byzantine_fraction", 0.15)
                                                         * n)))
    cfg["byzantine"] = {"num_byzantine": f, "attack": p["attack"],
                        "attack_params": dict(ATTACK_PARAMS[p["attack"]]),
                        "aggregator": p["aggregator"]}
    cfg["compression"] = _compression_section(p)
    if p["compressor"] == "randk_shared" and cfg["compression"].get("stage") == "mechanism":
        # unbiased rand-k: the server rescales the masked aggregate by d/k
        cfg["training"]["server_lr"] = float(cfg["training"].get("server_lr", 1.0)) / p["ratio"]
    priv = dict(cfg.get("privacy", {}))
    if p["epsilon_target"] is None:
        priv["level"] = "none"
        priv.pop("noise_multiplier", None)
    else:
        priv["level"] = "record"
        priv["delta"] = float(grid.get("delta", 1e-5))
        if noise_multiplier is not None:
            priv["noise_multiplier"] = float(noise_multiplier)
    cfg["privacy"] = priv
    return cfg


def _accounting_key(cfg: dict) -> str:
    """The accounting event of ``cfg`` at noise multiplier 1 (points with equal events share
    one calibration); ``ValueError`` where the engine refuses the recipe."""
    from fltheory.config import ExperimentConfig

    c = copy.deepcopy(cfg)
    c["privacy"]["noise_multiplier"] = 1.0
    return repr(ExperimentConfig.from_dict(c).accounting_event())


def _calibrate(cfg: dict, target: float, delta: float) -> float:
    """Noise multiplier whose certified ε of the engine's event is at most ``target``."""
    from fltheory.accounting import calibrate_noise
    from fltheory.config import ExperimentConfig

    def build(z):
        c = copy.deepcopy(cfg)
        c["privacy"]["noise_multiplier"] = float(z)
        return ExperimentConfig.from_dict(c).accounting_event()

    return float(calibrate_noise(build, target, delta, rtol=1e-2))


# --------------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------------
def smea_kappa(n: int, f: int) -> float:
    r"""Spectral robustness constant of SMEA: :math:`\|F-\bar x_H\|^2 \le \frac{4f}{n-2f}\lambda_{\max}(\Sigma_H)`.

    Derived (proof on the docs' compression page): for any set :math:`A` and :math:`B\subset A`
    with :math:`|A\setminus B| = m`, :math:`\|\bar x_B-\bar x_A\|^2\le\frac{m}{|A|-m}
    \lambda_{\max}(\Sigma_A)`; apply it to :math:`H\cap S^\star` inside :math:`H` and inside the
    selected :math:`S^\star` (whose :math:`\lambda_{\max}` is at most :math:`H`'s), then the triangle
    inequality.  :math:`\Sigma_H = \frac1{|H|}\sum_{i\in H}(x_i-\bar x_H)(x_i-\bar x_H)^\top`.

    Examples
    --------
    >>> smea_kappa(20, 3)
    0.8571428571428571
    """
    if not n > 2 * f:
        raise ValueError(f"n must be > 2f, got n={n}, f={f}")
    return 4.0 * f / (n - 2 * f)


def _kappa_for(rule, n: int, f: int) -> tuple[float | None, str]:
    """(κ, kind) of an engine rule: kind 'trace' (κ·honest variance) or 'spectral' (κ·λ_max)."""
    from fltheory.bounds import kappa

    name = getattr(rule, "kappa_name", None)
    if name is not None:
        return float(kappa(name, n=n, f=f, nnm=bool(getattr(rule, "nnm", False)))), "trace"
    if getattr(rule, "name", "") == "smea":
        return smea_kappa(n, f), "spectral"
    return None, "none"


def _kappa_status(rule) -> str:
    """How sure the κ behind the prediction is: the ``status``/``kind`` of its Bound."""
    from fltheory.bounds import kappa_bound

    name = getattr(rule, "kappa_name", None)
    if name is None:
        return "derived (docs)" if getattr(rule, "name", "") == "smea" else "none"
    b = kappa_bound(name, nnm=bool(getattr(rule, "nnm", False)))
    return f"{b.kind}, {b.status}"


def _support(msgs, compressor: str):
    """Columns the rule needs: the shared mask's k columns (zero elsewhere for every client)."""
    import torch

    if compressor != "randk_shared":
        return None
    return torch.nonzero(msgs.abs().sum(0) != 0).flatten()


def _time_rule(rule, x, reps: int = 1) -> tuple[Any, float]:
    best = math.inf
    value = None
    for _ in range(reps):
        t0 = time.perf_counter()
        value, _ = rule(x)
        best = min(best, time.perf_counter() - t0)
    return value, best


def _round_diagnostics(log, byz: set, rule, compressor: str, f: int) -> dict:
    import torch

    errs, preds, secs, dims, tols = [], [], [], [], []
    for ids, msgs in zip(log.client_ids, log.messages):
        honest = torch.tensor([int(i) not in byz for i in ids.tolist()], dtype=torch.bool)
        cols = _support(msgs, compressor)
        x = msgs if cols is None else msgs[:, cols]
        dims.append(int(x.shape[1]))
        value, sec = _time_rule(rule, x)
        secs.append(sec)
        h = x[honest].double()
        hm = h.mean(0)
        errs.append(float(torch.linalg.vector_norm(value.double() - hm) ** 2))
        tols.append(_rounding_tolerance(x))
        m = int(x.shape[0])
        kap, kind = _kappa_for(rule, m, min(f, max((m - 1) // 2, 0)))
        if kap is None or h.shape[0] == 0:
            preds.append(None)
            continue
        c = h - hm
        if kind == "trace":
            preds.append(kap * float((c ** 2).sum(1).mean()))
        else:
            g = c @ c.T / h.shape[0]
            preds.append(kap * float(torch.linalg.eigvalsh(g)[-1].clamp_min(0.0)))
    return {"errors": errs, "predictions": preds, "seconds": secs, "dims": dims,
            "tolerances": tols}


def _rounding_tolerance(x) -> float:
    r"""Rounding allowance of a rule computed in the messages' precision.

    A weighted sum :math:`\sum_i w_i x_i` (:math:`|w_i|\le 1`, the form of every rule's output)
    of m rows computed with unit roundoff u errs by at most :math:`m u\sum_i|x_i|` per
    coordinate, so its squared error is at most :math:`(m u)^2\, m\sum_i\|x_i\|^2`
    (Cauchy-Schwarz).  It matters only where the prediction is
    0 (no Byzantine client: CWTM and NNM∘CWTM with f = 0 are the mean, κ = 0).
    """
    import torch

    m = int(x.shape[0])
    u = float(torch.finfo(x.dtype).eps) if x.dtype.is_floating_point else 0.0
    return (m * u) ** 2 * m * float((x.double() ** 2).sum())


def within_prediction(e: float, q: float | None, tol: float = 0.0) -> bool | None:
    """``e <= q`` up to the rounding allowance ``tol`` (``None`` without a prediction).

    Examples
    --------
    >>> within_prediction(1.0, 2.0), within_prediction(1e-12, 0.0, 1e-10)
    (True, True)
    """
    if q is None or e is None:
        return None
    return bool(e <= q * (1 + 1e-9) + tol)


def _compressor_kind(p: dict, d: int) -> tuple[str, str, dict]:
    """(bounds kind, engine compressor name, its arguments) for the variance check of ``p``.

    Masks are checked in their unbiased (rescaled) form, the form ω describes: rand-k with
    ``d/k``; the secret per-record masks are Poisson(k/d) masks, rescaled by ``d/k``.
    """
    c = p["compressor"]
    k = max(1, int(round(p["ratio"] * d)))
    if c == "randk_shared":
        return "randk", "randk", {"k": k, "mask": "shared"}
    if c == "randk_secret":
        return "randk", "prune", {"keep_prob": p["ratio"], "rescale": True}
    if c in ("topk_ef", "magnitude_prune"):
        return "topk", "topk", {"k": k}
    if c == "qsgd":
        return "qsgd", "qsgd", {"s": p["levels"]}
    if c == "scaled_sign":
        return "scaled_sign", "scaled_sign", {}
    return "none", "identity", {}


def _variance_check(x, p: dict, draws: int, seed: int) -> dict:
    """Measured E||Q(x)-x||^2 / ||x||^2 on honest messages vs ω or 1-δ of fltheory.bounds.

    ``compressor_variance_se`` is the standard error over the ``draws`` independent draws (0 for
    deterministic compressors); the check passes when the mean is at most the bound plus three
    standard errors.
    """
    import torch

    from fltheory.bounds import compressor_variance, is_unbiased
    from fltheory.fl import compressors

    d = int(x.shape[1])
    k = max(1, int(round(p["ratio"] * d)))
    kind, name, kw = _compressor_kind(p, d)
    comp = compressors.get(name, **kw)
    norm = max(float(torch.linalg.vector_norm(x.double()) ** 2), 1e-300)
    ratios = []
    for r in range(draws):
        q, _ = comp(x, generator=seed * 1000 + r)
        ratios.append(float(torch.linalg.vector_norm((q - x).double()) ** 2) / norm)
    ratios = np.array(ratios)
    se = float(ratios.std(ddof=1) / math.sqrt(len(ratios))) if len(ratios) > 1 else 0.0
    bound = float(compressor_variance(kind, d, k=k, levels=p.get("levels")))
    return {"compressor_variance_measured": float(ratios.mean()),
            "compressor_variance_se": se, "compressor_variance_bound": bound,
            "compressor_unbiased": bool(is_unbiased(kind)), "compressor_variance_k": k}


def variance_within_bound(p: dict) -> bool | None:
    """Whether the measured compressor variance is at most its bound plus three standard errors.

    Examples
    --------
    >>> variance_within_bound({"compressor_variance_measured": 10.4,
    ...                        "compressor_variance_se": 0.2, "compressor_variance_bound": 10.0})
    True
    """
    if "compressor_variance_measured" not in p:
        return None
    return bool(p["compressor_variance_measured"]
                <= p["compressor_variance_bound"] * (1 + 1e-9) + 3 * p["compressor_variance_se"])


def _bits_predicted(p: dict, d: int) -> float:
    from fltheory.bounds import bits_per_round

    c = p["compressor"]
    k = max(1, int(round(p["ratio"] * d)))
    if c == "randk_secret" and p["epsilon_target"] is None:
        return float(bits_per_round("randk", d, k))   # per-client mask on the update: positions
    if c in ("none", "randk_secret"):
        return float(bits_per_round("none", d))
    if c == "randk_shared":
        return float(bits_per_round("randk", d, k, index_coding="seed"))
    if c in ("topk_ef", "magnitude_prune"):
        return float(bits_per_round("topk", d, k))
    if c == "qsgd":
        return float(bits_per_round("qsgd", d, levels=p["levels"]))
    return float(bits_per_round("scaled_sign", d))


def _honest_bits(metrics: list, p: dict, d: int, cfg: ExperimentConfig) -> list:
    """Bits per honest client per round.

    The engine's ``bits`` also counts the messages of update-attack Byzantine clients, at the
    compressor's size -- or at 32 d bits when the compression is a mask inside the mechanism (no
    update-stage compressor); the protocol's cost is what an honest client sends.
    """
    out = []
    update = p["attack"] in _UPDATE_ATTACKS
    per_byz = 32.0 * d if cfg.compression.stage == "mechanism" or p["compressor"] == "none" \
        else _bits_predicted(p, d)
    for m in metrics:
        byz = int(m["byzantine"]) if update else 0
        honest = max(int(m["clients"]) - byz, 1)
        out.append((m["bits"] - byz * per_byz) / honest)
    return out


def _dataset(cfg: ExperimentConfig):
    """The synthetic task at large d without its exact optimum (a d x d Newton solve).

    Same law as :func:`fltheory.fl.data.synthetic_logistic` without heterogeneity: features
    :math:`\\mathcal N(0, I_d)`, labels Bernoulli(σ(x·w + b)) for a planted unit-norm w; 200
    test records.  ``None`` (the engine builds the data) for every other task.
    """
    import torch

    from fltheory.fl.data import FederatedDataset

    d = cfg.data
    if d.name != "synthetic_logistic":
        return None
    rng = np.random.default_rng([int(cfg.seed), 8])
    w = rng.standard_normal(d.dim)
    w /= np.linalg.norm(w)
    b = 0.1 * rng.standard_normal()

    def draw(m):
        x = rng.standard_normal((m, d.dim), dtype=np.float32)
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        return torch.from_numpy(x), torch.from_numpy((rng.random(m) < p).astype(np.int64))

    xs, ys = zip(*(draw(int(d.samples_per_client)) for _ in range(d.num_clients)))
    xt, yt = draw(200)
    return FederatedDataset(list(xs), list(ys), xt, yt, task="classification", num_classes=2,
                            name=f"planted_logistic(d={d.dim})")


def _run_point(grid: dict, p: dict, noise: float | None, variance_draws: int) -> dict:
    """Run one point on the engine and measure it (executed in a joblib worker)."""
    import torch

    from fltheory.config import ExperimentConfig
    from fltheory.fl import aggregators, simulate

    out = dict(p)
    cfg_dict = point_config(grid, p, noise)
    out["noise_multiplier"] = noise
    try:
        cfg = ExperimentConfig.from_dict(cfg_dict)
    except ValueError as exc:
        out.update(skipped=True, reason=str(exc))
        return out
    data = _dataset(cfg)
    t0 = time.perf_counter()
    run = simulate(cfg, record_messages=True, progress=False, dataset=data)
    out["run_seconds"] = time.perf_counter() - t0
    d = int(run.info["num_params"])
    f = int(cfg.byzantine.num_byzantine)
    n = int(cfg.data.num_clients)
    k = d if p["compressor"] in _RATIO_FREE + ("qsgd",) else max(1, int(round(p["ratio"] * d)))
    byz = set(run.byzantine_ids)
    rule = aggregators.get(p["aggregator"], f=f)
    diag = _round_diagnostics(run.messages, byz, rule, p["compressor"], f)
    bits = _honest_bits(run.metrics, p, d, cfg)
    g = run.guarantee
    checks = [within_prediction(e, q, t) for e, q, t in zip(diag["errors"], diag["predictions"],
                                                            diag["tolerances"])]
    checks = [c for c in checks if c is not None]
    out.update(
        skipped=False, d=d, k=k, n=n, f=f, rounds=run.rounds,
        accuracy=run.last("accuracy"), loss=run.last("loss"),
        bits=float(np.mean(bits)), bits_predicted=_bits_predicted(p, d),
        bits_engine=float(np.mean([m["bits"] / max(m["clients"], 1) for m in run.metrics])),
        epsilon=math.inf if g is None else float(g.epsilon),
        epsilon_lower=None if g is None else g.epsilon_lower,
        accounting_event=repr(run.accounting_event),
        accounting_method=run.info.get("accounting_method"),
        aggregation_seconds=float(np.median(diag["seconds"])),
        aggregation_dim=int(np.median(diag["dims"])),
        robust_error_measured=diag["errors"],
        robust_error_predicted=diag["predictions"],
        robust_error_engine=[m.get("agg_error") for m in run.metrics],
        robust_error_tolerance=diag["tolerances"],
        rounds_within_prediction=sum(checks), rounds_with_prediction=len(checks),
        kappa_kind=_kappa_for(rule, n, f)[1], kappa_status=_kappa_status(rule),
    )
    # compressor variance on the honest messages of round 1 before compression: the dense run
    # of the same recipe sends them, so rerun round 1 without compression
    if p["compressor"] != "none" and variance_draws > 0:
        dense = copy.deepcopy(cfg_dict)
        dense["compression"] = {"name": "none"}
        dense["training"]["rounds"] = 1
        dense["byzantine"] = {"num_byzantine": 0, "attack": "none", "aggregator": "mean"}
        r1 = simulate(ExperimentConfig.from_dict(dense), record_messages=True, progress=False,
                      dataset=data)
        ids = r1.messages.client_ids[0].tolist()
        x = r1.messages.messages[0][torch.tensor([i not in byz for i in ids])]
        out.update(_variance_check(x, p, variance_draws, p["seed"]))
    if p.get("time_rules"):
        out["rule_seconds"] = _time_rules(run.messages, p["time_rules"], f, p["compressor"])
    return out


def _time_rules(log, names: list, f: int, compressor: str) -> dict:
    from fltheory.fl import aggregators

    res = {}
    for name in names:
        rule = aggregators.get(name, f=f)
        secs = []
        for msgs in log.messages:
            cols = _support(msgs, compressor)
            x = msgs if cols is None else msgs[:, cols]
            secs.append(_time_rule(rule, x, reps=2)[1])
        res[name] = float(np.median(secs))
    return res


def smea_dense_timing(x, f: int, dims: Iterable[int], reps: int = 2) -> dict:
    r"""Wall time of exact SMEA on the :math:`d\times d` covariance of each subset (the d³ regime).

    ``x``: ``(n, D)`` messages; for each ``d`` in ``dims`` the first d coordinates are used.  The
    subset chosen is checked against the engine's (Gram) SMEA.  Returns ``{"dims", "seconds",
    "exponent", "agrees"}`` with the log-log slope over the three largest dims.
    """
    import torch

    from fltheory.fl import aggregators

    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    subsets = list(itertools.combinations(range(n), n - f))
    out_d, out_s, agrees = [], [], True
    for d in dims:
        if d > x.shape[1]:
            continue
        xs = x[:, :d]
        best = math.inf
        for _ in range(reps):
            t0 = time.perf_counter()
            lam = []
            for s in subsets:
                y = xs[list(s)]
                yc = y - y.mean(0)
                lam.append(np.linalg.eigvalsh(yc.T @ yc / len(s))[-1])
            sel = subsets[int(np.argmin(lam))]
            best = min(best, time.perf_counter() - t0)
        _, info = aggregators.get("smea", f=f)(torch.from_numpy(xs))
        agrees = agrees and list(info.selected) == list(sel)
        out_d.append(int(d))
        out_s.append(best)
    slope = None
    if len(out_d) >= 3:
        slope = float(np.polyfit(np.log(out_d[-3:]), np.log(out_s[-3:]), 1)[0])
    return {"dims": out_d, "seconds": out_s, "exponent": slope, "agrees": bool(agrees),
            "n": n, "f": f}


def _smea_dense_item(grid: dict, seed: int) -> dict:
    """SMEA dense timing on engine messages of the synthetic task (largest dim needed)."""
    from fltheory.config import ExperimentConfig
    from fltheory.fl import simulate

    sd = grid.get("smea_dense", DEFAULT_GRID["smea_dense"])
    task = next((t for t in grid["tasks"]
                 if grid["tasks"][t]["data"]["name"].startswith("synthetic")), None)
    if task is None:
        return {"skipped": True, "reason": "the grid has no synthetic task"}
    cfg = copy.deepcopy(grid["tasks"][task])
    cfg["seed"] = seed
    cfg["data"]["num_clients"] = int(sd["n"])
    cfg["data"]["dim"] = max(int(max(sd["dims"])), int(cfg["data"].get("dim", 0)))
    cfg["training"]["rounds"] = 1
    cfg["privacy"]["level"] = "none"
    c = ExperimentConfig.from_dict(cfg)
    run = simulate(c, record_messages=True, progress=False, dataset=_dataset(c))
    return smea_dense_timing(run.messages.messages[0].numpy(), int(sd["f"]), sd["dims"])


def _item(kind: str, *args) -> dict:
    """One point of the grid (run by :func:`fltheory.sweep.run_points`, with one torch thread)."""
    if kind == "point":
        return _run_point(*args)
    return _smea_dense_item(*args)


# --------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------
def run_compression_grid(grid: Any = None, *, seeds: Any = None, quick: bool = False,
                         jobs: int = 1, progress: bool = False, backend: str | None = None,
                         scheduler: str | None = None, client: Any = None,
                         points_dir: Any = None, resume: bool = True) -> dict:
    """Run experiment 9's grid; return the JSON-ready results (``{"points": [...], ...}``).

    Parameters
    ----------
    grid : dict or path, optional
        The grid (default :data:`DEFAULT_GRID`); a TOML path is read with :func:`load_grid`.
    seeds : str or iterable of int, optional
        Seeds (``"0..4"``); default the grid's ``seeds``.
    quick : bool
        Apply the grid's ``[quick]`` table (the reduced version, about a minute).
    jobs : int
        Parallel points (joblib processes or local Dask workers; ``-1``: every core).
    progress : bool
        Print one line per point on stderr (after the grid has run).
    backend, scheduler, client : optional
        Where the points run (:func:`fltheory.sweep.run_points`): ``"serial"``, ``"joblib"``,
        ``"dask"`` (a Dask cluster at ``scheduler``, an existing ``client``, or a local one of
        ``jobs`` workers) or another joblib backend; default serial for ``jobs=1``, else joblib.
    points_dir : str or path, optional
        One file per finished point here; with ``resume`` the points already there with the
        same configuration hash are loaded instead of run, so an interrupted grid resumes.
    resume : bool
        See ``points_dir``.

    Returns
    -------
    dict
        ``points`` (one dict per point, see the module docstring), ``smea_dense`` (the d³ timing),
        ``calibration`` (noise multiplier per recipe and target ε), ``summary``
        (:func:`summarize`), ``grid`` and ``runtime_seconds``.

    Examples
    --------
    >>> res = run_compression_grid(quick=True)   # doctest: +SKIP
    >>> res["summary"]["fraction_within_prediction"] >= 0.95   # doctest: +SKIP
    True
    """
    from fltheory.sweep import check_executor, parse_seeds, run_points

    t0 = time.perf_counter()
    check_executor(backend, jobs, scheduler)
    g = load_grid(grid, quick=quick)
    seeds = parse_seeds(seeds) if seeds is not None else [int(s) for s in g.get("seeds", [0])]
    points = expand_points(g, seeds)
    delta = float(g.get("delta", 1e-5))
    calib: dict[str, float] = {}
    noises = []
    for p in points:
        if p["epsilon_target"] is None:
            noises.append(None)
            continue
        cfg = point_config(g, p, 1.0)
        try:
            key = _accounting_key(cfg) + f"|{p['epsilon_target']}"
        except ValueError:
            noises.append(None)        # the engine refuses this recipe; the point says why
            continue
        if key not in calib:
            calib[key] = _calibrate(cfg, p["epsilon_target"], delta)
        noises.append(calib[key])
    draws = int(g.get("variance_draws", 10))
    items = [("point", g, p, z, draws) for p, z in zip(points, noises)]
    items.append(("smea_dense", g, seeds[0]))
    # what each point depends on (its file is reused by a resumed grid while this is unchanged)
    ids = [{"config": point_config(g, p, z), "point": p, "variance_draws": draws}
           for p, z in zip(points, noises)]
    ids.append({"smea_dense": g.get("smea_dense", DEFAULT_GRID["smea_dense"]),
                "tasks": g["tasks"], "seed": seeds[0]})
    labels = [f"compression-runs.{p['task']}.{p['compressor']}.r{p['ratio']:g}."
              f"eps{p['epsilon_target'] or 'none'}.{p['attack']}.{p['aggregator']}."
              f"seed{p['seed']}" + (f".d{p['dim']}" if p.get("dim") else "") for p in points]
    labels.append(f"compression-runs.smea-dense.seed{seeds[0]}")
    results = run_points(_item, items, identities=ids, labels=labels, backend=backend,
                         jobs=jobs, scheduler=scheduler, client=client, points_dir=points_dir,
                         resume=resume, desc="points")[0]
    if progress:
        for r in results:
            _report(r)
    pts, smea = results[:-1], results[-1]
    res = {"experiment": "compression-runs", "grid": g, "seeds": seeds, "quick": bool(quick),
           "points": pts, "smea_dense": smea,
           "calibration": [{"event_at_z1": k.split("|")[0],
                            "epsilon_target": float(k.split("|")[1]), "noise_multiplier": v}
                           for k, v in calib.items()],
           "runtime_seconds": time.perf_counter() - t0}
    res["cost_model"] = _cost_model(pts)
    res["theory"] = _theory(g, pts, calib)
    res["summary"] = summarize(res)
    return res


def _rule_cost_args(name: str) -> tuple[str, bool]:
    parts = name.split("+")
    return parts[-1], parts[:-1] == ["nnm"]


def _cost_model(pts: list) -> dict:
    """Flops of :func:`fltheory.bounds.aggregation_cost` over the timed dimensions, per rule."""
    from fltheory.bounds import aggregation_cost

    timed = [p for p in pts if not p.get("skipped") and p.get("rule_seconds")]
    if not timed:
        return {}
    n, f = timed[0]["n"], timed[0]["f"]
    dims = sorted({int(p["aggregation_dim"]) for p in timed})
    grid = np.unique(np.geomspace(min(dims), max(dims), 30).astype(int))
    out = {}
    for rule in timed[0]["rule_seconds"]:
        base, nnm = _rule_cost_args(rule)
        c = aggregation_cost(base, n=n, f=f, d=grid.astype(float), nnm=nnm)
        out[rule] = {"dims": grid.tolist(), "flops": np.asarray(c["flops"], float).tolist(),
                     "n": n, "f": f, "model": c["model"]}
    return out


def _theory(grid: dict, pts: list, calib: dict) -> dict | None:
    """compression_tradeoff at the accuracy slice's d, n, f, rule and calibrated noise."""
    from fltheory.tradeoffs import compression_tradeoff, pareto_front

    run = [p for p in pts if not p.get("skipped") and p["compressor"] == "none"
           and p["epsilon_target"] is not None and p["attack"] != "none"]
    if not run:
        return None
    p = run[0]
    task = grid["tasks"][p["task"]]
    ratios = sorted({q["ratio"] for q in pts if q["ratio"] < 1.0})
    ks = sorted({max(1, int(round(r * p["d"]))) for r in ratios}) or None
    base, nnm = _rule_cost_args(p["aggregator"])
    if base not in ("cwtm", "cwmed", "gm", "krum", "multikrum"):
        base, nnm = "cwtm", False
    m = task["data"].get("samples_per_client") or 1437 // task["data"]["num_clients"]
    b = max(1, int(round(task["privacy"]["batch_rate"] * m)))
    table = compression_tradeoff(p["d"], ks, n=p["n"], f=p["f"], aggregator=base, nnm=nnm,
                                 noise_multiplier=p["noise_multiplier"],
                                 delta=float(grid.get("delta", 1e-5)),
                                 rounds=int(task["training"]["rounds"]), batch_size=b,
                                 clip=float(task["privacy"]["clip"]))
    objectives = ["bits", "robust_error_rel", "epsilon", "flops"]
    front = pareto_front(table, objectives)
    out = table.to_dict()
    out["meta"]["epsilon_target"] = p["epsilon_target"]
    out["pareto_front"] = front.tolist()
    out["objectives"] = objectives
    return out


def _report(p: dict) -> None:
    import sys

    if "compressor" not in p:
        return
    if p.get("skipped"):
        sys.stderr.write(f"skipped {p['compressor']} k/d={p['ratio']}: {p['reason'][:80]}\n")
        return
    sys.stderr.write(f"{p['task']} {p['compressor']} k/d={p['ratio']} eps={p['epsilon']:.3g} "
                     f"{p['attack']} {p['aggregator']}: acc={p['accuracy']} "
                     f"({p['run_seconds']:.1f} s)\n")


def summarize(res: dict) -> dict:
    """Fraction of rounds with measured robust error ≤ prediction (overall, per rule, per attack).

    Examples
    --------
    >>> summarize({"points": []})["rounds_with_prediction"]
    0
    """
    pts = [p for p in res.get("points", []) if not p.get("skipped")]
    tot = sum(p["rounds_with_prediction"] for p in pts)
    ok = sum(p["rounds_within_prediction"] for p in pts)

    def by(key):
        out: dict = {}
        for p in pts:
            if not p["rounds_with_prediction"]:
                continue
            o = out.setdefault(str(p[key]), [0, 0])
            o[0] += p["rounds_within_prediction"]
            o[1] += p["rounds_with_prediction"]
        return {k: {"within": a, "rounds": b, "fraction": a / b} for k, (a, b) in out.items()}

    bits_ok = sum(math.isclose(p["bits"], p["bits_predicted"], rel_tol=1e-9) for p in pts)
    eps_ok = sum(p["epsilon_target"] is None or p["epsilon"] <= p["epsilon_target"] * (1 + 1e-6)
                 for p in pts)
    var = [p for p in pts if "compressor_variance_measured" in p]
    var_ok = sum(bool(variance_within_bound(p)) for p in var)
    return {"points": len(res.get("points", [])), "points_run": len(pts),
            "points_skipped": len(res.get("points", [])) - len(pts),
            "rounds_with_prediction": tot, "rounds_within_prediction": ok,
            "fraction_within_prediction": ok / tot if tot else None,
            "by_aggregator": by("aggregator"), "by_attack": by("attack"),
            "by_compressor": by("compressor"),
            "bits_match": [bits_ok, len(pts)], "epsilon_within_target": [eps_ok, len(pts)],
            "variance_within_bound": [var_ok, len(var)]}


def load_results(path: Any) -> dict:
    """A ``compression-runs.json`` written by :func:`write_results`."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"results file not found: {p}")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not a JSON file: {exc}") from None
    if data.get("experiment") != "compression-runs" or "points" not in data:
        raise ValueError(f"{p}: not a compression-runs.json (no 'points')")
    legacy = [q for q in data["points"] if q.get("compressor") == "sign"]
    if legacy:   # the grid never ran the plain sign: "sign" there was the scaled sign
        warnings.warn(f"{p}: compressor 'sign' in results of an earlier release is the scaled "
                      "sign, renamed 'scaled_sign'", DeprecationWarning, stacklevel=2)
        for q in legacy:
            q["compressor"] = "scaled_sign"
    return data


def write_results(res: dict, out_dir: Any) -> str:
    """Write ``compression-runs.json`` into ``out_dir`` atomically; return its path."""
    from fltheory._io import write_json_atomic

    return write_json_atomic(Path(out_dir) / "compression-runs.json", res)
