"""``fltheory plot compression-runs`` and ``fltheory tradeoff --validate``: experiment 9.

Both are hooked into existing commands (``plot`` and ``tradeoff``) with a one-line dispatch; the
handlers live here and import the runner lazily.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = ["plot_compression_runs", "validate_tradeoff", "validation_rows"]


def plot_compression_runs(args) -> int:
    """``fltheory plot compression-runs [--quick] [--seeds S] [--config TOML] [--from JSON]
    [--backend B] [--jobs N] [--scheduler ADDRESS] [--points DIR] [--resume] --out DIR``: run
    (or load) the grid, write ``compression-runs.json``, draw."""
    from fltheory.cli import emit
    from fltheory.compression_runs import (load_results, run_compression_grid,
                                                       write_results)
    from fltheory._cli_plot import grid_executor, grid_options, resume_hint
    from fltheory.plots.compression_runs import draw_compression_runs

    out = Path(args.out)
    if args.source is not None:
        extra = grid_options(args)
        if extra:
            raise ValueError(f"{extra[0]} cannot be combined with --from (the results are "
                             "already computed)")
        res = load_results(args.source)
        files = draw_compression_runs(res, out)
    else:
        ex = grid_executor(args)
        with resume_hint(ex):
            res = run_compression_grid(args.config, seeds=args.seeds, quick=args.quick, **ex)
        files = [write_results(res, out)] + draw_compression_runs(res, out)
    s = res.get("summary", {})

    def render() -> None:
        for p in files:
            print(p)
        fr = s.get("fraction_within_prediction")
        print(f"points run {s.get('points_run')} (skipped {s.get('points_skipped')}); "
              f"robust error <= prediction in "
              f"{'n/a' if fr is None else f'{100 * fr:.1f} %'} of "
              f"{s.get('rounds_with_prediction')} rounds; grid runtime "
              f"{res.get('runtime_seconds', float('nan')):.0f} s")

    emit({"figure": "compression-runs", "files": [str(f) for f in files], "summary": s},
         getattr(args, "json", False), render)
    return 0


def validation_rows(res: dict) -> list[dict]:
    """Theory and measurement side by side, one row per (task, compressor, k/d).

    Theory: bits of :func:`fltheory.bounds.bits_per_round`; ω or 1−δ of
    :func:`fltheory.bounds.compressor_variance`; ε of T un-subsampled Gaussian releases at the
    run's noise multiplier (:func:`fltheory.bounds.gaussian_epsilon`, an upper bound of the run's
    subsampled mechanism) and the target ε; κ of :func:`fltheory.bounds.kappa`.  Measured: the
    engine's bits per honest client, the compressor's variance ratio on honest messages (within
    three standard errors of its draws), the
    certified ε of the executed event, and the rounds with robust error ≤ κ·honest variance.

    Examples
    --------
    >>> validation_rows({"points": []})
    []
    """
    from fltheory.bounds import gaussian_epsilon
    from fltheory.compression_runs import variance_within_bound

    groups: dict = {}
    for p in res.get("points", []):
        if p.get("skipped"):
            continue
        key = (p["task"], p["compressor"], p["ratio"], p.get("dim"))
        groups.setdefault(key, []).append(p)
    rows = []
    for (task, comp, ratio, dim), pts in groups.items():
        bits_t = pts[0]["bits_predicted"]
        bits_m = max(p["bits"] for p in pts)
        var_t = pts[0].get("compressor_variance_bound")
        var_m = max((p["compressor_variance_measured"] for p in pts
                     if "compressor_variance_measured" in p), default=None)
        var_ok = all(variance_within_bound(p) is not False for p in pts)
        dp = [p for p in pts if p["epsilon_target"] is not None]
        eps_target = max((p["epsilon_target"] for p in dp), default=math.inf)
        eps_run = max((p["epsilon"] for p in dp), default=math.inf)
        eps_gauss = max((float(gaussian_epsilon(p["noise_multiplier"], float(
            res.get("grid", {}).get("delta", 1e-5)), steps=p["rounds"])) for p in dp),
                        default=math.inf)
        within = sum(p["rounds_within_prediction"] for p in pts)
        total = sum(p["rounds_with_prediction"] for p in pts)
        fails = []
        if not math.isclose(bits_m, bits_t, rel_tol=1e-9):
            fails.append("bits")
        if not var_ok:
            fails.append("variance")
        if dp and not (eps_run <= eps_target * (1 + 1e-6) and eps_run <= eps_gauss * (1 + 1e-6)):
            fails.append("epsilon")
        if total and within / total < 0.95:
            fails.append("robust error")
        rows.append({"task": task + (f" (d={dim})" if dim else ""), "compressor": comp,
                     "k/d": ratio, "bits_theory": bits_t, "bits_run": bits_m,
                     "variance_theory": var_t, "variance_run": var_m,
                     "epsilon_target": eps_target, "epsilon_gaussian": eps_gauss,
                     "epsilon_run": eps_run,
                     "robust_within": f"{within}/{total}" if total else "-",
                     "verdict": "holds" if not fails else "fails: " + ", ".join(fails)})
    return rows


def validate_tradeoff(args) -> int:
    """``fltheory tradeoff --validate CONFIG``: theory and measured tables, a verdict per row.

    ``CONFIG`` is a grid TOML (run now; ``--quick`` for its quick table) or a
    ``compression-runs.json`` written by ``fltheory plot compression-runs``.
    """
    from fltheory.cli import emit, print_table
    from fltheory.compression_runs import load_results, run_compression_grid

    src = Path(args.validate)
    if src.suffix == ".json":
        res = load_results(src)
    else:
        from fltheory.sweep import executor_options

        out = getattr(args, "out", None)
        res = run_compression_grid(src, quick=bool(getattr(args, "quick", False)),
                                   **executor_options(args, None if out is None
                                                      else Path(out) / "points"))
    rows = validation_rows(res)
    th = res.get("theory")

    def render() -> None:
        if th:
            cols = th["columns"]
            print("theory (compression_tradeoff at the run's d, n, f, rule and noise "
                  "multiplier):")
            print_table([[cols["mode"][i], int(cols["k"][i]), cols["bits"][i],
                          cols["epsilon"][i], cols["robust_error_rel"][i], cols["flops"][i]]
                         for i in range(len(cols["mode"]))],
                        ["mode", "k", "bits", "epsilon", "robust_error_rel", "flops"])
            print()
        print("theory vs run (one row per task, compressor, k/d):")
        hdr = ["task", "compressor", "k/d", "bits_theory", "bits_run", "variance_theory",
               "variance_run", "epsilon_target", "epsilon_gaussian", "epsilon_run",
               "robust_within", "verdict"]
        print_table([["-" if r[h] is None else r[h] for h in hdr] for r in rows], hdr)
        s = res.get("summary", {})
        fr = s.get("fraction_within_prediction")
        if fr is not None:
            print(f"\nrobust error <= kappa * honest variance in {100 * fr:.1f} % of "
                  f"{s['rounds_with_prediction']} rounds")

    emit({"theory": th, "rows": rows, "summary": res.get("summary")}, args.json, render)
    return 0 if all(r["verdict"] == "holds" for r in rows) else 1
