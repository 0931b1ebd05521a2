"""``fltheory report``: the main job — guarantees of the built-in default scenario, or of a
configuration.

The report is a list of sections; each section is a function ``section(out_dir) -> dict`` with
keys ``title``, ``lines`` (human-readable text), ``data`` (JSON-friendly) and ``figures``.
:data:`SECTIONS` reports the built-in default scenario; :data:`CONFIG_SECTIONS` are functions
``section(out_dir, config) -> dict`` that report a user's :class:`~fltheory.config.ExperimentConfig`
(``fltheory report CONFIG``): the privacy of its accounting event with both certified bounds and
which amplification applies, robustness (κ, error floor, minimum batch size) for its ``n``, ``f``
and aggregator, and the compression trade-off of its compressor.  :func:`validation_section`
adds the verdicts of :func:`fltheory.validation.validate` (``fltheory report --validate``).
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fltheory._io import write_json_atomic

if TYPE_CHECKING:  # pragma: no cover
    from fltheory.config import ConfigLike, ExperimentConfig

__all__ = ["DEFAULT_SCENARIO", "FL_SCENARIO", "VALIDATION_CONFIG", "build_report",
           "check_config", "privacy_section", "fl_privacy_section", "config_privacy_section",
           "config_robustness_section", "config_compression_section", "validation_section",
           "SECTIONS", "CONFIG_SECTIONS"]

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
        epsilon(coordinate_sampled_gaussian(kf, z, K * T, mask="secret", mask_unit="record"), d,
                method="rdp"), True,
        "secret Poisson coordinate masks, an independent mask per record applied before the "
        "sum, amplify like sampling at rate k/d (RDP bound, masks are the only randomness "
        "here), but only if noise covers every coordinate and no positions are sent: the "
        "release is dense, so the communication saving is lost; one mask per client over its "
        "records would give no amplification (its other records reveal the mask)")
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
    ("robustness", "fltheory.bounds_report:report_section"),
]


# --------------------------------------------------------------------------------------------------
# A user's configuration (``fltheory report CONFIG``)
# --------------------------------------------------------------------------------------------------
def __getattr__(name: str):
    # VALIDATION_CONFIG: the small recipe ``fltheory report --validate`` validates, read from its
    # built-in TOML file (fltheory/recipes/default_fl_small.toml) on first use
    if name == "VALIDATION_CONFIG":
        from fltheory._io import read_toml
        from fltheory.config import RECIPES_DIR

        return read_toml(RECIPES_DIR / "default_fl_small.toml")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _model_dim(cfg: ExperimentConfig) -> int | None:
    """Number of model parameters of the configuration (None if it cannot be determined)."""
    try:
        from fltheory.fl.simulate import build_dataset, build_model
    except ImportError:
        build_dataset = None
    if build_dataset is not None:
        try:
            return int(build_model(cfg, build_dataset(cfg)).num_params)
        except (ValueError, OSError):
            pass
    d = cfg.data
    if cfg.model.name in ("logreg", "linreg"):
        if d.name in ("synthetic_logistic", "synthetic_linear"):
            return d.dim + 1
        if d.name == "digits":
            return 65 * 10
    return None


def _guarantee(event, delta, neighboring):
    from fltheory.accounting import epsilon

    try:
        return epsilon(event, delta, neighboring=neighboring), "pld"
    except ValueError:
        return epsilon(event, delta, method="rdp", neighboring=neighboring), "rdp"


def config_privacy_section(out_dir, config: ConfigLike) -> dict:
    """Privacy of a configuration's accounting event: PLD upper and certified lower bound, RDP,
    the amplification sources used and refused, and ε against the rounds (figure).

    Examples
    --------
    >>> import tempfile
    >>> sec = config_privacy_section(tempfile.mkdtemp(), {
    ...     "training": {"rounds": 20, "client_sampling": "poisson", "client_rate": 0.1},
    ...     "privacy": {"level": "client", "noise_multiplier": 1.0}})
    >>> g = sec["data"]["guarantee"]
    >>> 0 < g["epsilon_lower"] <= g["epsilon"]
    True
    """
    import warnings

    from fltheory.accounting import epsilon, epsilon_curve
    from fltheory.config import load_config

    cfg = load_config(config)
    p, t = cfg.privacy, cfg.training
    lines = [f"configuration: {cfg.name}", f"  privacy level: {p.level}"]
    if p.level == "none":
        lines.append("  no differential privacy (privacy.level = 'none'): epsilon = inf")
        return {"title": f"Privacy of {cfg.name!r}", "lines": lines,
                "data": {"level": "none", "epsilon": float("inf")}, "figures": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ev = cfg.accounting_event()
        g, method = _guarantee(ev, p.delta, p.neighboring)
        method = g.method
        try:
            rdp = epsilon(ev, p.delta, method="rdp", neighboring=p.neighboring).epsilon
        except ValueError:
            rdp = None
    rows = cfg.accounting_rationale()
    steps = t.local_steps * t.rounds if p.level == "record" else t.rounds
    lines += [f"  {'record' if p.level == 'record' else 'client'}-level DP, z = "
              f"{p.noise_multiplier:g}, C = {p.clip:g}, {t.rounds} rounds"
              + (f" x {t.local_steps} local steps" if p.level == "record" else "")
              + f", delta = {p.delta:g}, {_REL.get(p.neighboring, p.neighboring)}",
              f"  event: {type(ev).__name__}", "",
              f"  {'method':<22}{'epsilon (upper)':>16}{'lower bound':>14}",
              f"  {method.upper():<22}{_fmt(g.epsilon):>16}{_fmt(g.epsilon_lower):>14}"]
    if rdp is not None and method != "rdp":
        lines.append(f"  {'RDP':<22}{_fmt(rdp):>16}{'n/a':>14}")
    for note in g.notes:
        lines.append(f"  note: {note}")
    lines.append("")
    lines.append("  amplification:")
    for r in rows:
        lines.append(f"    [{'used' if r['used'] else 'not used'}] {r['source']}: {r['why']}")
    for w in caught:
        lines.append(f"  warning: {' '.join(str(w.message).split())}")
    rounds = np.unique(np.linspace(1, t.rounds, min(t.rounds, 30)).astype(int))
    figs: list[str] = []
    curve = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = epsilon_curve(lambda r: cfg.accounting_event(int(r)), rounds, p.delta,
                                method=method, neighboring=p.neighboring,
                                return_lower=method == "pld")
        up, lo = (res if method == "pld" else (res, None))
        curve = {"rounds": rounds, "epsilon": up, "epsilon_lower": lo, "method": method}
        figs = _plot_config_epsilon(cfg, curve, Path(out_dir) / "config_epsilon_vs_rounds")
    except ValueError as exc:
        lines.append(f"  (epsilon curve not drawn: {exc})")
    data = {"level": p.level, "event": repr(ev), "guarantee": g.to_dict(), "method": method,
            "epsilon_rdp": rdp, "steps": steps, "amplification": rows, "curve": curve,
            "warnings": [str(w.message) for w in caught]}
    return {"title": f"Privacy of {cfg.name!r}", "lines": lines, "data": data, "figures": figs}


def _plot_config_epsilon(cfg: ExperimentConfig, curve, stem) -> list[str]:
    from fltheory.plots import new_figure, paper_style, save_figure

    fig, ax = new_figure()
    with paper_style():
        m = str(curve.get("method", "pld")).upper()
        ax.plot(curve["rounds"], curve["epsilon"], color="#0969da",
                label=f"{m} upper bound" + (" (certified)" if m == "PLD" else ""))
        if curve["epsilon_lower"] is not None:
            ax.plot(curve["rounds"], curve["epsilon_lower"], color="#0969da", ls=":",
                    label="PLD lower bound (certified)")
        ax.set_xlabel("rounds")
        ax.set_ylabel(f"ε at δ = {cfg.privacy.delta:g}")
        ax.set_title(f"{cfg.name}: privacy spent")
        ax.legend(loc="upper left", frameon=False)
        fig.tight_layout()
    return save_figure(fig, stem)


def _rule(cfg: ExperimentConfig) -> tuple[str | None, bool, str]:
    """(kappa name, nnm, label) of the configuration's aggregation pipeline."""
    from fltheory.bounds import AGGREGATORS, canonical_aggregator

    parts = [x.strip().lower() for x in cfg.byzantine.aggregator.split("+")]
    pre = [str(x).strip().lower() for x in cfg.byzantine.pre_aggregators] + parts[:-1]
    try:
        name = canonical_aggregator(parts[-1], allowed=AGGREGATORS)
    except ValueError:
        name = None
    nnm = pre == ["nnm"]
    if pre and not nnm:
        name = None
    return name, nnm, "+".join(pre + [parts[-1]])


