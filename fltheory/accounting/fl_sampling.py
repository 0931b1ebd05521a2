"""Sampling of clients and of records in federated learning.

Two builders:

* :func:`dp_fedavg` -- *client-level* DP of DP-FedAvg (McMahan et al. 2018): each round every
  client takes part with probability ``client_rate``, its whole update is clipped to ``C`` and
  Gaussian noise ``z C`` is added to the sum.  The unit of privacy is the client, so client
  sampling is ordinary Poisson subsampling.
* :func:`local_dp_sgd` -- *record-level* DP when each sampled client runs DP-SGD on its own
  data.  A client's other records can reveal whether the client took part, so the record's
  privacy loss is a **revealed mixture** over participation; the product ``client_rate *
  batch_rate`` used as one Poisson rate is unsound and cannot be expressed through this API.

Both return plain or fltheory ``DpEvent`` objects that every accounting function accepts.
"""

from __future__ import annotations

import math

import attr
import dp_accounting
import numpy as np

from fltheory._checks import check_int, check_positive, check_probability
from fltheory.accounting import _steps
from fltheory.accounting._lattice import RevealedMixturePair, SplitPair
from fltheory.accounting.scenarios import Param, Scenario, register_scenario

__all__ = ["dp_fedavg", "local_dp_sgd", "TwoLevelSampledDpEvent"]

_REF_FEDAVG = ("McMahan, Ramage, Talwar, Zhang, 'Learning Differentially Private Recurrent "
               "Language Models', ICLR 2018, arXiv:1710.06963, Sec. 2-3 (DP-FedAvg, client-level "
               "DP)")
_REF_TWO_LEVEL = ("revealed-participation mixture for record-level DP with local DP-SGD inside "
                  "FL (fltheory, 'Amplification in federated learning', Sec. FL sampling; "
                  "composition of dominating pairs: Zhu, Dong, Wang, AISTATS 2022, Thm. 10)")


@attr.define(frozen=True)
class TwoLevelSampledDpEvent(dp_accounting.DpEvent):
    """One FL round of record-level DP with DP-SGD inside each sampled client.

    The client takes part with probability ``client_rate`` (independently of the data).  If it
    does, it runs ``local_steps`` steps of DP-SGD on its own records: each record is included
    with probability ``batch_rate``, per-example gradients are clipped to norm ``C`` and
    :math:`\\mathcal{N}(0, z^2 C^2 I)` is added to each step's sum.

    Threat model
        The adversary sees every client's released updates (or anything computed from them).
        ``cohort_visible=False``: the adversary does not choose the cohort; it may *learn* who
        took part (the client's other records reveal it), which the revealed mixture allows.
        ``cohort_visible=True``: the guarantee must hold for the cohort the adversary sees or
        chooses (e.g. the server samples the clients): no amplification by client sampling.

    Attributes
    ----------
    client_rate : float
        Probability that the client takes part in the round.
    batch_rate : float
        Poisson inclusion probability of each record in a local step.
    noise_multiplier : float
        ``z = σ / C`` of each local step.
    local_steps : int
        DP-SGD steps per round of a participating client.
    cohort_visible : bool
        See the threat model.
    """

    client_rate: float
    batch_rate: float
    noise_multiplier: float
    local_steps: int
    cohort_visible: bool = False


