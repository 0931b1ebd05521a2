"""Figure: ε against rounds for each source of privacy amplification, at matched noise."""

from __future__ import annotations


import numpy as np

from fltheory.plots._common import latex_sci, new_figure, paper_style, save_figure

__all__ = ["plot_amplification_sources", "amplification_curves"]


def amplification_curves(rounds, *, noise_multiplier: float = 1.0, delta: float = 1e-5,
                         client_rate: float = 0.05, batch_rate: float = 0.2,
                         coordinate_rate: float = 0.05, mixup_weights=(0.25, 0.5, 0.75, 1.0)
                         ) -> dict:
    """Certified ε (upper bounds) per round count for each amplification source.

    Every source uses the same Gaussian noise multiplier ``z`` per round (matched noise):

    * ``none``: the Gaussian mechanism every round (no amplification);
    * ``client sampling``: :func:`~fltheory.accounting.dp_fedavg` (client-level);
    * ``two-level (revealed)``: :func:`~fltheory.accounting.local_dp_sgd`, one local step;
    * ``naive product (unsound)``: Poisson rate ``client_rate * batch_rate`` -- shown only to
      show how much it understates ε;
    * ``secret coordinate masks, one per record``:
      :func:`~fltheory.accounting.coordinate_sampled_gaussian` with ``mask_unit="record"``
      (RDP);
    * ``mixup, per record (hidden weights)`` (exact: one weight per record, never released) /
      ``mixup, pairs (revealed weights)``: :func:`~fltheory.accounting.mixup` with record rate
      ``client_rate`` and equally likely ``mixup_weights``.

    Returns
    -------
    dict
        ``{label: ndarray}`` plus ``"rounds"``.

    Examples
    --------
    >>> from fltheory.plots.amplification import amplification_curves
    >>> c = amplification_curves([10, 100])
    >>> bool(c["client sampling"][1] < c["none"][1])
    True
    """
    from fltheory.accounting import (coordinate_sampled_gaussian, dp_fedavg, dp_sgd,
                                     epsilon_curve, local_dp_sgd, mixup)

    t = np.asarray(rounds, dtype=np.int64)
    z = noise_multiplier
    lam = list(mixup_weights)

    def hidden(T):
        return mixup(client_rate, z, T, lam, reveal_weights=False)

    out = {"rounds": t}
    out["none"] = epsilon_curve(lambda T: dp_fedavg(1.0, z, T), t, delta)
    out["client sampling"] = epsilon_curve(lambda T: dp_fedavg(client_rate, z, T), t, delta)
    out["two-level (revealed)"] = epsilon_curve(
        lambda T: local_dp_sgd(client_rate, batch_rate, z, 1, T), t, delta)
    out["naive product (unsound)"] = epsilon_curve(
        lambda T: dp_sgd(client_rate * batch_rate, z, T), t, delta)
    out["secret coordinate masks, one per record"] = epsilon_curve(
        lambda T: coordinate_sampled_gaussian(coordinate_rate, z, T, mask_unit="record"), t, delta,
        method="rdp")
    out["mixup, pairs (revealed weights)"] = epsilon_curve(
        lambda T: mixup(client_rate, z, T, lam, reveal_weights=True), t, delta)
    out["mixup, per record (hidden weights)"] = epsilon_curve(hidden, t, delta)
    return out


_STYLE = {
    "none": dict(color="black", lw=1.8),
    "client sampling": dict(color="C0"),
    "two-level (revealed)": dict(color="C1"),
    "naive product (unsound)": dict(color="0.55", ls="--"),
    "secret coordinate masks, one per record": dict(color="C2"),
    "mixup, pairs (revealed weights)": dict(color="C3", ls="-."),
    "mixup, per record (hidden weights)": dict(color="C3"),
}


def plot_amplification_sources(stem, rounds=None, *, noise_multiplier: float = 1.0,
                               delta: float = 1e-5, **kw) -> dict:
    """Figure: ε vs rounds for each amplification source at the same noise multiplier.

    Solid and dash-dotted lines are certified upper bounds (PLD; RDP for secret coordinate
    masks; dash-dotted: pair mixup, whose weights a partner can reveal); the dashed line is
    *not* a guarantee (the unsound product rate), drawn to show what the shortcut would claim.

    Parameters
    ----------
    stem : str or pathlib.Path
        Output path without extension (``stem.pdf`` and ``stem.png``, written atomically).
    rounds : array_like of int, optional
        Round counts (default: 10 to 10,000, log-spaced).
    noise_multiplier : float
        Matched noise multiplier of every source.
    delta : float
        Target δ.
    **kw
        Passed to :func:`amplification_curves`.

    Returns
    -------
    dict
        The curves and ``"files"``.

    References
    ----------
    .. [1] fltheory docs, "Amplification in federated learning" (the statements drawn here).

    Examples
    --------
    >>> import os, tempfile
    >>> from fltheory.plots.amplification import plot_amplification_sources
    >>> d = tempfile.mkdtemp()
    >>> out = plot_amplification_sources(os.path.join(d, "amp"), rounds=[10, 100])
    >>> sorted(os.path.basename(f) for f in out["files"])
    ['amp.pdf', 'amp.png']
    """
    if rounds is None:
        rounds = np.unique(np.geomspace(10, 10_000, 16).astype(np.int64))
    curves = amplification_curves(rounds, noise_multiplier=noise_multiplier, delta=delta, **kw)
    t = curves["rounds"]
    fig, ax = new_figure(5.0, 3.4)
    with paper_style():
        for label, style in _STYLE.items():
            ax.plot(t, curves[label], label=label, **style)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rounds $T$")
        ax.set_ylabel(rf"$\varepsilon$ at $\delta = {latex_sci(delta)}$")
        ax.set_title(rf"amplification sources at matched noise $z = {noise_multiplier:g}$")
        ax.legend(frameon=False, fontsize=7, loc="upper left")
        lam = ", ".join(f"{x:g}" for x in kw.get("mixup_weights", (0.25, 0.5, 0.75, 1.0)))
        ax.text(0.98, 0.03, rf"$q_c$={kw.get('client_rate', 0.05):g}, "
                rf"$q_\ell$={kw.get('batch_rate', 0.2):g}, "
                rf"$\gamma$={kw.get('coordinate_rate', 0.05):g}, $\lambda \in$ {{{lam}}}",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.3")
    curves["files"] = save_figure(fig, stem)
    return curves
