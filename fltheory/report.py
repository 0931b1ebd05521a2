"""``fltheory report``: the main job — guarantees of the built-in default scenario.

The report is a list of sections; each section is a function ``section(out_dir) -> dict`` with
keys ``title``, ``lines`` (human-readable text), ``data`` (JSON-friendly) and ``figures``.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import numpy as np

from fltheory._io import write_json_atomic

__all__ = ["DEFAULT_SCENARIO", "build_report", "privacy_section", "SECTIONS"]

#: the built-in default scenario: MNIST-style DP-SGD (batch 256 of 60,000 records, 60 epochs)
DEFAULT_SCENARIO = {
    "name": "MNIST-style DP-SGD: batch 256 of 60,000 records, 60 epochs, Poisson sampling",
    "sampling_rate": 256 / 60000,
    "noise_multiplier": 1.1,
    "steps": 14062,
    "delta": 1e-5,
    "target_epsilons": (1.0, 3.0, 8.0),
}


_REL = {"add_remove": "add/remove", "replace_one": "replace-one"}


def _fmt(x) -> str:
    if x is None:
        return "n/a"
    x = float(x)
    if x == 0:
        return "0"
    return f"{x:.4e}" if abs(x) < 1e-3 or abs(x) >= 1e5 else f"{x:.5f}"


def privacy_section(out_dir, scenario: dict | None = None) -> dict:
    """DP-SGD budget: PLD two-sided (both relations), RDP, σ for target ε, ε-vs-steps figure.

    Examples
    --------
    >>> import tempfile
    >>> sec = privacy_section(tempfile.mkdtemp(), {**DEFAULT_SCENARIO, "steps": 500,
    ...                                            "target_epsilons": (3.0,)})
    >>> sec["data"]["pld_add_remove"]["epsilon_lower"] <= sec["data"]["pld_add_remove"]["epsilon"]
    True
    """
    from fltheory.accounting import calibrate_noise, dp_sgd, epsilon
    from fltheory.plots.privacy import plot_epsilon_vs_steps

    sc = dict(DEFAULT_SCENARIO if scenario is None else scenario)
    q, z, T, d = sc["sampling_rate"], sc["noise_multiplier"], sc["steps"], sc["delta"]
    ev = dp_sgd(q, z, T)
    data: dict = {"scenario": sc}
    rows = []
    for rel in ("add_remove", "replace_one"):
        t0 = time.perf_counter()
        g = epsilon(ev, d, neighboring=rel)
        dt = time.perf_counter() - t0
        data[f"pld_{rel}"] = {**g.to_dict(), "seconds": dt}
        rows.append((f"PLD, {_REL[rel]}", g.epsilon, g.epsilon_lower, dt))
    for rel in ("add_remove", "replace_one"):
        t0 = time.perf_counter()
        g = epsilon(ev, d, method="rdp", neighboring=rel)
        dt = time.perf_counter() - t0
        data[f"rdp_{rel}"] = {**g.to_dict(), "seconds": dt}
        rows.append((f"RDP, {_REL[rel]}", g.epsilon, None, dt))
    cal = []
    for tgt in sc["target_epsilons"]:
        zz = calibrate_noise(lambda s: dp_sgd(q, s, T), tgt, d)
        cal.append({"target_epsilon": tgt, "noise_multiplier": zz})
    data["calibration"] = cal
    steps = np.unique(np.geomspace(max(1, T // 200), T, 40).astype(int))
    fig = plot_epsilon_vs_steps(lambda t: dp_sgd(q, z, t), steps, d,
                                Path(out_dir) / "epsilon_vs_steps",
                                title=f"DP-SGD, q={q:.3g}, z={z:g}")
    data["curve"] = {"steps": fig["steps"], "epsilon": fig["epsilon"],
                     "epsilon_lower": fig["epsilon_lower"], "epsilon_rdp": fig["epsilon_rdp"]}
    lines = [f"scenario: {sc['name']}",
             f"  q = {q:.6g}, z = {z:g}, T = {T}, delta = {d:g}", "",
             f"  {'method':<22}{'epsilon (upper)':>16}{'lower bound':>14}{'time [s]':>10}"]
    for name, up, lo, dt in rows:
        lines.append(f"  {name:<22}{_fmt(up):>16}{_fmt(lo):>14}{dt:>10.3f}")
    ar = data["pld_add_remove"]
    rdp_ar = data["rdp_add_remove"]["epsilon"]
    lines.append(f"  RDP / PLD upper (add/remove): {float(rdp_ar) / float(ar['epsilon']):.3f}")
    lines.append("")
    lines.append("  noise multiplier for a target epsilon (certified PLD, add/remove):")
    for c in cal:
        lines.append(f"    epsilon = {c['target_epsilon']:<5g} -> z = {c['noise_multiplier']:.4f}")
    return {"title": "Privacy budget (DP-SGD)", "lines": lines, "data": data,
            "figures": fig["files"]}


#: the default cross-device FL recipe whose amplification sources the report discusses
FL_SCENARIO = {
    "name": ("cross-device FL: 2 % of clients per round (Poisson), 5 local DP-SGD steps at batch "
             "rate 0.1, z = 1, 1,000 rounds, rand-k updates (k = d/100, shared seed), "
             "10 % Byzantine clients"),
    "client_rate": 0.02,
    "batch_rate": 0.1,
    "noise_multiplier": 1.0,
    "local_steps": 5,
    "rounds": 1000,
    "delta": 1e-5,
    "k_fraction": 0.01,
}


def fl_privacy_section(out_dir, scenario: dict | None = None) -> dict:
    """Record-level privacy of the default FL recipe: which amplification applies, which not.

    Examples
    --------
    >>> import tempfile
    >>> sec = fl_privacy_section(tempfile.mkdtemp(), {**FL_SCENARIO, "rounds": 20})
    >>> rows = {r["source"]: r for r in sec["data"]["rows"]}
    >>> rows["naive product rate"]["guarantee"]
    False
    """
    from fltheory.accounting import coordinate_sampled_gaussian, dp_sgd, epsilon, local_dp_sgd

    sc = dict(FL_SCENARIO if scenario is None else scenario)
    qc, ql, z = sc["client_rate"], sc["batch_rate"], sc["noise_multiplier"]
    K, T, d, kf = sc["local_steps"], sc["rounds"], sc["delta"], sc["k_fraction"]
    rows = []

    def add(source, g, guarantee, why):
        rows.append({"source": source, "epsilon": g.epsilon, "epsilon_lower": g.epsilon_lower,
                     "method": g.method, "guarantee": guarantee, "why": why})

    add("two-level sampling, cohort hidden from the adversary",
        epsilon(local_dp_sgd(qc, ql, z, K, T), d), True,
        "revealed mixture over client participation (sound: other records of a client can "
        "reveal whether it took part)")
    add("server sees the cohort", epsilon(local_dp_sgd(qc, ql, z, K, T, cohort_visible=True), d),
        True, "client sampling gives no amplification against a server that sees who takes part")
    add("rand-k with a shared seed", epsilon(local_dp_sgd(qc, ql, z, K, T), d), True,
        "public masks give no amplification (same epsilon as row 1); the gain is dimension: "
        f"noise energy x{kf:g}")
    add("secret masks alone (rate k/d per step, no sampling)",
        epsilon(coordinate_sampled_gaussian(kf, z, K * T, mask="secret"), d, method="rdp"), True,
        "secret Poisson coordinate masks amplify like sampling at rate k/d (RDP bound, "
        "masks are the only randomness here), but only if noise covers every coordinate: the "
        "release is dense, so the communication saving is lost")
    add("naive product rate", epsilon(dp_sgd(qc * ql, z, K * T), d), False,
        "NOT a guarantee: q_c * q_l as one Poisson rate ignores that a client's other records "
        "reveal its participation")
    lines = [f"scenario: {sc['name']}", f"  record-level DP, delta = {d:g}", "",
             f"  {'amplification source':<55}{'epsilon':>10}{'lower':>10}  guarantee"]
    for r in rows:
        lo = "n/a" if r["epsilon_lower"] is None else _fmt(r["epsilon_lower"])
        lines.append(f"  {r['source']:<55}{_fmt(r['epsilon']):>10}{lo:>10}  "
                     f"{'yes' if r['guarantee'] else 'NO'}")
    lines.append("")
    for r in rows:
        lines.append(f"  - {r['source']}: {r['why']}")
    return {"title": "Privacy of the default FL recipe (amplification sources)", "lines": lines,
            "data": {"scenario": sc, "rows": rows}, "figures": []}


#: (key, "module:function") — later issues add their sections here
SECTIONS = [
    ("privacy", "fltheory.report:privacy_section"),
    ("fl_privacy", "fltheory.report:fl_privacy_section"),
    ("robustness", "fltheory.bounds.report:report_section"),
]


def _load(spec: str):
    mod, fn = spec.split(":")
    return getattr(importlib.import_module(mod), fn)


def build_report(out_dir="fltheory-report", sections=None) -> dict:
    """Run every section for the default scenario; write ``report.json`` and the figures.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Output directory (created).
    sections : list of str, optional
        Keys of :data:`SECTIONS` to run (default: all).

    Returns
    -------
    dict
        ``{"sections": {key: section}, "files": [...]}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = {"sections": {}, "files": []}
    for key, spec in SECTIONS:
        if sections is not None and key not in sections:
            continue
        t0 = time.perf_counter()
        try:
            fn = _load(spec)
        except ModuleNotFoundError as exc:  # a section whose module is not installed
            if exc.name and spec.startswith(exc.name):
                continue
            raise
        sec = fn(out)
        sec["seconds"] = time.perf_counter() - t0
        result["sections"][key] = sec
        result["files"].extend(sec.get("figures", []))
    path = write_json_atomic(out / "report.json",
                             {k: {"title": s["title"], "data": s["data"],
                                  "figures": s.get("figures", []), "seconds": s["seconds"]}
                              for k, s in result["sections"].items()})
    result["files"].append(path)
    return result