class TwoLevelStep(_steps.Step):
    """One round of two-level sampling with revealed participation."""

    reference = _REF_TWO_LEVEL

    def __init__(self, client_rate: float, batch_rate: float, z: float, local_steps: int):
        self.qc, self.ql, self.z, self.k = client_rate, batch_rate, z, local_steps
        self._pairs: dict = {}

    def key(self) -> tuple:
        return ("two_level", self.qc, self.ql, self.z, self.k)

    def describe(self) -> str:
        return (f"two-level sampling (client rate {self.qc:g}, batch rate {self.ql:g}, "
                f"z={self.z:g}, {self.k} local steps)")

    def pairs(self, relation: str) -> dict:
        if relation not in self._pairs:
            inner = _steps._cached_pairs(self.ql, self.z, relation)
            # label laws (certified lower bound): an instance of the mechanism -- the client's
            # other records have zero gradient and only the round's first local step is looked
            # at (a post-processing), which is exactly the Poisson(q_c q_l)-subsampled
            # Gaussian.  The revealed mixture's own lower bound is not one of the mechanism
            # (the other records reveal participation only partly: fltheory.verify).
            label = _steps._cached_pairs(self.qc * self.ql, self.z, relation)
            self._pairs[relation] = {
                name: SplitPair(RevealedMixturePair([(1.0 - self.qc, None, 0),
                                                     (self.qc, pair, self.k)],
                                                    name=f"revealed participation ({name})"),
                                label[name], name=f"revealed participation ({name})")
                for name, pair in inner.items()}
        return self._pairs[relation]

    def rdp(self, orders: np.ndarray, relation: str) -> np.ndarray:
        orders = np.asarray(orders, float)
        inner = self.k * np.asarray(_steps.GaussianStep(self.ql, self.z).rdp(orders, relation),
                                    float)
        return revealed_rdp(orders, [(1.0 - self.qc, np.zeros_like(inner)), (self.qc, inner)])


def revealed_rdp(orders: np.ndarray, components) -> np.ndarray:
    """Exact RDP of a revealed mixture: ``(1/(α-1)) log Σ_i w_i exp((α-1) r_i(α))``.

    ``components`` is a list of ``(weight, rdp_array)``.
    """
    orders = np.asarray(orders, float)
    a1 = orders - 1.0
    terms = []
    for w, r in components:
        if w <= 0:
            continue
        r = np.asarray(r, float)
        with np.errstate(over="ignore", invalid="ignore"):
            terms.append(math.log(w) + a1 * r)
    t = np.stack(terms, axis=0)
    with np.errstate(invalid="ignore"):
        mx = np.max(t, axis=0)
        fin = np.isfinite(mx)
        s = np.where(fin, mx + np.log(np.sum(np.exp(t - np.where(fin, mx, 0.0)), axis=0)), np.inf)
    return np.maximum(s / a1, 0.0)


def _handle_two_level(ev: TwoLevelSampledDpEvent):
    qc = check_probability("client_rate", ev.client_rate)
    ql = check_probability("batch_rate", ev.batch_rate)
    z = check_positive("noise_multiplier", ev.noise_multiplier)
    k = check_int("local_steps", ev.local_steps, minimum=1)
    if ev.cohort_visible or qc == 1.0:
        return [(_steps.GaussianStep(ql, z), k)]
    return [(TwoLevelStep(qc, ql, z, k), 1)]


_steps.register_event(TwoLevelSampledDpEvent, _handle_two_level)