def config_robustness_section(out_dir, config: ConfigLike) -> dict:
    """κ, its lower bound, the error floor per unit heterogeneity, the VN threshold and the
    minimum batch size for the configuration's n, f and aggregator.

    Examples
    --------
    >>> import tempfile
    >>> sec = config_robustness_section(tempfile.mkdtemp(), {"data": {"num_clients": 20},
    ...     "byzantine": {"num_byzantine": 4, "attack": "alie", "aggregator": "cwtm"}})
    >>> round(sec["data"]["kappa"], 4)
    0.3333
    """
    from fltheory.bounds import (breakdown_point, kappa, kappa_lower_bound, min_batch_size,
                                 robust_error_floor, vn_threshold)
    from fltheory.config import load_config

    cfg = load_config(config)
    n, f = cfg.data.num_clients, cfg.byzantine.num_byzantine
    name, nnm, label = _rule(cfg)
    d = _model_dim(cfg)
    data: dict = {"n": n, "f": f, "aggregator": label, "kappa_name": name, "nnm": nnm, "d": d}
    lines = [f"configuration: {cfg.name}: n = {n} clients, f = {f} Byzantine "
             f"({cfg.byzantine.attack}), aggregator {label}, d = {d if d else 'n/a'}"]
    if f == 0:
        lines.append("  no Byzantine clients (byzantine.num_byzantine = 0): kappa and the "
                     "error floor are 0 for any rule; what follows is for f = 1")
        f = 1
        data["f_assumed"] = 1
    if n <= 2 * f:
        lines.append(f"  n = {n} <= 2f = {2 * f}: no aggregation rule is robust")
        return {"title": f"Robustness of {cfg.name!r}", "lines": lines, "data": data,
                "figures": []}
    lb = kappa_lower_bound(n=n, f=f)
    data.update(kappa_lower_bound=lb, breakdown_point=breakdown_point(0.0))
    lines.append(f"  lower bound for any rule: kappa >= f/(n-2f) = {_fmt(lb)}; breakdown point "
                 f"f/n < 1/2 (B = 0)")
    if name is None:
        why = ("the mean is not robust: one Byzantine client moves it arbitrarily (no finite "
               "kappa)" if label == "mean" else f"no kappa bound is tabulated for {label!r}")
        lines.append(f"  {why}")
        if cfg.privacy.level == "client":
            lines.append("  (client-level DP releases the noisy mean: DP-FedAvg admits no "
                         "robust rule in place of the sum)")
        return {"title": f"Robustness of {cfg.name!r}", "lines": lines, "data": data,
                "figures": []}
    k = float(kappa(name, n=n, f=f, nnm=nnm))
    floor = robust_error_floor(name, n=n, f=f, G=1.0, nnm=nnm)
    data.update(kappa=k, error_floor_G1=floor)
    lines.append(f"  kappa ({name}{' + NNM' if nnm else ''}) = {_fmt(k)}  (x{k / lb:.3g} the "
                 "lower bound)")
    lines.append(f"  robust D-GD error floor kappa G^2/(1 - kappa B^2) = {_fmt(floor)} x G^2 "
                 "(B = 0); the attainable floor is of order f/(n-2f) G^2")
    try:
        thr = float(vn_threshold(name, n=n, f=f))
        data["vn_threshold"] = thr
        lines.append(f"  VN-ratio threshold kappa_F = {_fmt(thr)}")
    except ValueError:
        thr = None
    p = cfg.privacy
    if p.level == "record" and d and thr is not None:
        g = None
        try:
            g, _ = _guarantee(cfg.accounting_event(), p.delta, p.neighboring)
        except ValueError:
            pass
        if g is not None and np.isfinite(g.epsilon):
            steps = cfg.training.local_steps * cfg.training.rounds
            b = float(min_batch_size(d, g.epsilon, p.delta, name, n=n, f=f,
                                     calibration="accounting", steps=steps,
                                     sampling_rate=float(p.batch_rate), clip=p.clip,
                                     grad_norm=p.clip))
            sq = float(min_batch_size(d, 1.0, p.delta, constants=False))
            data["min_batch_size"] = {"b": b, "sqrt_d": sq, "epsilon": g.epsilon,
                                      "steps": steps}
            lines.append(f"  DP x Byzantine (PODC'21 VN condition, noise calibrated to this "
                         f"recipe's epsilon = {g.epsilon:.3g} over {steps} steps at rate "
                         f"{p.batch_rate:g}): minimum batch size b* = {_fmt(b)} per client "
                         f"(sqrt(d) = {sq:.4g}; gradient norm = C assumed)")
    elif p.level == "client":
        lines.append("  minimum batch size: n/a (client-level DP adds the noise at the server, "
                     "after aggregation)")
    else:
        lines.append("  minimum batch size: n/a (no record-level DP noise in the updates)")
    return {"title": f"Robustness of {cfg.name!r}", "lines": lines, "data": data, "figures": []}


