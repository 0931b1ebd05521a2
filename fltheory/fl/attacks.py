r"""Byzantine attacks on federated learning: update attacks and data-poisoning attacks.

**Update attacks** are omniscient: they see the honest updates of the round, ``honest`` of shape
``(h, d)``, and return the ``(f, d)`` updates the ``f`` Byzantine clients send::

    byz = attack(honest, f, aggregator=server_rule, generator=g)
    updates = torch.cat([honest, byz])

Notation: :math:`\bar g` is the honest mean and :math:`\sigma` the coordinate-wise standard
deviation of the honest updates (``ddof=1``, i.e. ``torch.std``'s default, unless stated).

==================  ================================================================
``sign_flip``       :math:`-\bar g`
``ipm``             :math:`-\tau\bar g`
``alie``            :math:`\bar g - z\sigma`, :math:`z` from ``z_rule`` (below) or given
``optimal_alie``    :math:`\bar g - \tau^\star\sigma`, :math:`\tau^\star` by line search
``optimal_ipm``     :math:`-\tau^\star\bar g`, :math:`\tau^\star` by line search
``mimic``           a copy of one honest update
``gaussian``        :math:`\mathcal N(\mu, s^2 I_d)`, independent per Byzantine client
``nonfinite``       :math:`\bar g` with (a fraction of) coordinates set to NaN or ±Inf
==================  ================================================================

**Data-poisoning attacks** change what Byzantine clients train on: :class:`LabelFlip`
(:math:`y \mapsto L - 1 - y`) and :class:`Backdoor` (a pixel-pattern trigger with a target label,
plus model-replacement scaling of the resulting update, and its success-rate metric).  They expose
``poison(x, y, generator)``.

Examples
--------
>>> import torch
>>> from fltheory.fl import attacks
>>> honest = torch.tensor([[1.0, 2.0], [3.0, 2.0]])
>>> attacks.get("sign_flip")(honest, f=2)
tensor([[-2., -2.],
        [-2., -2.]])
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Callable, Sequence

import torch

from .._checks import (check_choice, check_int, check_nonnegative, check_positive,
                       check_probability, check_real)
from ._util import GeneratorLike, as_matrix, like_input, randn, randperm, torch_generator
from ..registry import Registry

__all__ = [
    "Attack",
    "SignFlip",
    "IPM",
    "ALIE",
    "OptimalALIE",
    "OptimalIPM",
    "Mimic",
    "Gaussian",
    "NonFinite",
    "LabelFlip",
    "Backdoor",
    "alie_z",
    "get",
    "available",
]


def alie_z(n: int, f: int, rule: str = "honest") -> float:
    r"""The ALIE factor :math:`z_{\max}` for ``n`` clients of which ``f`` are Byzantine.

    With :math:`s = \lfloor n/2 + 1\rfloor - f` the number of honest "supporters" the attackers
    need for a majority, two conventions are in use:

    * ``"paper"`` (Baruch et al. 2019, Algorithm 3): :math:`z = \Phi^{-1}\bigl((n - s)/n\bigr)`;
    * ``"honest"`` (the form used in Karimireddy, He & Jaggi's reference code and most later
      robust-FL experiments, counting only the :math:`n - f` honest clients):
      :math:`z = \Phi^{-1}\bigl((n - f - s)/(n - f)\bigr)`.

    Parameters
    ----------
    n : int
        Total number of clients.
    f : int
        Number of Byzantine clients, :math:`1 \le f < n`.
    rule : {"honest", "paper"}
        The convention.

    Raises
    ------
    ValueError
        If the quantile level is outside (0, 1) (too many attackers for a finite z).

    References
    ----------
    M. Baruch, G. Baruch and Y. Goldberg (2019). A little is enough: circumventing defenses for
    distributed learning. NeurIPS, Section 3 and Algorithm 3.

    Examples
    --------
    >>> round(alie_z(20, 4, "paper"), 4), round(alie_z(20, 4, "honest"), 4)
    (0.3853, 0.1573)
    """
    n = check_int("n", n, minimum=2)
    f = check_int("f", f, minimum=1, maximum=n - 1)
    rule = check_choice("rule", rule, ("honest", "paper"))
    s = math.floor(n / 2 + 1) - f
    level = (n - s) / n if rule == "paper" else (n - f - s) / (n - f)
    if not 0 < level < 1:
        raise ValueError(f"f must leave the ALIE quantile level in (0, 1); with n={n}, f={f} "
                         f"({rule!r} rule) it is {level:g}")
    return NormalDist().inv_cdf(level)


def _honest_stats(honest: torch.Tensor, ddof: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    mean = honest.mean(dim=0)
    if honest.shape[0] <= ddof:
        return mean, torch.zeros_like(mean)
    return mean, honest.std(dim=0, correction=ddof)


class Attack:
    """Base class.  ``kind`` is ``"update"`` or ``"data"``."""

    name = "attack"
    kind = "update"

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


class _UpdateAttack(Attack):
    kind = "update"

    def __call__(self, honest: Any, f: int, *, aggregator: Callable | None = None,
                 generator: GeneratorLike = None) -> torch.Tensor:
        """The ``(f, d)`` Byzantine updates given the ``(h, d)`` honest ones.

        ``honest`` may be a tensor, a NumPy array or a list of vectors; the result has its type
        (NumPy in, NumPy out) and floating dtype.
        """
        original = honest
        honest = as_matrix("honest", honest)
        f = check_int("f", f, minimum=0)
        if f == 0:
            return like_input(honest.new_zeros((0, honest.shape[1])), original)
        out = self._attack(honest, f, aggregator, torch_generator(generator, honest.device))
        return like_input(out, original)

    def _attack(self, honest, f, aggregator, gen):  # pragma: no cover - abstract
        raise NotImplementedError


class SignFlip(_UpdateAttack):
    r"""Send the negated honest mean :math:`-\bar g`.

    Examples
    --------
    >>> SignFlip()(torch.tensor([[1.0], [3.0]]), f=1)
    tensor([[-2.]])
    """

    name = "sign_flip"

    def _attack(self, honest, f, aggregator, gen):
        return (-honest.mean(dim=0)).expand(f, -1).clone()


class IPM(_UpdateAttack):
    r"""Inner-product manipulation: send :math:`-\tau\bar g` so that the aggregate's inner product
    with the true gradient turns negative.

    Parameters
    ----------
    tau : float
        :math:`\tau > 0` (0.1 and 100 in the paper's experiments).

    References
    ----------
    C. Xie, O. Koyejo and I. Gupta (2019). Fall of empires: breaking Byzantine-tolerant SGD by
    inner product manipulation. UAI (PMLR 115, 2020), Section 4.

    Examples
    --------
    >>> IPM(tau=0.5)(torch.tensor([[1.0], [3.0]]), f=2)
    tensor([[-1.],
            [-1.]])
    """

    name = "ipm"

    def __init__(self, tau: float = 0.1) -> None:
        self.tau = check_positive("tau", tau)

    def _attack(self, honest, f, aggregator, gen):
        return (-self.tau * honest.mean(dim=0)).expand(f, -1).clone()


class ALIE(_UpdateAttack):
    r"""A little is enough: send :math:`\bar g - z\sigma` (all Byzantine clients the same).

    Parameters
    ----------
    z : float, optional
        The factor.  Default: :func:`alie_z` of ``n`` and ``f`` under ``z_rule``.
    z_rule : {"honest", "paper"}
        Which convention for :math:`z_{\max}` (see :func:`alie_z`).
    n : int, optional
        Total number of clients; default ``h + f`` (honest plus Byzantine passed to the call).
    ddof : int
        Delta degrees of freedom of :math:`\sigma` (1: unbiased, as ``torch.std``; 0: population).

    References
    ----------
    M. Baruch, G. Baruch and Y. Goldberg (2019). A little is enough: circumventing defenses for
    distributed learning. NeurIPS, Algorithm 3.

    Examples
    --------
    >>> honest = torch.tensor([[0.0], [2.0]])
    >>> ALIE(z=1.0)(honest, f=1)          # mean 1, std sqrt(2)
    tensor([[-0.4142]])
    """

    name = "alie"

    def __init__(self, z: float | None = None, *, z_rule: str = "honest", n: int | None = None,
                 ddof: int = 1) -> None:
        self.z = None if z is None else check_real("z", z)
        self.z_rule = check_choice("z_rule", z_rule, ("honest", "paper"))
        self.n = None if n is None else check_int("n", n, minimum=2)
        self.ddof = check_int("ddof", ddof, minimum=0, maximum=1)
        self.last_z: float | None = None

    def factor(self, h: int, f: int) -> float:
        """The z used with ``h`` honest and ``f`` Byzantine clients."""
        if self.z is not None:
            return self.z
        return alie_z(self.n if self.n is not None else h + f, f, self.z_rule)

    def _attack(self, honest, f, aggregator, gen):
        z = self.factor(honest.shape[0], f)
        self.last_z = z
        mean, std = _honest_stats(honest, self.ddof)
        return (mean - z * std).expand(f, -1).clone()


def _aggregate(aggregator: Callable, x: torch.Tensor) -> torch.Tensor:
    out = aggregator(x)
    if isinstance(out, tuple):
        out = out[0]
    return torch.as_tensor(out)


class _LineSearchAttack(_UpdateAttack):
    """Choose the factor τ in ``[low, high]`` that maximises ‖F(honest ∪ byz(τ)) − ḡ‖."""

    def __init__(self, tau_range: Sequence[float] = (0.0, 10.0), *, num_points: int = 16,
                 refine_steps: int = 12) -> None:
        if len(tau_range) != 2:
            raise ValueError(f"tau_range must be (low, high), got {tau_range!r}")
        low, high = check_real("tau_range[0]", tau_range[0]), check_real("tau_range[1]",
                                                                         tau_range[1])
        if not low < high:
            raise ValueError(f"tau_range must have low < high, got ({low}, {high})")
        self.tau_range = (low, high)
        self.num_points = check_int("num_points", num_points, minimum=2)
        self.refine_steps = check_int("refine_steps", refine_steps, minimum=0)
        self.last_tau: float | None = None
        self.last_error: float | None = None

    def _vector(self, tau: float, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    def _attack(self, honest, f, aggregator, gen):
        if aggregator is None:
            raise ValueError(f"aggregator must be the server's rule for {self.name}, got None")
        mean, std = _honest_stats(honest)

        def damage(tau: float) -> float:
            byz = self._vector(tau, mean, std).expand(f, -1)
            agg = _aggregate(aggregator, torch.cat([honest, byz]))
            val = float(torch.linalg.vector_norm((agg - mean).to(torch.float64)))
            return val if math.isfinite(val) else -math.inf

        low, high = self.tau_range
        grid = [low + (high - low) * i / (self.num_points - 1) for i in range(self.num_points)]
        vals = [damage(t) for t in grid]
        j = max(range(len(grid)), key=lambda i: (vals[i], -i))
        best_t, best_v = grid[j], vals[j]
        a, b = grid[max(j - 1, 0)], grid[min(j + 1, len(grid) - 1)]
        ratio = (math.sqrt(5.0) - 1.0) / 2.0
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        vc, vd = damage(c), damage(d)
        for _ in range(self.refine_steps):  # golden-section search for a maximum in [a, b]
            if vc >= vd:
                b, d, vd = d, c, vc
                c = b - ratio * (b - a)
                vc = damage(c)
            else:
                a, c, vc = c, d, vd
                d = a + ratio * (b - a)
                vd = damage(d)
        for t, v in ((c, vc), (d, vd)):
            if v > best_v:
                best_t, best_v = t, v
        self.last_tau, self.last_error = best_t, best_v
        return self._vector(best_t, mean, std).expand(f, -1).clone()


class OptimalALIE(_LineSearchAttack):
    r"""ALIE with the factor chosen against the server's rule:
    :math:`\bar g - \tau^\star\sigma`, :math:`\tau^\star = \arg\max_{\tau}
    \lVert F(g_1,\dots,g_h, v_\tau,\dots,v_\tau) - \bar g\rVert`.

    A grid of ``num_points`` values of :math:`\tau` in ``tau_range`` is followed by
    ``refine_steps`` golden-section steps around the best grid point (deterministic).  The chosen
    factor is kept in ``last_tau`` and the damage in ``last_error``.

    References
    ----------
    V. Shejwalkar and A. Houmansadr (2021). Manipulating the Byzantine: optimizing model poisoning
    attacks and defenses for federated learning. NDSS, Section IV (aggregator-tailored scaling of
    a perturbation direction); M. Baruch et al. (2019), NeurIPS (the ALIE direction).

    Examples
    --------
    >>> from fltheory.fl.aggregators import get as get_rule
    >>> honest = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    >>> atk = OptimalALIE(tau_range=(0.0, 5.0))
    >>> byz = atk(honest, f=2, aggregator=get_rule("cwtm", f=2))
    >>> byz.shape, 0.0 <= atk.last_tau <= 5.0
    (torch.Size([2, 5]), True)
    """

    name = "optimal_alie"

    def _vector(self, tau, mean, std):
        return mean - tau * std


class OptimalIPM(_LineSearchAttack):
    r"""IPM with the factor chosen against the server's rule: :math:`-\tau^\star\bar g`,
    :math:`\tau^\star` maximising the aggregation error (see :class:`OptimalALIE`).

    References
    ----------
    C. Xie, O. Koyejo and I. Gupta (2019). Fall of empires. UAI (the IPM direction);
    V. Shejwalkar and A. Houmansadr (2021). NDSS, Section IV (optimised scaling).

    Examples
    --------
    >>> from fltheory.fl.aggregators import Mean
    >>> atk = OptimalIPM(tau_range=(0.0, 3.0))
    >>> _ = atk(torch.ones(4, 2), f=1, aggregator=Mean())
    >>> atk.last_tau      # against the mean, the largest factor does the most damage
    3.0
    """

    name = "optimal_ipm"

    def _vector(self, tau, mean, std):
        return -tau * mean


class Mimic(_UpdateAttack):
    r"""Every Byzantine client sends a copy of one honest update (``target``), over-weighting that
    client's data -- harmful under heterogeneity although each sent vector is honest-looking.

    Parameters
    ----------
    target : int or "random"
        Index of the honest update copied, or one drawn with the generator each call.

    References
    ----------
    S. P. Karimireddy, L. He and M. Jaggi (2022). Byzantine-robust learning on heterogeneous
    datasets via bucketing. ICLR, Section 6 (the mimic attack).

    Examples
    --------
    >>> Mimic(target=1)(torch.tensor([[1.0], [5.0]]), f=2)
    tensor([[5.],
            [5.]])
    """

    name = "mimic"

    def __init__(self, target: int | str = 0) -> None:
        if isinstance(target, str):
            self.target: int | str = check_choice("target", target, ("random",))
        else:
            self.target = check_int("target", target, minimum=0)
        self.last_target: int | None = None

    def _attack(self, honest, f, aggregator, gen):
        h = honest.shape[0]
        if self.target == "random":
            i = int(randperm(h, gen, device="cpu")[0])
        else:
            i = int(self.target)
            if i >= h:
                raise ValueError(f"target must be < the number of honest updates {h}, got {i}")
        self.last_target = i
        return honest[i].expand(f, -1).clone()


class Gaussian(_UpdateAttack):
    r"""Each Byzantine client sends an independent :math:`\mathcal N(\mu, s^2 I_d)` vector.

    Parameters
    ----------
    mu : float
        Mean of every coordinate.
    sigma : float
        Standard deviation :math:`s \ge 0`.

    References
    ----------
    P. Blanchard, E. M. El Mhamdi, R. Guerraoui and J. Stainer (2017). Machine learning with
    adversaries. NeurIPS, Section 6 (Gaussian Byzantine workers).

    Examples
    --------
    >>> Gaussian(mu=1.0, sigma=0.0)(torch.zeros(3, 2), f=1)
    tensor([[1., 1.]])
    """

    name = "gaussian"

    def __init__(self, mu: float = 0.0, sigma: float = 1.0) -> None:
        self.mu = check_real("mu", mu)
        self.sigma = check_nonnegative("sigma", sigma)

    def _attack(self, honest, f, aggregator, gen):
        z = randn((f, honest.shape[1]), gen, device=honest.device, dtype=honest.dtype)
        return self.mu + self.sigma * z


class NonFinite(_UpdateAttack):
    """Send the honest mean with a fraction of its coordinates (all by default) replaced by NaN,
    +Inf or -Inf: tests that the server rejects such updates instead of crashing.

    Parameters
    ----------
    value : {"nan", "inf", "-inf"}
        The non-finite value.
    fraction : float
        Fraction of coordinates replaced, in (0, 1] (at least one; positions drawn per client).

    Examples
    --------
    >>> NonFinite("inf")(torch.zeros(2, 3), f=1)
    tensor([[inf, inf, inf]])
    """

    name = "nonfinite"

    def __init__(self, value: str = "nan", *, fraction: float = 1.0) -> None:
        self.value = check_choice("value", value, ("nan", "inf", "-inf"))
        self.fraction = check_probability("fraction", fraction)

    def _attack(self, honest, f, aggregator, gen):
        d = honest.shape[1]
        out = honest.mean(dim=0).expand(f, -1).clone()
        bad = float(self.value)
        if self.fraction >= 1.0:
            out.fill_(bad)
            return out
        k = max(1, int(round(self.fraction * d)))
        for i in range(f):
            idx = randperm(d, gen, device=out.device)[:k]
            out[i, idx] = bad
        return out


# --------------------------------------------------------------------------------------------------
# Data poisoning
# --------------------------------------------------------------------------------------------------
class LabelFlip(Attack):
    r"""Label flipping: Byzantine clients train on :math:`y \mapsto L - 1 - y`.

    Parameters
    ----------
    num_classes : int
        :math:`L`.

    References
    ----------
    S. P. Karimireddy, L. He and M. Jaggi (2022). Byzantine-robust learning on heterogeneous
    datasets via bucketing. ICLR, Section 6 (label-flipping attack); V. Tolpegin, S. Truex,
    M. E. Gursoy and L. Liu (2020). Data poisoning attacks against federated learning systems.
    ESORICS.

    Examples
    --------
    >>> LabelFlip(10).poison(torch.zeros(3, 2), torch.tensor([0, 3, 9]))[1]
    tensor([9, 6, 0])
    """

    name = "label_flip"
    kind = "data"

    def __init__(self, num_classes: int = 10) -> None:
        self.num_classes = check_int("num_classes", num_classes, minimum=2)

    def poison(self, x: torch.Tensor, y: torch.Tensor,
               generator: GeneratorLike = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, L - 1 - y)``."""
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"y must lie in [0, {self.num_classes - 1}], got "
                             f"[{int(y.min())}, {int(y.max())}]")
        return x, (self.num_classes - 1) - y