def dp_fedavg(client_rate: float, noise_multiplier: float, rounds: int, *,
              cohort_visible: bool = False):
    """Client-level DP of DP-FedAvg with Poisson client sampling (McMahan et al. 2018).

    Each round every client takes part independently with probability :math:`q_c`; each
    participating client's model update is clipped to norm :math:`C` and the server adds
    :math:`\\mathcal{N}(0, z^2 C^2 I)` to their sum:

    .. math::

        \\mathcal{M}_t(D) = \\sum_{i \\in B_t} \\mathrm{clip}_C(\\Delta_i^t)
        + \\mathcal{N}(0, z^2 C^2 I), \\qquad \\Pr[i \\in B_t] = q_c .

    For client-level DP (neighbouring datasets differ in one client's whole data) this is
    exactly a Poisson-subsampled Gaussian per round.  Batch sampling inside a client gives no
    further amplification at client level.

    Threat model: the adversary sees the released aggregates (the model), not the cohort;
    the cohort must be drawn by the trusted server (or the clients) and kept secret.  With
    ``cohort_visible=True`` (the adversary sees or chooses who takes part) the guarantee is
    stated for the worst cohort -- the client takes part every round -- and client sampling
    gives no amplification.

    Parameters
    ----------
    client_rate : float
        :math:`q_c \\in (0, 1]`.
    noise_multiplier : float
        :math:`z = \\sigma / C > 0`.
    rounds : int
        Number of rounds :math:`T \\ge 1`.
    cohort_visible : bool, optional
        See the threat model (default ``False``).

    Returns
    -------
    dp_accounting.DpEvent
        ``SelfComposedDpEvent(PoissonSampledDpEvent(q_c, GaussianDpEvent(z)), T)`` (or, with a
        visible cohort, ``SelfComposedDpEvent(GaussianDpEvent(z), T)``).

    References
    ----------
    .. [1] H. B. McMahan, D. Ramage, K. Talwar, L. Zhang. "Learning Differentially Private
       Recurrent Language Models." ICLR 2018, arXiv:1710.06963, Alg. 1 and Sec. 3.
    .. [2] I. Mironov, K. Talwar, L. Zhang. arXiv:1908.10530, 2019 (sampled Gaussian RDP).

    Examples
    --------
    >>> from fltheory.accounting import dp_fedavg, epsilon
    >>> ev = dp_fedavg(client_rate=0.01, noise_multiplier=1.0, rounds=1000)
    >>> g = epsilon(ev, delta=1e-5)
    >>> 1.7 < g.epsilon_lower <= g.epsilon < 1.9
    True
    """
    qc = check_probability("client_rate", client_rate)
    z = check_positive("noise_multiplier", noise_multiplier)
    t = check_int("rounds", rounds, minimum=1)
    gauss = dp_accounting.GaussianDpEvent(z)
    if cohort_visible:
        return dp_accounting.SelfComposedDpEvent(gauss, t)
    return dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(qc, gauss), t)


def local_dp_sgd(client_rate: float, batch_rate: float, noise_multiplier: float,
                 local_steps: int, rounds: int, *, cohort_visible: bool = False,
                 participation: str | None = None):
    """Record-level DP of FL where each sampled client runs DP-SGD locally.

    Each round the client takes part with probability :math:`q_c`; a participating client runs
    :math:`K` steps of DP-SGD with Poisson batch rate :math:`q_\\ell` and noise multiplier
    :math:`z`.  Neighbouring datasets differ in one record of one client.

    **Why not** :math:`q = q_c q_\\ell`?  A client's other records change the update whenever
    the client takes part, so an adversary can tell participation apart; given participation,
    the record is only :math:`q_\\ell`-subsampled.  The sound statement is the *revealed
    mixture* over participation: with :math:`(P_K, Q_K)` the dominating pair of :math:`K`
    local steps,

    .. math::

        P = (1 - q_c)\\,\\delta_{\\varnothing} + q_c\\, P_K, \\qquad
        Q = (1 - q_c)\\,\\delta_{\\varnothing} + q_c\\, Q_K, \\qquad
        H_{e^{\\varepsilon}}(P\\|Q) = q_c\\, H_{e^{\\varepsilon}}(P_K\\|Q_K),

    and in RDP :math:`e^{(\\alpha-1)\\varepsilon(\\alpha)} = 1 - q_c + q_c
    e^{(\\alpha-1)K\\varepsilon_{q_\\ell}(\\alpha)}`.  It is tight when participation is
    detectable (e.g. a client with many records in a second coordinate), so the naive product
    is *below* what an attack achieves.  The docs page "Amplification in federated learning"
    has a worked example.

    Threat model: the adversary sees each client's released updates.  ``cohort_visible=False``
    (default): it does not choose the cohort (it may infer it).  ``cohort_visible=True``: the
    server sees or chooses who takes part and the guarantee must hold for that cohort, so
    client sampling gives no amplification (every round counted as a participation).

    Parameters
    ----------
    client_rate : float
        :math:`q_c \\in (0, 1]`.
    batch_rate : float
        :math:`q_\\ell \\in (0, 1]`.
    noise_multiplier : float
        :math:`z > 0` of each local step.
    local_steps : int
        :math:`K \\ge 1` local steps per round.
    rounds : int
        :math:`T \\ge 1`.
    cohort_visible : bool, optional
        See the threat model.
    participation : {"revealed", "visible"}, optional
        Alias of ``cohort_visible`` (``"visible"`` = ``True``), as in the design notes.

    Returns
    -------
    dp_accounting.DpEvent
        ``SelfComposedDpEvent(TwoLevelSampledDpEvent(...), T)``.

    References
    ----------
    .. [1] M. Abadi et al. "Deep Learning with Differential Privacy." CCS 2016 (DP-SGD).
    .. [2] Y. Zhu, J. Dong, Y.-X. Wang. AISTATS 2022, Thm. 10 (composition of dominating
       pairs); the revealed mixture is derived on the docs page.

    Examples
    --------
    >>> from fltheory.accounting import local_dp_sgd, epsilon
    >>> ev = local_dp_sgd(client_rate=0.1, batch_rate=0.05, noise_multiplier=1.0,
    ...                   local_steps=5, rounds=100)
    >>> g = epsilon(ev, delta=1e-5)
    >>> g.epsilon_lower <= g.epsilon
    True
    """
    qc = check_probability("client_rate", client_rate)
    ql = check_probability("batch_rate", batch_rate)
    z = check_positive("noise_multiplier", noise_multiplier)
    k = check_int("local_steps", local_steps, minimum=1)
    t = check_int("rounds", rounds, minimum=1)
    if participation is not None:
        from fltheory._checks import check_choice

        participation = check_choice("participation", participation, ("revealed", "visible"))
        cohort_visible = participation == "visible"
    return dp_accounting.SelfComposedDpEvent(
        TwoLevelSampledDpEvent(qc, ql, z, k, bool(cohort_visible)), t)