def config_compression_section(out_dir, config: ConfigLike) -> dict:
    """ω (or the contraction factor), bits per round against dense updates, DP noise energy and
    amplification of the configuration's compressor.

    Examples
    --------
    >>> import tempfile
    >>> sec = config_compression_section(tempfile.mkdtemp(), {"data": {"name": "digits"},
    ...     "compression": {"name": "randk", "ratio": 0.1}})
    >>> round(sec["data"]["omega"], 3), sec["data"]["k"]
    (9.0, 65)
    """
    from fltheory.bounds import bits_per_round, compressor_variance, is_unbiased
    from fltheory.config import load_config

    cfg = load_config(config)
    c = cfg.compression
    d = _model_dim(cfg)
    lines = [f"configuration: {cfg.name}: compressor {c.name}"
             + (f" ({c.mask} mask, stage {c.stage})" if c.name in ("randk", "prune") else "")
             + f", d = {d if d else 'n/a'}"]
    data: dict = {"name": c.name, "d": d, "stage": c.stage, "mask": c.mask}
    if c.name == "none":
        lines.append("  no compression: 32 d bits per client per round"
                     + (f" = {32 * d}" if d else ""))
        return {"title": f"Compression of {cfg.name!r}", "lines": lines, "data": data,
                "figures": []}
    if d is None:
        lines.append("  model dimension unknown (install the fl extra): numbers n/a")
        return {"title": f"Compression of {cfg.name!r}", "lines": lines, "data": data,
                "figures": []}
    k = c.k if c.k is not None else (max(1, int(round(c.ratio * d))) if c.ratio else None)
    kind = {"randk": "randk", "topk": "topk", "qsgd": "qsgd", "scaled_sign": "scaled_sign"}.get(c.name)
    data["k"] = k
    if c.stage == "mechanism":
        kind = None
    if kind is not None:
        om = float(compressor_variance(kind, d, k=k, levels=c.levels or 1))
        dense = float(bits_per_round("none", d))
        bits = float(bits_per_round(kind, d, k=k, levels=c.levels or 1,
                                    **({"index_coding": "seed"} if kind == "randk"
                                       and c.mask == "shared" else {})))
        unb = is_unbiased(kind)
        data.update(omega=om, unbiased=unb, bits=bits, bits_dense=dense)
        lines.append(f"  {'omega' if unb else 'contraction 1 - delta'} = {_fmt(om)}"
                     + ("  (the Byzantine + compression floors grow linearly in omega)"
                        if unb else "  (biased: use error feedback)"))
        lines.append(f"  bits per client per round: {bits:.6g} vs {dense:.6g} dense "
                     f"(x{dense / bits:.3g} fewer)")
    elif c.name == "prune" or c.stage == "mechanism":
        keep = c.ratio if c.ratio is not None else (k / d)
        om = 1.0 / keep - 1.0 if c.params.get("rescale") else None
        data.update(keep=keep, omega=om)
        lines.append(f"  coordinate mask keeping {keep:g} of the coordinates"
                     + (f", omega = {om:.4g}" if om is not None else " (plain mask: a "
                        f"contraction with delta = {keep:g})"))
    elif c.name == "sign":
        lines.append("  sign: the plain sign sign(x) has no variance or contraction bound "
                     "(biased; its error tends to d as x -> 0); 'scaled_sign', "
                     "(||x||_1/d) sign(x), has 1 - delta = 1 - 1/d")
    else:
        lines.append(f"  {c.name}: no tabulated variance bound (biased quantizer)")
    if k and c.name in ("randk", "prune", "topk"):
        kk = k if c.name != "prune" else int(round((c.ratio or k / d) * d))
        data["noise_energy_ratio"] = kk / d
        if c.stage == "mechanism" and c.mask == "shared":
            lines.append(f"  DP noise on the kept coordinates only: noise energy x{kk / d:.3g} "
                         "(the dimension gain of public masks; no privacy amplification)")
        elif c.stage == "mechanism":
            lines.append("  secret masks with noise on every coordinate: amplification as "
                         "sampling at the keep rate (see the privacy section), but the release "
                         "is dense")
        else:
            lines.append("  applied after the noise: no effect on epsilon; the compressed noise "
                         f"has (1 + omega) times the energy of the noise it keeps")
    return {"title": f"Compression of {cfg.name!r}", "lines": lines, "data": data,
            "figures": []}