class Backdoor(Attack):
    r"""Pixel-pattern backdoor with model-replacement scaling.

    ``poison`` stamps a ``size × size`` square of value ``value`` in the bottom-right corner of a
    ``poison_fraction`` of the client's images and relabels them ``target``; the malicious client
    then trains normally and scales its update by :math:`\gamma` (model replacement: it sends
    :math:`G + \gamma(X - G)` for local model :math:`X` and global model :math:`G`, i.e. the update
    :math:`\gamma(X - G)`), with :math:`\gamma = n/\eta` (``num_clients`` over the server learning
    rate) unless ``gamma`` is given.  :meth:`success_rate` measures the attack: the fraction of
    triggered test images whose true label is not the target that the model classifies as the
    target.

    Parameters
    ----------
    target : int
        Label the trigger maps to.
    poison_fraction : float
        Fraction of each malicious batch that is poisoned, in (0, 1].
    size : int
        Side of the trigger square (pixels).
    value : float
        Pixel value of the trigger (inputs are in [0, 1] for the bundled datasets).
    image_shape : tuple (H, W), optional
        Needed for flattened inputs; otherwise the last two input dimensions are (H, W).
    gamma : float, optional
        Scaling factor; default ``num_clients / server_lr``.
    num_clients : int
        :math:`n`, the number of clients whose updates are averaged.
    server_lr : float
        :math:`\eta`, the server's learning rate.

    References
    ----------
    E. Bagdasaryan, A. Veit, Y. Hua, D. Estrin and V. Shmatikov (2020). How to backdoor federated
    learning. AISTATS, Section 4 (model replacement, :math:`\gamma = n/\eta`);
    T. Gu, B. Dolan-Gavitt and S. Garg (2017). BadNets. arXiv:1708.06733 (pixel-pattern triggers).

    Examples
    --------
    >>> bd = Backdoor(target=0, size=2, image_shape=(4, 4), num_clients=10)
    >>> x = torch.zeros(1, 16)
    >>> bd.apply_trigger(x).reshape(4, 4)
    tensor([[0., 0., 0., 0.],
            [0., 0., 0., 0.],
            [0., 0., 1., 1.],
            [0., 0., 1., 1.]])
    >>> bd.scale_update(torch.ones(2))
    tensor([10., 10.])
    """

    name = "backdoor"
    kind = "data"

    def __init__(self, target: int = 0, *, poison_fraction: float = 0.5, size: int = 2,
                 value: float = 1.0, image_shape: Sequence[int] | None = None,
                 gamma: float | None = None, num_clients: int = 1,
                 server_lr: float = 1.0) -> None:
        self.target = check_int("target", target, minimum=0)
        self.poison_fraction = check_probability("poison_fraction", poison_fraction)
        self.size = check_int("size", size, minimum=1)
        self.value = check_real("value", value)
        if image_shape is not None:
            if len(image_shape) != 2:
                raise ValueError(f"image_shape must be (H, W), got {tuple(image_shape)}")
            image_shape = tuple(check_int("image_shape", v, minimum=1) for v in image_shape)
        self.image_shape = image_shape
        self.num_clients = check_int("num_clients", num_clients, minimum=1)
        self.server_lr = check_positive("server_lr", server_lr)
        self.gamma = (self.num_clients / self.server_lr if gamma is None
                      else check_positive("gamma", gamma))

    def _hw(self, x: torch.Tensor) -> tuple[int, int]:
        if self.image_shape is not None:
            return self.image_shape
        if x.dim() < 3:
            raise ValueError("image_shape must be given for flattened inputs of shape "
                             f"{tuple(x.shape)}")
        return int(x.shape[-2]), int(x.shape[-1])

    def apply_trigger(self, x: torch.Tensor) -> torch.Tensor:
        """A copy of ``x`` with the trigger stamped on every record."""
        h, w = self._hw(x)
        if self.size > min(h, w):
            raise ValueError(f"size must be <= min(H, W) = {min(h, w)}, got {self.size}")
        out = x.clone()
        if self.image_shape is not None:
            lead = out.shape[:-1]
            if out.shape[-1] % (h * w):
                raise ValueError(f"inputs of shape {tuple(x.shape)} do not flatten images of "
                                 f"shape {self.image_shape}")
            view = out.reshape(*lead, -1, h, w)
            view[..., h - self.size:, w - self.size:] = self.value
            return view.reshape(out.shape)
        out[..., h - self.size:, w - self.size:] = self.value
        return out

    def poison(self, x: torch.Tensor, y: torch.Tensor,
               generator: GeneratorLike = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Stamp the trigger on a random ``poison_fraction`` of the records and relabel them."""
        gen = torch_generator(generator, "cpu")
        b = x.shape[0]
        k = int(round(self.poison_fraction * b))
        if k == 0:
            return x.clone(), y.clone()
        idx = randperm(b, gen, device="cpu")[:k].to(x.device)
        xp, yp = x.clone(), y.clone()
        xp[idx] = self.apply_trigger(x[idx])
        yp[idx] = self.target
        return xp, yp

    def scale_update(self, update: torch.Tensor) -> torch.Tensor:
        """The model-replacement update :math:`\\gamma\\,\\Delta`."""
        return self.gamma * update

    def model_replacement(self, local_params: torch.Tensor,
                          global_params: torch.Tensor) -> torch.Tensor:
        """The model sent, :math:`G + \\gamma(X - G)`."""
        return global_params + self.gamma * (local_params - global_params)

    def success_rate(self, model: Any, params: torch.Tensor, x_test: torch.Tensor,
                     y_test: torch.Tensor) -> float:
        """Fraction of triggered non-target test records classified as ``target``."""
        keep = y_test != self.target
        if not bool(keep.any()):
            raise ValueError("y_test has no record outside the target class")
        pred = model.predict(params, self.apply_trigger(x_test[keep]))
        return float((pred == self.target).float().mean())


#: The attacks, by name (``kind``: ``"update"`` replaces messages, ``"data"`` poisons data).
REGISTRY = Registry("attack")
for _name, _cls in (("sign_flip", SignFlip), ("ipm", IPM), ("alie", ALIE),
                    ("optimal_alie", OptimalALIE), ("optimal_ipm", OptimalIPM), ("mimic", Mimic),
                    ("gaussian", Gaussian), ("nonfinite", NonFinite), ("label_flip", LabelFlip),
                    ("backdoor", Backdoor)):
    REGISTRY.register(_name, _cls, kind=getattr(_cls, "kind", "update"))
REGISTRY.register("nan", lambda **kw: NonFinite("nan", **kw), kind="update")
REGISTRY.register("inf", lambda **kw: NonFinite("inf", **kw), kind="update")
_REGISTRY = REGISTRY            # the name of earlier releases


def available() -> list[str]:
    """Registered attack names.

    Examples
    --------
    >>> "alie" in available()
    True
    """
    return REGISTRY.available(aliases=True)


def get(name: str, **kwargs: Any) -> Attack:
    """Build an attack by name (see :func:`available`); keyword arguments go to its class.

    Examples
    --------
    >>> get("alie", z_rule="paper")
    ALIE(z=None, z_rule='paper', n=None, ddof=1, last_z=None)
    >>> get("label_flip", num_classes=10).kind
    'data'
    """
    return REGISTRY.get(name, param="name")(**kwargs)
