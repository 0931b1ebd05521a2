r"""Defense sweeps: attack success vs test accuracy for DP noise and noise-free defenses.

:func:`defense_sweep` runs one attack (source inference or passive MIA, the cheap ones) on a
FedAvg run of the planted-attribute task (:func:`~fltheory.audit._fedtrace.sensitive_tabular`)
for every setting of every defense:

* ``dp`` -- record-level DP-SGD inside the clients, noise multiplier :math:`z` (its ε from
  :func:`fltheory.accounting.local_dp_sgd`, one record of one client, all clients every round);
* ``topk`` -- magnitude pruning of the update (keep the ``k`` largest coordinates);
* ``randk`` -- random pruning (``k`` random coordinates, secret mask, unbiased scaling);
* ``prune`` -- Bernoulli random pruning mask with keep probability ``p`` (no rescaling);
* ``qsgd`` -- stochastic quantization with ``s`` levels;
* ``batch`` -- Poisson batch sampling rate of the local steps (no noise).

Each point records the defense, its parameter, the attack's success (accuracy or AUC) with its
interval, the final model's test accuracy, the ε where one exists, and the seed.  Mixup is not
swept yet.

**ε-equivalent** (:func:`epsilon_equivalent`).  For a noise-free point with attack success
:math:`a`, the DP points give a curve :math:`\varepsilon \mapsto a_{\mathrm{DP}}(\varepsilon)`;
the ε-equivalent is the ε at which this curve reaches :math:`a` (log-linear interpolation
between the two DP points that bracket it), reported with the DP model's accuracy there for the
utility comparison.  It is an *empirical equivalence against this one attack on this one task*,
**not a differential-privacy guarantee**: a stronger attack, another dataset or a worst-case
neighbouring pair can leak far more from a noise-free defense, whose worst-case ε is infinite.
Every returned record carries ``"kind": "empirical equivalence, not a DP guarantee"``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from .._checks import check_choice, check_int
from ..fl import compressors as _compressors
from ._fedtrace import run_fedavg, sensitive_tabular
from .passive_mia import passive_mia
from .source_inference import source_inference

__all__ = ["DEFAULT_DEFENSES", "defense_sweep", "epsilon_equivalent", "plot_sweep", "run_config",
           "main"]

#: Reduced grid (a few seconds): parameters of each defense.
DEFAULT_DEFENSES: dict[str, list[float]] = {
    "dp": [0.0, 1.0, 4.0, 16.0, 64.0],
    "topk": [100, 20, 5],
    "randk": [100, 20, 5],
    "prune": [0.5, 0.1],
    "qsgd": [4, 1],
    "batch": [0.5, 0.1],
}

EQUIVALENCE_KIND = "empirical equivalence, not a DP guarantee"

_TASKS = {
    "source": dict(num_clients=10, samples_per_client=10, dim=20, label_noise=0.2,
                   client_shift=0.0, client_specific=False, signal=3.0, held_out=100),
    "passive_mia": dict(num_clients=5, samples_per_client=100, dim=100, label_noise=0.1,
                        client_specific=False, signal=3.0),
}
_RUNS = {
    "source": dict(rounds=10, local_steps=10, lr=1.0),
    "passive_mia": dict(rounds=20, local_steps=10, lr=0.5),
}


def _compressor(defense: str, value: float) -> Any:
    if defense == "topk":
        return _compressors.get("topk", k=int(value))
    if defense == "randk":
        return _compressors.get("randk", k=int(value))
    if defense == "prune":
        return _compressors.get("prune", keep_prob=float(value))
    if defense == "qsgd":
        return _compressors.get("qsgd", s=int(value))
    return None


def _test_accuracy(model: Any, params: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    w, b = model._split(params)
    z = (x.reshape(-1, x.shape[-1]) @ w.T + b).squeeze(-1)
    return float(((z > 0).to(y.dtype) == y.reshape(-1)).double().mean())


def defense_sweep(attack: str = "source", defenses: Mapping[str, Sequence[float]] | None = None,
                  *, seed: int = 0, clip: float = 1.0) -> list[dict]:
    """Run ``attack`` under every defense setting; one JSON-ready dict per point.

    Parameters
    ----------
    attack : {"source", "passive_mia"}
    defenses : mapping, optional
        Defense name -> parameter values (default :data:`DEFAULT_DEFENSES`).  ``dp`` value 0 is
        the undefended run.
    seed : int
        Seed of the task and of the run (recorded in every point).
    clip : float
        Clipping norm of the DP runs.

    Examples
    --------
    >>> pts = defense_sweep("source", {"dp": [0.0, 64.0], "topk": [5]}, seed=0)
    >>> [(p["defense"], p["parameter"]) for p in pts]
    [('dp', 0.0), ('dp', 64.0), ('topk', 5)]
    >>> pts[0]["success"] > pts[1]["success"]
    True
    """
    attack = check_choice("attack", attack, ("source", "passive_mia"))
    seed = check_int("seed", seed, minimum=0)
    grid = DEFAULT_DEFENSES if defenses is None else defenses
    for name in grid:
        check_choice("defense", name, tuple(DEFAULT_DEFENSES))
    task = sensitive_tabular(**_TASKS[attack], seed=seed)
    model = task.model()
    out = []
    for name, values in grid.items():
        for v in values:
            kw = dict(_RUNS[attack], seed=seed)
            if name == "dp" and float(v) > 0:
                kw.update(clip=clip, noise_multiplier=float(v))
            elif name == "batch":
                kw.update(batch_rate=float(v))
            elif name != "dp":
                kw.update(compressor=_compressor(name, v))
            tr = run_fedavg(model, task.x, task.y, **kw)
            if attack == "source":
                r = source_inference(model, tr, task.x, task.y)
                success, ci, base, metric = r.accuracy, r.ci, r.baseline, "accuracy"
            else:
                r = passive_mia(model, tr, range(task.num_clients), (task.x, task.y),
                                (task.x_out, task.y_out), bootstrap=200, seed=seed)
                success, ci, base, metric = r.auc, r.auc_ci, 0.5, "auc"
            out.append({
                "attack": attack, "defense": name, "parameter": v, "metric": metric,
                "success": float(success), "success_ci": [float(ci[0]), float(ci[1])],
                "baseline": float(base),
                "test_accuracy": _test_accuracy(model, tr.final, task.x_out, task.y_out),
                "epsilon": None if math.isinf(tr.epsilon) else float(tr.epsilon),
                "delta": tr.delta, "seed": seed,
            })
    return out


def epsilon_equivalent(points: Sequence[Mapping[str, Any]]) -> list[dict]:
    r"""ε-equivalent of every noise-free point (an empirical equivalence, not a guarantee).

    Returns one dict per non-``dp`` point with ``epsilon_equivalent`` (``None`` when its attack
    success is outside the range the DP curve covers: below the most private DP point it is
    reported as ``"< eps_min"`` in ``note``, above the least private one as ``"> eps_max"``),
    ``dp_accuracy_at_equivalent`` and ``kind`` = ``"empirical equivalence, not a DP
    guarantee"``.

    Examples
    --------
    >>> dp = [{"defense": "dp", "epsilon": e, "success": s, "test_accuracy": a}
    ...       for e, s, a in [(1.0, 0.1, 0.6), (10.0, 0.3, 0.7), (None, 0.5, 0.8)]]
    >>> eq = epsilon_equivalent(dp + [{"defense": "topk", "parameter": 5, "success": 0.2,
    ...                                "test_accuracy": 0.75}])
    >>> round(eq[0]["epsilon_equivalent"], 3), eq[0]["kind"]
    (3.162, 'empirical equivalence, not a DP guarantee')
    """
    dp = sorted((p for p in points if p["defense"] == "dp" and p.get("epsilon") is not None),
                key=lambda p: p["epsilon"])
    res = []
    eps = np.array([p["epsilon"] for p in dp], dtype=float)
    suc = np.array([p["success"] for p in dp], dtype=float)
    acc = np.array([p["test_accuracy"] for p in dp], dtype=float)
    # enforce a monotone (non-decreasing in eps) success curve before inverting it
    suc_m = np.maximum.accumulate(suc) if suc.size else suc
    for p in points:
        if p["defense"] == "dp":
            continue
        rec = {"defense": p["defense"], "parameter": p.get("parameter"),
               "success": p["success"], "test_accuracy": p["test_accuracy"],
               "epsilon_equivalent": None, "dp_accuracy_at_equivalent": None, "note": "",
               "kind": EQUIVALENCE_KIND}
        if eps.size < 2:
            rec["note"] = "fewer than two DP points"
        elif p["success"] <= suc_m[0]:
            rec["note"] = f"< {eps[0]:.3g} (as hard to attack as the most private DP point)"
        elif p["success"] > suc_m[-1]:
            rec["note"] = f"> {eps[-1]:.3g} (leaks more than the least private DP point)"
        else:
            j = int(np.searchsorted(suc_m, p["success"]))
            j = max(j, 1)
            s0, s1 = suc_m[j - 1], suc_m[j]
            f = 0.0 if s1 == s0 else (p["success"] - s0) / (s1 - s0)
            rec["epsilon_equivalent"] = float(np.exp((1 - f) * np.log(eps[j - 1])
                                                     + f * np.log(eps[j])))
            rec["dp_accuracy_at_equivalent"] = float((1 - f) * acc[j - 1] + f * acc[j])
        res.append(rec)
    return res


def plot_sweep(points: Sequence[Mapping[str, Any]], path: str | None = None) -> Any:
    """Privacy-utility figure: attack success vs test accuracy, one curve per defense.

    Returns the matplotlib figure; writes PDF and PNG next to ``path`` (without suffix) if given.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for name in dict.fromkeys(p["defense"] for p in points):
        pts = [p for p in points if p["defense"] == name]
        ax.plot([p["test_accuracy"] for p in pts], [p["success"] for p in pts], "o-", label=name)
        for p in pts:
            lab = (f"ε={p['epsilon']:.2g}" if name == "dp" and p.get("epsilon") else
                   f"{p['parameter']:g}")
            ax.annotate(lab, (p["test_accuracy"], p["success"]), fontsize=6,
                        textcoords="offset points", xytext=(3, 3))
    base = points[0]["baseline"]
    ax.axhline(base, color="k", ls=":", lw=1, label="trivial baseline")
    ax.set_xlabel("test accuracy of the final model")
    ax.set_ylabel(f"attack success ({points[0]['metric']}, {points[0]['attack']})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        import os
        import tempfile
        from pathlib import Path

        stem = Path(path).with_suffix("")
        stem.parent.mkdir(parents=True, exist_ok=True)
        for ext in (".pdf", ".png"):
            fd, tmp = tempfile.mkstemp(prefix=f".{stem.name}.", suffix=ext, dir=stem.parent)
            os.close(fd)
            try:
                fig.savefig(tmp, dpi=150)
                os.replace(tmp, str(stem) + ext)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
    return fig


def run_config(config: str | Mapping[str, Any], out_dir: str | None = None) -> dict:
    """Run the sweep a TOML file (or dict) describes; write ``<name>.json`` and the figure.

    Keys: ``name``, ``attack``, ``seeds`` (list), ``clip``, and a ``[defenses]`` table
    (defense -> list of parameters, see :data:`DEFAULT_DEFENSES`).  The JSON holds the
    configuration, every point with its seed, and the ε-equivalents per seed, each labelled
    ``"empirical equivalence, not a DP guarantee"``.

    Examples
    --------
    >>> res = run_config({"name": "t", "attack": "source", "seeds": [0],
    ...                   "defenses": {"dp": [0.0, 64.0], "prune": [0.1]}})
    >>> len(res["points"]), res["epsilon_equivalent"][0]["kind"]
    (3, 'empirical equivalence, not a DP guarantee')
    """
    if not isinstance(config, Mapping):
        import tomllib

        with open(config, "rb") as fh:
            config = tomllib.load(fh)
    cfg = dict(config)
    name = str(cfg.get("name", "leakage"))
    attack = cfg.get("attack", "source")
    seeds = [check_int("seeds", s, minimum=0) for s in cfg.get("seeds", [0])]
    defenses = cfg.get("defenses") or None
    points, eq = [], []
    for sd in seeds:
        pts = defense_sweep(attack, defenses, seed=sd, clip=float(cfg.get("clip", 1.0)))
        points += pts
        eq += [dict(e, seed=sd) for e in epsilon_equivalent(pts)]
    result = {"config": cfg, "points": points, "epsilon_equivalent": eq,
              "note": "epsilon_equivalent is an empirical equivalence against this attack on "
                      "this task, not a differential-privacy guarantee"}
    if out_dir is not None:
        from pathlib import Path

        from .._io import write_json_atomic

        write_json_atomic(Path(out_dir) / f"{name}.json", result)
        import matplotlib.pyplot as plt

        for sd in seeds:
            fig = plot_sweep([p for p in points if p["seed"] == sd],
                             str(Path(out_dir) / f"{name}_seed{sd}"))
            plt.close(fig)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fltheory.audit.sweeps CONFIG.toml [--out DIR]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m fltheory.audit.sweeps",
                                 description="Defense sweep of one leakage attack.")
    ap.add_argument("config", help="TOML file, e.g. experiments/leakage/leakage_source.toml")
    ap.add_argument("--out", default="results/leakage", help="output directory")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    res = run_config(args.config, args.out)
    for p in res["points"]:
        eps = "inf" if p["epsilon"] is None else f"{p['epsilon']:.3g}"
        print(f"seed={p['seed']} {p['defense']:6s} {p['parameter']!s:>6s}  "
              f"{p['metric']}={p['success']:.3f} [{p['success_ci'][0]:.3f}, "
              f"{p['success_ci'][1]:.3f}]  test_acc={p['test_accuracy']:.3f}  eps={eps}")
    for e in res["epsilon_equivalent"]:
        val = "-" if e["epsilon_equivalent"] is None else f"{e['epsilon_equivalent']:.3g}"
        print(f"eps-equivalent (empirical, not a guarantee) {e['defense']} {e['parameter']}: "
              f"{val} {e['note']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