#: sections of ``fltheory report CONFIG``: (key, "module:function(out_dir, config)")
CONFIG_SECTIONS = [
    ("privacy", "fltheory.report:config_privacy_section"),
    ("robustness", "fltheory.report:config_robustness_section"),
    ("compression", "fltheory.report:config_compression_section"),
]


def validation_section(out_dir, config: ConfigLike | None = None, *, quick: bool = True,
                       seed: int = 0) -> dict:
    """Run :func:`fltheory.validation.validate` (quick by default) and report its verdicts.

    ``config=None`` validates :data:`VALIDATION_CONFIG`, the default FL recipe at laptop scale.
    The verdicts, ``validation.json`` and the figure go to ``out_dir``.
    """
    try:
        from fltheory.validation import validate
    except ImportError as exc:  # pragma: no cover - torch missing
        raise ValueError(f"--validate needs the fl extra (torch): {exc}") from None
    if config is None:
        from fltheory.config import recipe

        cfg = recipe("default_fl_small")
    else:
        cfg = config
    from fltheory.plots.validation import plot_validation

    rep = validate(cfg, seed=seed, quick=quick, out_dir=out_dir, figure=plot_validation)
    lines = [f"configuration: {rep.name} ({'quick, ' if quick else ''}seed {seed}, "
             f"{rep.seconds:.1f} s): {'PASSED' if rep.passed else 'FAILED'}"]
    lines += ["  " + v for v in rep.verdicts()]
    lines += [f"  note: {n}" for n in rep.notes]
    return {"title": "Validation: theory vs run", "lines": lines, "data": rep.to_dict(),
            "figures": [f for f in rep.files if not f.endswith(".json")] + rep.files[:1],
            "passed": rep.passed}


