"""Leakage sweeps from a TOML file: run the attacks of :mod:`fltheory.audit.sweeps` and write the
JSON -- the runner behind ``fltheory leakage``; the figures are drawn by
:func:`fltheory.plots.leakage.draw_sweep` (passed as ``figure``; the runner does not import the
plots).
"""

from __future__ import annotations

import time
from typing import Any, Mapping

from fltheory._checks import check_choice, check_int
from fltheory.audit.sweeps import defense_sweep, epsilon_equivalent

__all__ = ["run_config", "format_points"]


def _load(config: str | Mapping[str, Any]) -> dict:
    if isinstance(config, Mapping):
        return dict(config)
    from fltheory._io import read_toml

    return read_toml(config)   # an empty file is refused by run_config, naming the file


_KEYS = ("name", "attacks", "attack", "seeds", "clip", "defenses", "figures", "description")


def run_config(config: str | Mapping[str, Any], out_dir: str | None = None, *,
               figure: Any = None) -> dict:
    """Run the sweep a TOML file (or dict) describes; write ``<name>.json`` and, with ``figure``
    (:func:`fltheory.plots.leakage.draw_sweep`, what ``fltheory leakage`` uses), the figures.

    Keys: ``name``, ``attacks`` (list, or ``attack`` for one), ``seeds`` (list), ``clip``, a
    ``[defenses]`` table (defense -> list of parameters, see :data:`DEFENSES`) and an optional
    ``figures`` list from ``"privacy_utility"``, ``"success_vs_epsilon"``,
    ``"eavesdropper"`` (default: the first).  The JSON holds the configuration, every point
    with its seed, and the ε-equivalents (per attack and seed), each labelled ``"empirical
    equivalence, not a DP guarantee"``.

    Examples
    --------
    >>> res = run_config({"name": "t", "attacks": ["source"], "seeds": [0],
    ...                   "defenses": {"dp": [0.0, 64.0], "random_prune": [0.9]}})
    >>> len(res["points"]), res["epsilon_equivalent"][0]["kind"]
    (3, 'empirical equivalence, not a DP guarantee')
    """
    from fltheory._checks import check_drawer

    figure = check_drawer("figure", figure, "fltheory.plots.leakage.draw_sweep")
    cfg = _load(config)
    if not cfg.get("defenses") and not cfg.get("attacks") and not cfg.get("attack"):
        from fltheory.errors import ConfigError

        where = "the leakage config" if isinstance(config, Mapping) else str(config)
        raise ConfigError(f"{where}: no sweep (neither 'attacks' nor a [defenses] table); an "
                          "empty file is refused rather than run as the default sweep (examples: "
                          "experiments/leakage/)")
    unknown = sorted(set(cfg) - set(_KEYS))
    if unknown:
        raise ValueError(f"unknown key(s) in the leakage config: {', '.join(unknown)} "
                         f"(valid: {', '.join(_KEYS)})")
    name = str(cfg.get("name", "leakage"))
    attacks = cfg.get("attacks", cfg.get("attack", "source"))
    attacks = [attacks] if isinstance(attacks, str) else list(attacks)
    seeds = cfg.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds:
        raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
    seeds = [check_int("seeds", s, minimum=0) for s in seeds]
    defenses = cfg.get("defenses") or None
    figures = list(cfg.get("figures", ["privacy_utility"]))
    for f in figures:
        check_choice("figures", f, ("privacy_utility", "success_vs_epsilon", "eavesdropper"))
    points, eq = [], []
    t0 = time.perf_counter()
    for sd in seeds:
        pts = defense_sweep(attacks, defenses, seed=sd, clip=float(cfg.get("clip", 1.0)))
        points += pts
        eq += epsilon_equivalent(pts)
    result = {"config": cfg, "name": name, "figures": figures, "points": points,
              "epsilon_equivalent": eq,
              "seconds": time.perf_counter() - t0,
              "note": "epsilon_equivalent is an empirical equivalence against this attack on "
                      "this task, not a differential-privacy guarantee"}
    if out_dir is not None:
        from pathlib import Path

        from fltheory._io import write_json_atomic

        out = Path(out_dir)
        result["files"] = [write_json_atomic(out / f"{name}.json", result)]
        if figure is not None:
            result["files"] += list(figure(result, out))
    return result


def format_points(result: Mapping[str, Any]) -> list[str]:
    """One line per point and per ε-equivalent (the CLI's table)."""
    lines = []
    for p in result["points"]:
        eps = "inf" if p["epsilon"] is None else f"{p['epsilon']:.3g}"
        par = "+".join(map(str, p["parameter"])) if isinstance(p["parameter"], list) \
            else f"{p['parameter']:g}"
        lines.append(f"seed={p['seed']} {p['attack']:18s} {p['defense']:15s} {par:>7s}  "
                     f"{p['metric']}={p['success']:.3f} [{p['success_ci'][0]:.3f}, "
                     f"{p['success_ci'][1]:.3f}] (baseline {p['baseline']:.3f})  "
                     f"test_acc={p['test_accuracy']:.3f}  eps={eps}")
    for e in result["epsilon_equivalent"]:
        val = "-" if e["epsilon_equivalent"] is None else f"{e['epsilon_equivalent']:.3g}"
        lines.append(f"eps-equivalent (empirical, not a guarantee) seed={e.get('seed')} "
                     f"{e.get('attack')} {e['defense']} {e['parameter']}: {val} {e['note']}")
    return lines
