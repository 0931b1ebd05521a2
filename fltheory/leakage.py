"""Leakage sweeps from a TOML file: a recipe per attack plus a grid -- the runner behind
``fltheory leakage``.  It runs the attacks of :mod:`fltheory.audit.sweeps` and writes the JSON;
the figures are drawn by :func:`fltheory.plots.leakage.draw_sweep` (passed as ``figure``; the
runner does not import the plots).

A leakage file has the shape of every experiment grid of the project (a base recipe, then the
grid around it)::

    name = "eavesdropper"                 # names the outputs: <name>.json, <name>.{pdf,png}
    description = "..."                   # optional

    [recipes]                             # attack -> its FL setting (an ExperimentConfig recipe)
    eavesdropper = "leakage_eavesdropper" # a built-in recipe, or a TOML path (relative to this file)

    [grid]
    attacks = ["eavesdropper"]
    seeds = [0, 1, 2, 3, 4]
    figures = ["eavesdropper"]            # optional; default ["privacy_utility"]

    [grid.defenses]                       # defense -> its parameters
    dp = [0.0, 2.0, 8.0, 32.0]            # noise multipliers (0 = undefended)
    "dp+qsgd" = [[8.0, 2]]                # combined defenses take a list per setting

Each recipe is loaded like every recipe (:func:`fltheory.config.recipe` for a built-in name,
:func:`fltheory.config.load_config` for a path or an inline table) and checked by
:func:`fltheory.audit.sweeps.recipe_setting`: it gives the clients, records, features, rounds,
local steps, learning rate, ridge term, and the DP points' clipping norm and δ.  The attacks,
defenses and their parameters are in :mod:`fltheory.audit.sweeps`.  The former flat format (``attacks``, ``seeds``, ``clip``,
``[defenses]`` at the top level) is refused with a message saying what to move where.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

from fltheory._checks import check_choice, check_int
from fltheory.audit.sweeps import (ATTACKS, check_defenses, defense_sweep, epsilon_equivalent,
                                   recipe_setting)
from fltheory.config import ExperimentConfig, load_config, recipe, recipe_names
from fltheory.errors import ConfigError

__all__ = ["FIGURES", "load_sweep", "run_config", "format_points"]

#: Figures a sweep can ask for (drawn by :func:`fltheory.plots.leakage.draw_sweep`).
FIGURES = ("privacy_utility", "success_vs_epsilon", "eavesdropper")

_TOP = ("name", "description", "recipes", "grid")
_GRID = ("attacks", "seeds", "defenses", "figures")
_OLD = ("attacks", "attack", "seeds", "clip", "defenses", "figures")


def _recipe(value: Any, attack: str, base: Path | None, where: str) -> ExperimentConfig:
    """An attack's recipe: a built-in name, a TOML path (relative to the sweep's file), a table."""
    if isinstance(value, Mapping):
        try:
            return load_config(dict(value))
        except ConfigError as exc:
            raise ConfigError(f"{where}: recipes.{attack}: {exc}") from None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: recipes.{attack} must be a built-in recipe name, a TOML path "
                          f"or a table, got {value!r}")
    if not value.endswith(".toml"):
        if value not in recipe_names():
            raise ConfigError(f"{where}: recipes.{attack} = {value!r} is neither a built-in "
                              f"recipe ({', '.join(recipe_names())}) nor a .toml path")
        return recipe(value)
    path = Path(value)
    if not path.is_absolute() and base is not None:
        path = base / path
    return load_config(path)     # ConfigError naming the file


def load_sweep(config: str | Path | Mapping[str, Any]) -> dict:
    """Read and check a leakage file (or its table): ``{name, description, recipes, attacks,
    seeds, defenses, figures}`` with each attack's recipe an
    :class:`~fltheory.config.ExperimentConfig`.

    Every problem is a :class:`~fltheory.errors.ConfigError` naming the file and the key, raised
    before any training: an empty file or one without ``[grid]``, the former flat format,
    unknown keys, an attack without a recipe, an unknown attack, defense or figure, a bad
    parameter, a recipe the leakage runs cannot honour.

    Examples
    --------
    >>> sw = load_sweep({"name": "t", "recipes": {"source": "leakage_source"},
    ...                  "grid": {"attacks": ["source"], "seeds": [0, 1],
    ...                           "defenses": {"dp": [0.0, 64.0]}}})
    >>> sw["seeds"], sw["recipes"]["source"].data.num_clients, sw["figures"]
    ([0, 1], 10, ['privacy_utility'])
    """
    if isinstance(config, Mapping):
        cfg, where, base = dict(config), "the leakage config", None
    else:
        from fltheory._io import read_toml

        cfg, where, base = read_toml(config), str(config), Path(config).parent
    old = [k for k in _OLD if k in cfg]
    if old:
        raise ConfigError(
            f"{where}: the leakage format is now a recipe per attack plus a grid; found the "
            f"former top-level key(s) {', '.join(old)}: move attacks, seeds and figures into "
            "[grid], the [defenses] table to [grid.defenses], and give each attack's FL setting "
            "in [recipes] (e.g. source = \"leakage_source\"; clip is the recipe's privacy.clip); "
            "see experiments/leakage/*.toml")
    if "grid" not in cfg:
        raise ConfigError(f"{where}: no leakage sweep (no [grid] table with attacks, seeds and "
                          "[grid.defenses]); an empty file is refused rather than run as a "
                          "default sweep (examples: experiments/leakage/)")
    unknown = sorted(set(cfg) - set(_TOP))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (valid keys: {', '.join(_TOP)})")
    grid = cfg["grid"]
    if not isinstance(grid, Mapping):
        raise ConfigError(f"{where}: grid must be a table, got {grid!r}")
    unknown = sorted(set(grid) - set(_GRID))
    if unknown:
        raise ConfigError(f"{where}: unknown key 'grid.{unknown[0]}' "
                          f"(valid keys: {', '.join(_GRID)})")
    try:
        name = cfg.get("name", "leakage")
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ValueError(f"name must be a non-empty file stem (no '/'), got {name!r}")
        attacks = grid.get("attacks")
        if isinstance(attacks, str):
            attacks = [attacks]
        if not isinstance(attacks, list) or not attacks:
            raise ValueError(f"grid.attacks must be a non-empty list of attacks "
                             f"({', '.join(ATTACKS)}), got {attacks!r}")
        for a in attacks:
            check_choice("grid.attacks", a, tuple(ATTACKS))
        if len(set(attacks)) != len(attacks):
            raise ValueError(f"grid.attacks must be distinct, got {attacks}")
        seeds = grid.get("seeds", [0])
        if not isinstance(seeds, list) or not seeds:
            raise ValueError(f"grid.seeds must be a non-empty list of integers >= 0, "
                             f"got {seeds!r}")
        seeds = [check_int("grid.seeds", s, minimum=0) for s in seeds]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"grid.seeds must be distinct, got {seeds}")
        defenses = grid.get("defenses")
        if not isinstance(defenses, Mapping) or not defenses:
            raise ValueError("grid.defenses must be a non-empty table (defense -> list of "
                             f"parameters, e.g. dp = [0.0, 4.0]), got {defenses!r}")
        for d, values in defenses.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"grid.defenses.{d} must be a non-empty list of parameters, "
                                 f"got {values!r}")
        figures = grid.get("figures", ["privacy_utility"])
        if not isinstance(figures, list):
            raise ValueError(f"grid.figures must be a list from {', '.join(FIGURES)}, "
                             f"got {figures!r}")
        for f in figures:
            check_choice("grid.figures", f, FIGURES)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    table = cfg.get("recipes")
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: no [recipes] table: give each attack's FL setting, e.g. "
                          f"[recipes] {attacks[0]} = \"leakage_{ATTACKS[attacks[0]][0]}\" "
                          f"(built-in recipes: {', '.join(recipe_names())})")
    extra = sorted(set(table) - set(attacks))
    if extra:
        raise ConfigError(f"{where}: recipes.{extra[0]} names no attack of grid.attacks "
                          f"({', '.join(attacks)})")
    missing = [a for a in attacks if a not in table]
    if missing:
        raise ConfigError(f"{where}: no recipe for attack {missing[0]!r}: add to [recipes] "
                          f"{missing[0]} = \"leakage_{ATTACKS[missing[0]][0]}\" (a built-in "
                          "recipe) or a TOML path")
    recipes = {a: _recipe(table[a], a, base, where) for a in attacks}
    # every recipe and every defense setting checked before any training
    try:
        for a, r in recipes.items():
            check_defenses(defenses, recipe_setting(r, a)["clip"])
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return {"name": name, "description": str(cfg.get("description", "")), "recipes": recipes,
            "attacks": list(attacks), "seeds": seeds, "defenses": dict(defenses),
            "figures": list(figures)}


def run_config(config: str | Path | Mapping[str, Any], out_dir: str | Path | None = None, *,
               jobs: int = 1, progress: bool | None = None, figure: Any = None) -> dict:
    """Run the sweep a leakage file (or its table) describes; write ``<name>.json`` and, with
    ``figure`` (:func:`fltheory.plots.leakage.draw_sweep`, what ``fltheory leakage`` uses), the
    figures the grid lists.

    ``jobs`` training runs at a time (worker processes of :func:`fltheory.sweep.run_points`,
    ``-1``: every core); the points do not depend on ``jobs``
    (:func:`~fltheory.audit.sweeps.defense_sweep`).  The JSON holds the file's
    table (each recipe in full), every point with its seed, and the ε-equivalents (per attack and
    seed), each labelled ``"empirical equivalence, not a DP guarantee"``.

    Examples
    --------
    >>> res = run_config({"name": "t", "recipes": {"source": "leakage_source"},
    ...                   "grid": {"attacks": ["source"], "seeds": [0],
    ...                            "defenses": {"dp": [0.0, 64.0], "random_prune": [0.9]}}})
    >>> len(res["points"]), res["epsilon_equivalent"][0]["kind"]
    (3, 'empirical equivalence, not a DP guarantee')
    """
    from fltheory._checks import check_drawer

    from fltheory.sweep import check_executor, run_points

    figure = check_drawer("figure", figure, "fltheory.plots.leakage.draw_sweep")
    check_executor(None, jobs)
    sw = load_sweep(config)

    def map_points(fn, items):     # the one executor of multi-point runs (no point files)
        return run_points(fn, items, jobs=jobs, desc="leakage runs", progress=progress)[0]

    t0 = time.perf_counter()
    points = defense_sweep(sw["attacks"], sw["defenses"], seed=sw["seeds"],
                           recipes=sw["recipes"], map_points=map_points)
    eq = epsilon_equivalent(points)
    stored = {"name": sw["name"], "description": sw["description"],
              "recipes": {a: r.to_dict() for a, r in sw["recipes"].items()},
              "grid": {k: sw[k] for k in _GRID}}
    result = {"config": stored, "name": sw["name"], "figures": sw["figures"], "points": points,
              "epsilon_equivalent": eq, "seconds": time.perf_counter() - t0, "jobs": jobs,
              "note": "epsilon_equivalent is an empirical equivalence against this attack on "
                      "this task, not a differential-privacy guarantee"}
    if out_dir is not None:
        from fltheory._io import write_json_atomic

        out = Path(out_dir)
        result["files"] = [write_json_atomic(out / f"{sw['name']}.json", result)]
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