def _load(spec: str):
    mod, fn = spec.split(":")
    return getattr(importlib.import_module(mod), fn)


def check_config(config: ConfigLike) -> ExperimentConfig:
    """The report's configuration, parsed, its component names checked against the engine's
    registries (:func:`fltheory.fl.validate_config`) where the engine is installed.

    Without the ``fl`` extra the report has theory sections only: nothing is trained, and the
    names the configuration parser knows are checked by it.
    """
    from fltheory.config import load_config

    try:
        from fltheory.fl.registries import validate_config
    except ImportError:     # no torch: theory sections only
        return load_config(config)
    return validate_config(config)


def build_report(out_dir="fltheory-report", sections=None, *, config: ConfigLike | None = None,
                 validate: bool = False, quick: bool = True, seed: int = 0) -> dict:
    """Run every section (default scenario, or ``config``); write ``report.json`` and figures.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Output directory (created).
    sections : list of str, optional
        Keys of :data:`SECTIONS` (or :data:`CONFIG_SECTIONS` with ``config``) to run
        (default: all).
    config : ExperimentConfig, dict or path, optional
        Report this configuration instead of the built-in default scenario.
    validate : bool
        Add the ``validation`` section: :func:`fltheory.validation.validate` of ``config`` (or of
        :data:`VALIDATION_CONFIG`), its verdicts, JSON and figure.
    quick : bool
        Quick validation (the default).
    seed : int
        Seed of the validation.

    Returns
    -------
    dict
        ``{"sections": {key: section}, "files": [...]}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = {"sections": {}, "files": []}
    cfg = None if config is None else check_config(config)
    table = SECTIONS if cfg is None else CONFIG_SECTIONS
    from fltheory._progress import bar

    todo = [(k, spec) for k, spec in table if sections is None or k in sections]
    pbar = bar(len(todo) + bool(validate), "report", unit="section")
    for key, spec in todo:
        pbar.set_postfix_str(key, refresh=True)
        t0 = time.perf_counter()
        try:
            fn = _load(spec)
        except ModuleNotFoundError as exc:  # a section whose module is not installed
            if exc.name and spec.startswith(exc.name):
                continue
            raise
        sec = fn(out) if cfg is None else fn(out, cfg)
        sec["seconds"] = time.perf_counter() - t0
        result["sections"][key] = sec
        result["files"].extend(sec.get("figures", []))
        pbar.update(1)
    if validate:
        pbar.set_postfix_str("validation", refresh=True)
        t0 = time.perf_counter()
        sec = validation_section(out, cfg, quick=quick, seed=seed)
        sec["seconds"] = time.perf_counter() - t0
        result["sections"]["validation"] = sec
        result["files"].extend(sec.get("figures", []))
        pbar.update(1)
    pbar.close()
    path = write_json_atomic(out / "report.json",
                             {k: {"title": s["title"], "data": s["data"],
                                  "figures": s.get("figures", []), "seconds": s["seconds"]}
                              for k, s in result["sections"].items()})
    result["files"].append(path)
    return result
