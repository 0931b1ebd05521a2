"""The robustness-and-compression section of ``fltheory report`` (default scenario).

Scenario: n = 20 clients, f = 4 Byzantine, d = 25·10⁶ (ResNet-50 scale), ε = 1, δ = 1e-5,
CWTM and CWMed aggregators, rand-k with k = d/100.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_SCENARIO", "report_section"]

#: The default scenario of ``fltheory report``.
DEFAULT_SCENARIO = {"n": 20, "f": 4, "d": 25_000_000, "epsilon": 1.0, "delta": 1e-5,
                    "aggregators": ("cwtm", "cwmed"), "k": 250_000}


def _g(x: float) -> str:
    if x == float("inf"):
        return "inf"
    return f"{x:.4g}" if 1e-3 <= abs(x) < 1e6 or x == 0 else f"{x:.3e}"


def report_section(out_dir: str | os.PathLike, *, figures: bool = True) -> dict[str, Any]:
    """Robustness, DP x Byzantine and compression numbers for the default scenario.

    Parameters
    ----------
    out_dir : path
        Where the figures are written (created if needed).
    figures : bool
        Draw the figures (min batch size vs d, aggregation cost vs d, trade-off, trilemma).

    Returns
    -------
    dict
        ``{"title": str, "lines": [str, ...], "data": dict (JSON-able), "figures": [paths]}``.

    Examples
    --------
    >>> import tempfile
    >>> sec = report_section(tempfile.mkdtemp(), figures=False)
    >>> sec["data"]["min_batch_size"]["sqrt_law_d"]
    5000.0
    """
    from fltheory.bounds import (aggregation_cost, bits_per_round, compressor_variance, kappa,
                                 kappa_lower_bound, min_batch_size, noise_energy,
                                 robust_error_floor, vn_threshold, analytic_noise_multiplier,
                                 classical_noise_multiplier)
    from fltheory.tradeoffs import compression_tradeoff

    sc = DEFAULT_SCENARIO
    n, f, d, eps, dl, k = sc["n"], sc["f"], sc["d"], sc["epsilon"], sc["delta"], sc["k"]
    out = Path(out_dir)
    lines: list[str] = []
    data: dict[str, Any] = {"scenario": {**sc, "aggregators": list(sc["aggregators"])}}

    lines.append(f"Scenario: n={n} clients, f={f} Byzantine, d={d:.3g} (ResNet-50 scale), "
                 f"epsilon={eps:g}, delta={dl:g}, rand-k with k=d/100={k}")
    lb = kappa_lower_bound(n=n, f=f)
    lines.append("")
    lines.append(f"(f, kappa)-robustness (lower bound for any rule: f/(n-2f) = {_g(lb)})")
    lines.append(f"  {'aggregator':<10} {'kappa':>9} {'kappa+NNM':>10} {'VN thr.':>8} "
                 f"{'floor G=1':>10}")
    data["kappa"] = {"lower_bound": lb}
    for a in sc["aggregators"]:
        kv, kn = kappa(a, n=n, f=f), kappa(a, n=n, f=f, nnm=True)
        thr = vn_threshold(a, n=n, f=f)
        floor = robust_error_floor(a, n=n, f=f, G=1.0)
        data["kappa"][a] = {"kappa": kv, "kappa_nnm": kn, "vn_threshold": thr,
                            "error_floor_G1_B0": floor}
        lines.append(f"  {a:<10} {_g(kv):>9} {_g(kn):>10} {_g(thr):>8} {_g(floor):>10}")

    zc, za = classical_noise_multiplier(eps, dl), analytic_noise_multiplier(eps, dl)
    mb = {"sqrt_law_d": min_batch_size(d, eps, dl, constants=False),
          "sqrt_law_k": min_batch_size(d, eps, dl, k=k, constants=False),
          "noise_multiplier_classical": zc, "noise_multiplier_analytic": za}
    lines.append("")
    lines.append(f"DP x Byzantine minimum batch size (PODC'21 VN condition; z classical "
                 f"{_g(zc)}, analytic {_g(za)})")
    lines.append(f"  sqrt law, constants dropped: b ~ sqrt(d) = {_g(mb['sqrt_law_d'])}, "
                 f"with k = d/100 coordinates: sqrt(k) = {_g(mb['sqrt_law_k'])}")
    lines.append(f"  {'aggregator':<10} {'classical':>11} {'analytic':>11} {'k, classical':>13} "
                 f"{'k, analytic':>12}")
    for a in sc["aggregators"]:
        row = {cal: min_batch_size(d, eps, dl, a, n=n, f=f, calibration=cal)
               for cal in ("classical", "analytic")}
        row.update({f"k_{cal}": min_batch_size(d, eps, dl, a, n=n, f=f, k=k, calibration=cal)
                    for cal in ("classical", "analytic")})
        mb[a] = row
        lines.append(f"  {a:<10} {_g(row['classical']):>11} {_g(row['analytic']):>11} "
                     f"{_g(row['k_classical']):>13} {_g(row['k_analytic']):>12}")
    lines.append("  (k-coordinate values assume the k coordinates carry the gradient; unbiased "
                 "rand-k keeps the sqrt(d) requirement)")
    data["min_batch_size"] = mb

    om = compressor_variance("randk", d, k)
    bits_d, bits_k = bits_per_round("none", d), bits_per_round("randk", d, k, index_coding="seed")
    data["compression"] = {"omega_randk": om, "bits_dense": bits_d, "bits_randk_seed": bits_k,
                           "noise_energy_ratio": float(noise_energy(k, 1.0) / noise_energy(d, 1.0))}
    lines.append("")
    lines.append(f"Compression rand-k, k=d/100: omega = {_g(om)}, bits/round {_g(bits_d)} -> "
                 f"{_g(bits_k)} (shared seed), DP noise energy x{k / d:g}")

    cost = {}
    lines.append("")
    lines.append("Aggregation cost per round (flops, model counts) at d and at k")
    for a in ("mean", *sc["aggregators"], "krum", "gm", "smea"):
        for m in (("gram", "dense") if a == "smea" else ("gram",)):
            cd = aggregation_cost(a, n=n, f=f, d=d, smea_method=m)["flops"]
            ck = aggregation_cost(a, n=n, f=f, d=k, smea_method=m)["flops"]
            label = a + (f" ({m})" if a == "smea" else "")
            cost[label] = {"d": cd, "k": ck}
            lines.append(f"  {label:<13} {_g(cd):>11} {_g(ck):>11}")
    data["aggregation_cost"] = cost

    trade: dict[str, Any] = {}
    lines.append("")
    try:
        table = compression_tradeoff(d, [k], n=n, f=f, aggregator="cwtm", epsilon=eps, delta=dl)
        amplified = True
    except ImportError as exc:      # fltheory.accounting not available
        table = compression_tradeoff(d, [k], n=n, f=f, aggregator="cwtm", epsilon=eps, delta=dl,
                                     amplification=False)
        amplified = False
        lines.append(f"(secret-mask amplification skipped: {exc})")
    for r in table.rows():
        trade[r["mode"]] = {c: r[c] for c in ("bits", "epsilon", "mse", "robust_error_rel",
                                                "min_batch_size", "flops")}
    data["tradeoff_k_d_over_100"] = trade
    lines.append("Trade-off at k = d/100 (CWTM, b = 1024)")
    lines.append(f"  {'mode':<7} {'bits':>10} {'epsilon':>10} {'MSE':>10} {'min batch':>10}")
    for mode, r in trade.items():
        lines.append(f"  {mode:<7} {_g(r['bits']):>10} {_g(r['epsilon']):>10} {_g(r['mse']):>10} "
                     f"{_g(r['min_batch_size']):>10}")
    if amplified:
        lines.append("  (secret: Poisson(k/d) masks, an independent mask per record before the "
                     "sum, noise on every coordinate, positions never sent; RDP + group privacy "
                     "to replace-one. One mask per client over its records: no amplification)")

    paths: list[str] = []
    if figures:
        from fltheory.plots.bounds import (plot_aggregation_cost, plot_min_batch_size,
                                           plot_tradeoff, plot_trilemma)

        paths += plot_min_batch_size(out, epsilon=eps, delta=dl, aggregator="cwmed", n=n, f=f)
        paths += plot_aggregation_cost(out, n=n, f=f)
        full = compression_tradeoff(d, [d // 10_000, d // 1000, k, d // 10], n=n, f=f,
                                    aggregator="cwtm", epsilon=eps, delta=dl,
                                    amplification=amplified)
        paths += plot_tradeoff(out, full)
        paths += plot_trilemma(out, n=n, f=f, aggregator="cwtm")
    return {"title": "Robustness, DP x Byzantine and compression", "lines": lines, "data": data,
            "figures": paths}