# ---------------------------------------------------------------------------------------------
# CLI scenarios
# ---------------------------------------------------------------------------------------------
def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    v = str(value).strip().lower()
    if v in ("1", "true", "yes", "y", "on"):
        return True
    if v in ("0", "false", "no", "n", "off"):
        return False
    raise ValueError(f"expected yes/no, got {value!r}")


register_scenario(Scenario(
    name="dp_fedavg",
    build=lambda client_rate, noise_multiplier, rounds, cohort_visible="no": dp_fedavg(
        client_rate, noise_multiplier, rounds, cohort_visible=_flag(cohort_visible)),
    params=(
        Param("client_rate", float, "Poisson client sampling rate q_c in (0, 1]", role="rate"),
        Param("noise_multiplier", float, "noise multiplier z = sigma / C", role="noise"),
        Param("rounds", int, "number of rounds T", role="count"),
        Param("cohort_visible", str, "does the adversary see/choose the cohort (yes|no)",
              default="no", choices=("no", "yes")),
    ),
    summary="DP-FedAvg, client-level DP (McMahan et al. 2018)",
    example="fltheory epsilon --scenario dp_fedavg --client-rate 0.01 --noise-multiplier 1.0 "
            "--rounds 1000 --delta 1e-5",
))

register_scenario(Scenario(
    name="local_dp_sgd",
    build=lambda client_rate, batch_rate, noise_multiplier, local_steps, rounds,
    cohort_visible="no": local_dp_sgd(client_rate, batch_rate, noise_multiplier, local_steps,
                                      rounds, cohort_visible=_flag(cohort_visible)),
    params=(
        Param("client_rate", float, "client participation probability q_c", role="rate"),
        Param("batch_rate", float, "local Poisson batch rate q_l", role="rate"),
        Param("noise_multiplier", float, "noise multiplier z of each local step",
              role="noise"),
        Param("local_steps", int, "local DP-SGD steps K per round"),
        Param("rounds", int, "number of rounds T", role="count"),
        Param("cohort_visible", str, "does the server see/choose the cohort (yes|no)",
              default="no", choices=("no", "yes")),
    ),
    summary="record-level DP with DP-SGD inside sampled clients (revealed participation)",
    example="fltheory epsilon --scenario local_dp_sgd --client-rate 0.1 --batch-rate 0.05 "
            "--noise-multiplier 1.0 --local-steps 5 --rounds 1000 --delta 1e-5",
))
