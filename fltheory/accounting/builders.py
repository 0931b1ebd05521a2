"""Event builders for central DP-SGD.

Every builder returns a plain ``dp_accounting.DpEvent`` (what dp-accounting users already know),
so events from fltheory and from dp-accounting can be mixed freely.
"""

from __future__ import annotations

import dp_accounting

from fltheory._checks import check_choice, check_int, check_positive, check_probability

__all__ = ["dp_sgd", "SAMPLING"]

SAMPLING = ("poisson", "without_replacement", "shuffle")

_SHUFFLE_MSG = (
    "sampling='shuffle' is refused: batches formed by shuffling the data each epoch are not "
    "Poisson samples, and a Poisson accountant *underestimates* epsilon for them (Chua et al., "
    "ICML 2024, arXiv:2403.17673). Sound options: train with Poisson sampling "
    "(sampling='poisson'), or fixed-size sampling without replacement "
    "(sampling='without_replacement', replace-one RDP bound), or account the shuffled run with "
    "a balls-and-bins / truncated-Poisson analysis (arXiv:2412.16802)."
)


def dp_sgd(sampling_rate: float, noise_multiplier: float, steps: int, *,
           sampling: str = "poisson", dataset_size: int | None = None):
    """The accounting event of DP-SGD (Abadi et al. 2016).

    Each step samples a batch, clips every per-example gradient to norm ``C`` and adds
    :math:`\\mathcal{N}(0, z^2 C^2 I)` to the sum.

    .. math::

        \\mathcal{M}_t(D) = \\sum_{x \\in B_t} \\mathrm{clip}_C(\\nabla \\ell(\\theta_t; x))
        + \\mathcal{N}(0, z^2 C^2 I), \\qquad t = 1, \\dots, T.

    Parameters
    ----------
    sampling_rate : float
        ``q`` in (0, 1]: Poisson inclusion probability of each record (or batch/dataset size for
        ``sampling="without_replacement"``).
    noise_multiplier : float
        ``z = σ / C > 0``.
    steps : int
        ``T ≥ 1``.
    sampling : {"poisson", "without_replacement", "shuffle"}
        ``"poisson"`` (tight PLD and RDP accounting under add/remove and replace-one);
        ``"without_replacement"``: fixed-size batches, replace-one only, RDP bound of
        Wang–Balle–Kasiviswanathan (valid, not tight, no PLD); ``"shuffle"`` is refused with the
        reason (a Poisson accountant underestimates ε for shuffled batches).
    dataset_size : int, optional
        For ``"without_replacement"``: the dataset size ``n`` (the batch size is
        ``round(q n)``).  Defaults to a representation of ``q`` with denominator ``10**9``.

    Returns
    -------
    dp_accounting.DpEvent
        ``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(z)), T)`` or
        ``SelfComposedDpEvent(SampledWithoutReplacementDpEvent(n, m, GaussianDpEvent(z)), T)``.

    References
    ----------
    .. [1] Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar, Zhang. "Deep Learning with
       Differential Privacy." CCS 2016, Alg. 1.
    .. [2] Mironov, Talwar, Zhang. arXiv:1908.10530, 2019 (Poisson-sampled Gaussian).
    .. [3] Wang, Balle, Kasiviswanathan. AISTATS 2019, Thm. 27 (sampling without replacement).
    .. [4] Chua, Ghazi, Kamath, Kumar, Manurangsi, Sinha, Zhang. "How Private are DP-SGD
       Implementations?" ICML 2024 (shuffling vs Poisson).

    Examples
    --------
    >>> from fltheory.accounting import dp_sgd
    >>> ev = dp_sgd(sampling_rate=0.01, noise_multiplier=1.0, steps=10_000)
    >>> type(ev).__name__, ev.count
    ('SelfComposedDpEvent', 10000)
    >>> dp_sgd(0.01, 1.0, 100, sampling="shuffle")
    Traceback (most recent call last):
    ...
    ValueError: sampling='shuffle' is refused: ...
    """
    q = check_probability("sampling_rate", sampling_rate)
    z = check_positive("noise_multiplier", noise_multiplier)
    t = check_int("steps", steps, minimum=1)
    sampling = check_choice("sampling", sampling, SAMPLING)
    gauss = dp_accounting.GaussianDpEvent(z)
    if sampling == "shuffle":
        raise ValueError(_SHUFFLE_MSG)
    if sampling == "poisson":
        return dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(q, gauss), t)
    n = 10 ** 9 if dataset_size is None else check_int("dataset_size", dataset_size, minimum=1)
    m = max(1, round(q * n))
    if m > n:
        raise ValueError(f"sampling_rate * dataset_size must be <= dataset_size, got {q * n:g}")
    return dp_accounting.SelfComposedDpEvent(
        dp_accounting.SampledWithoutReplacementDpEvent(n, m, gauss), t)
