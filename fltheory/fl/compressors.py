r"""Update compressors for federated learning; each reports the bits it sends.

A compressor maps a client's update :math:`x\in\mathbb R^d` (or a batch ``(n, d)`` of updates, one
per row / client) to the vector the server decodes, and counts the bits of a fixed-length encoding
of the message.  Call one as ``value, bits = comp(x, generator=g)`` (a :class:`Compressed` named
tuple).  Randomised compressors take a ``torch.Generator`` (or an int seed): same seed, same output.

Unbiased compressors satisfy :math:`\mathbb E[Q(x)] = x` and
:math:`\mathbb E\lVert Q(x) - x\rVert^2 \le \omega\lVert x\rVert^2` (:meth:`Compressor.omega`);
biased ones (top-k, sign, plain masks) are contractions
:math:`\mathbb E\lVert C(x) - x\rVert^2 \le (1 - \delta)\lVert x\rVert^2`
(:meth:`Compressor.delta`) and are usually combined with :class:`ErrorFeedback`.

Bit accounting (``float_bits = 32`` by default; positions of kept coordinates cost
:math:`\mathrm{pos}(k) = \min(k\lceil\log_2 d\rceil, d)`, the cheaper of explicit indices and a
bitmap; a shared seed costs ``seed_bits = 64``), the encodings of
:func:`fltheory.bounds.bits_per_round`:

==================  ======================================  ===========================
compressor          bits per vector                         ω (unbiased) or δ (biased)
==================  ======================================  ===========================
``identity``        32 d                                    ω = 0
``topk``            32 k + pos(k)                           δ = k/d
``randk`` secret    32 k + pos(k)                           ω = d/k − 1
``randk`` shared    32 k + 64 (the seed)                    ω = d/k − 1
``qsgd``            32 + d (1 + ⌈log₂(s + 1)⌉)              ω = min(d/s², √d/s)
``sign``            d                                       biased, no δ for all x
``scaled_sign``     d + 32                                  δ ≥ 1/d
``one_bit``         d                                       error d B² − ‖x‖²
``bernoulli_mask``  32 kept + pos(kept) if secret,          ω = 1/p − 1 if rescaled,
                    32 kept + 64 if shared                  else δ = p
==================  ======================================  ===========================

Privacy note: *secret* masks are independent per client and never published; *shared* masks come
from one seed known to everyone, and give no privacy amplification (see
``fltheory.accounting.coordinate_sampled_gaussian``).  Top-k selection depends on the data and leaks
through the indices it sends.

Examples
--------
>>> import torch
>>> from fltheory.fl import compressors
>>> comp = compressors.get("topk", k=2)
>>> value, bits = comp(torch.tensor([0.1, -3.0, 2.0, 0.5]))
>>> value, bits
(tensor([ 0., -3.,  2.,  0.]), 68)
"""

from __future__ import annotations

from functools import partial

import math
from typing import Any, NamedTuple

import torch

from .._checks import check_choice, check_int, check_positive, check_probability
from ..config import declare_component
from ..registry import Registry
from ._util import GeneratorLike, as_vector_or_matrix, rand, torch_generator

__all__ = [
    "Compressed",
    "Compressor",
    "Identity",
    "TopK",
    "MagnitudePrune",
    "RandK",
    "QSGD",
    "Sign",
    "ScaledSign",
    "StochasticOneBit",
    "BernoulliMask",
    "ErrorFeedback",
    "get",
    "available",
]


class Compressed(NamedTuple):
    """A compressed message: the decoded ``value`` (same shape as the input) and ``bits`` sent.

    ``bits`` is the total over all rows of a batched input.
    """

    value: torch.Tensor
    bits: int


def _index_bits(d: int) -> int:
    return max(1, math.ceil(math.log2(d))) if d > 1 else 1


def _position_bits(k: int, d: int) -> int:
    """Bits for the positions of k kept coordinates: the cheaper of k indices and a d-bit bitmap."""
    return min(k * _index_bits(d), d)


class Compressor:
    """Base class.  Subclasses implement :meth:`_compress` on a 2-D ``(n, d)`` tensor.

    Attributes
    ----------
    name : str
        Registry name.
    unbiased : bool
        Whether :math:`\\mathbb E[Q(x)] = x`.
    float_bits : int
        Bits per transmitted float (default 32).
    """

    name = "compressor"
    unbiased = False

    def __init__(self, *, float_bits: int = 32) -> None:
        self.float_bits = check_int("float_bits", float_bits, minimum=1)

    def __call__(self, x: Any, generator: GeneratorLike = None) -> Compressed:
        """Compress ``x`` of shape ``(d,)`` or ``(n, d)`` (each row compressed independently)."""
        x = as_vector_or_matrix("x", x)
        gen = torch_generator(generator, x.device)
        squeeze = x.dim() == 1
        x2 = x.unsqueeze(0) if squeeze else x
        value, bits = self._compress(x2, gen)
        return Compressed(value.squeeze(0) if squeeze else value, int(bits))

    def _compress(self, x: torch.Tensor, gen: torch.Generator | None
                  ) -> tuple[torch.Tensor, int]:  # pragma: no cover - abstract
        raise NotImplementedError

    def bits(self, d: int) -> int | None:
        """Bits sent for one vector of dimension ``d`` (``None`` if it depends on the data)."""
        return None

    def omega(self, d: int) -> float | None:
        """Variance parameter ω of an unbiased compressor (``None`` if biased or not relative)."""
        return None

    def delta(self, d: int) -> float | None:
        """Contraction parameter δ of a biased compressor (``None`` if not applicable)."""
        return None

    def __repr__(self) -> str:
        params = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        inner = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({inner})"


class Identity(Compressor):
    """No compression: every coordinate sent as a float.

    Examples
    --------
    >>> Identity()(torch.ones(3)).bits
    96
    """

    name = "identity"
    unbiased = True

    def _compress(self, x, gen):
        return x.clone(), x.shape[0] * self.bits(x.shape[1])

    def bits(self, d: int) -> int:
        return self.float_bits * d

    def omega(self, d: int) -> float:
        return 0.0


class TopK(Compressor):
    r"""Keep the ``k`` coordinates of largest magnitude (ties: lowest index first); biased.

    Deterministic contraction: :math:`\lVert C(x) - x\rVert^2 \le (1 - k/d)\lVert x\rVert^2`.

    References
    ----------
    S. U. Stich, J.-B. Cordonnier and M. Jaggi (2018). Sparsified SGD with memory. NeurIPS,
    Definition 2.1 and Lemma A.1.

    Examples
    --------
    >>> TopK(1)(torch.tensor([[1.0, -2.0], [3.0, 0.0]])).value
    tensor([[ 0., -2.],
            [ 3.,  0.]])
    """

    name = "topk"

    def __init__(self, k: int, *, float_bits: int = 32) -> None:
        super().__init__(float_bits=float_bits)
        self.k = check_int("k", k, minimum=1)

    def _compress(self, x, gen):
        n, d = x.shape
        k = min(self.k, d)
        idx = torch.topk(x.abs(), k, dim=1, sorted=False).indices
        out = torch.zeros_like(x)
        out.scatter_(1, idx, x.gather(1, idx))
        return out, n * self.bits(d)

    def bits(self, d: int) -> int:
        k = min(self.k, d)
        return k * self.float_bits + _position_bits(k, d)

    def delta(self, d: int) -> float:
        return min(self.k, d) / d


class MagnitudePrune(TopK):
    r"""Magnitude pruning: zero the fraction ``rate`` of coordinates of smallest magnitude.

    The gradient-pruning defense of Zhu, Liu & Han (2019): keep the
    :math:`k = \max(1, \lceil (1-\text{rate})\, d\rceil)` largest coordinates, no rescaling.  It is
    :class:`TopK` parametrised by the pruned fraction instead of the count, so the same pruning
    level applies to models of any size; deterministic and biased.

    References
    ----------
    L. Zhu, Z. Liu and S. Han (2019). Deep leakage from gradients. NeurIPS, Sec. 5 (gradient
    pruning as a defense).

    Examples
    --------
    >>> MagnitudePrune(0.5)(torch.tensor([[1.0, -4.0, 3.0, 0.5]])).value
    tensor([[ 0., -4.,  3.,  0.]])
    """

    name = "magnitude_prune"

    def __init__(self, rate: float, *, float_bits: int = 32) -> None:
        Compressor.__init__(self, float_bits=float_bits)
        r = float(rate)
        if not (0.0 <= r < 1.0):
            raise ValueError(f"rate must be in [0, 1), got {rate}")
        self.rate = r

    def _kept(self, d: int) -> int:
        return max(1, math.ceil((1.0 - self.rate) * d - 1e-9))

    def _compress(self, x, gen):
        self.k = self._kept(x.shape[1])
        try:
            return super()._compress(x, gen)
        finally:
            del self.k

    def bits(self, d: int) -> int:
        k = self._kept(d)
        return k * self.float_bits + _position_bits(k, d)

    def delta(self, d: int) -> float:
        return self._kept(d) / d


class RandK(Compressor):
    r"""Send ``k`` coordinates chosen uniformly without replacement, scaled by :math:`d/k`.

    With ``scale=True`` (default) the compressor is unbiased with
    :math:`\mathbb E\lVert Q(x) - x\rVert^2 = (d/k - 1)\lVert x\rVert^2`; with ``scale=False`` it is
    the plain mask, a contraction with :math:`\delta = k/d` in expectation.

    Parameters
    ----------
    k : int
        Coordinates kept per vector.
    mask : {"secret", "shared"}
        ``"secret"``: each row (client) draws its own mask and sends the positions;
        ``"shared"``: one mask for all rows, derived from a seed sent along (``seed_bits``) instead
        of the positions (no privacy amplification).
    scale : bool
        Multiply kept coordinates by :math:`d/k` (unbiased).
    seed_bits : int
        Bits of the shared seed counted per message (64).

    References
    ----------
    S. U. Stich, J.-B. Cordonnier and M. Jaggi (2018). Sparsified SGD with memory. NeurIPS
    (rand-k); E. Gorbunov et al. (2023). Variance reduction is an antidote to Byzantines. ICLR
    (ω = d/k − 1).

    Examples
    --------
    >>> out = RandK(2, mask="shared")(torch.ones(3, 4), generator=0)
    >>> out.bits, bool((out.value != 0).sum(dim=1).eq(2).all())
    (384, True)
    """

    name = "randk"

    def __init__(self, k: int, *, mask: str = "secret", scale: bool = True,
                 float_bits: int = 32, seed_bits: int = 64) -> None:
        super().__init__(float_bits=float_bits)
        self.k = check_int("k", k, minimum=1)
        self.mask = check_choice("mask", mask, ("secret", "shared"))
        self.scale = bool(scale)
        self.seed_bits = check_int("seed_bits", seed_bits, minimum=0)
        self.unbiased = self.scale

    def _compress(self, x, gen):
        n, d = x.shape
        k = min(self.k, d)
        rows = 1 if self.mask == "shared" else n
        u = rand((rows, d), gen, device=x.device, dtype=torch.float32)
        idx = torch.topk(u, k, dim=1, sorted=False).indices.expand(n, k)
        factor = d / k if self.scale else 1.0
        out = torch.zeros_like(x)
        out.scatter_(1, idx, x.gather(1, idx) * factor)
        return out, n * self.bits(d)

    def bits(self, d: int) -> int:
        k = min(self.k, d)
        extra = _position_bits(k, d) if self.mask == "secret" else self.seed_bits
        return k * self.float_bits + extra

    def omega(self, d: int) -> float | None:
        return d / min(self.k, d) - 1.0 if self.scale else None

    def delta(self, d: int) -> float | None:
        return None if self.scale else min(self.k, d) / d


class QSGD(Compressor):
    r"""QSGD stochastic quantization with ``s`` levels (Alistarh et al. 2017).

    .. math::

        Q_s(x)_i = \lVert x\rVert_2\,\mathrm{sign}(x_i)\,\frac{\xi_i}{s},\qquad
        \xi_i = \begin{cases} \ell + 1 & \text{w.p. } a_i - \ell\\
                              \ell & \text{otherwise}\end{cases},
        \quad a_i = s|x_i|/\lVert x\rVert_2,\ \ell = \lfloor a_i\rfloor.

    Unbiased with
    :math:`\mathbb E\lVert Q_s(x) - x\rVert^2 \le \min(d/s^2, \sqrt d/s)\lVert x\rVert^2`
    (Lemma 3.1 of the paper).  For ``s = 1`` the exact value is
    :math:`\lVert x\rVert_2\lVert x\rVert_1 - \lVert x\rVert_2^2 \le (\sqrt d - 1)\lVert x\rVert^2`,
    the sharper ω returned then.  Bits: a 32-bit norm plus, per coordinate, a sign bit and
    :math:`\lceil\log_2(s + 1)\rceil` bits for :math:`\xi_i` (fixed-length code; the paper's Elias
    coding sends fewer).

    References
    ----------
    D. Alistarh, D. Grubic, J. Li, R. Tomioka and M. Vojnovic (2017). QSGD: communication-efficient
    SGD via gradient quantization and encoding. NeurIPS, Lemma 3.1.

    Examples
    --------
    >>> round(QSGD(1).omega(100), 6), QSGD(4).bits(10)
    (9.0, 72)
    """

    name = "qsgd"
    unbiased = True

    def __init__(self, s: int = 1, *, float_bits: int = 32) -> None:
        super().__init__(float_bits=float_bits)
        self.s = check_int("s", s, minimum=1)

    def _compress(self, x, gen):
        n, d = x.shape
        norm = x.norm(dim=1, keepdim=True)
        safe = torch.where(norm > 0, norm, torch.ones_like(norm))
        a = x.abs() / safe * self.s
        low = torch.floor(a)
        u = rand((n, d), gen, device=x.device, dtype=x.dtype)
        xi = low + (u < (a - low)).to(x.dtype)
        out = torch.where(norm > 0, norm * torch.sign(x) * xi / self.s, torch.zeros_like(x))
        return out, n * self.bits(d)

    def bits(self, d: int) -> int:
        return self.float_bits + d * (1 + math.ceil(math.log2(self.s + 1)))

    def omega(self, d: int) -> float:
        if self.s == 1:
            return math.sqrt(d) - 1.0
        return min(d / self.s ** 2, math.sqrt(d) / self.s)


class Sign(Compressor):
    """signSGD: send :math:`\\mathrm{sign}(x_i)` (one bit; ``sign(0) = +1``); biased.

    References
    ----------
    J. Bernstein, Y.-X. Wang, K. Azizzadenesheli and A. Anandkumar (2018). signSGD: compressed
    optimisation for non-convex problems. ICML.

    Examples
    --------
    >>> Sign()(torch.tensor([-2.0, 0.0, 0.3]))
    Compressed(value=tensor([-1.,  1.,  1.]), bits=3)
    """

    name = "sign"

    def _compress(self, x, gen):
        return torch.where(x < 0, -torch.ones_like(x), torch.ones_like(x)), x.numel()

    def bits(self, d: int) -> int:
        return d


class ScaledSign(Compressor):
    r"""Scaled sign :math:`C(x) = \frac{\lVert x\rVert_1}{d}\,\mathrm{sign}(x)` (a float + d bits).

    A contraction with :math:`\delta(x) = \lVert x\rVert_1^2 / (d\lVert x\rVert_2^2) \ge 1/d`
    (:meth:`delta` returns the worst case :math:`1/d`).

    References
    ----------
    S. P. Karimireddy, Q. Rebjock, S. U. Stich and M. Jaggi (2019). Error feedback fixes SignSGD and
    other gradient compression schemes. ICML, Section 3.

    Examples
    --------
    >>> ScaledSign()(torch.tensor([-2.0, 1.0])).value
    tensor([-1.5000,  1.5000])
    """

    name = "scaled_sign"

    def _compress(self, x, gen):
        n, d = x.shape
        scale = x.abs().sum(dim=1, keepdim=True) / d
        sgn = torch.where(x < 0, -torch.ones_like(x), torch.ones_like(x))
        return scale * sgn, n * self.bits(d)

    def bits(self, d: int) -> int:
        return d + self.float_bits

    def delta(self, d: int) -> float:
        return 1.0 / d


class StochasticOneBit(Compressor):
    r"""1-bit stochastic quantizer: clip to :math:`[-c, c]`, send :math:`\pm B` with
    :math:`P(+B) = (B + x)/(2B)`.

    Unbiased on :math:`[-c, c]` with per-coordinate variance :math:`B^2 - x_i^2`, so
    :math:`\mathbb E\lVert Q(x) - x\rVert^2 = dB^2 - \lVert x\rVert^2` (an absolute, not a relative,
    variance: :meth:`omega` is ``None``; see :meth:`variance`).  Each output bit is
    :math:`\varepsilon`-DP per coordinate (replace-one, :math:`|x| \le c`) with
    :math:`\varepsilon = \log\frac{B + c}{B - c}` (:attr:`epsilon`; infinite when :math:`B = c`).

    Parameters
    ----------
    c : float
        Clipping bound of each coordinate.
    B : float, optional
        Output magnitude, :math:`B \ge c` (default :math:`B = c`, the unbiased but non-private
        stochastic sign).

    Examples
    --------
    >>> q = StochasticOneBit(c=1.0, B=3.0)
    >>> round(q.epsilon, 6)
    0.693147
    >>> q(torch.zeros(4), generator=0).value.abs().tolist()
    [3.0, 3.0, 3.0, 3.0]
    """

    name = "one_bit"
    unbiased = True

    def __init__(self, c: float = 1.0, B: float | None = None) -> None:
        super().__init__(float_bits=32)
        self.c = check_positive("c", c)
        self.B = self.c if B is None else check_positive("B", B)
        if self.B < self.c:
            raise ValueError(f"B must be >= c = {self.c}, got {self.B}")

    @property
    def epsilon(self) -> float:
        """Per-coordinate pure-DP level :math:`\\log((B + c)/(B - c))` (``inf`` if ``B == c``)."""
        if self.B == self.c:
            return math.inf
        return math.log((self.B + self.c) / (self.B - self.c))

    def _compress(self, x, gen):
        xc = x.clamp(-self.c, self.c)
        u = rand(tuple(x.shape), gen, device=x.device, dtype=x.dtype)
        plus = u < (self.B + xc) / (2.0 * self.B)
        out = torch.where(plus, torch.full_like(x, self.B), torch.full_like(x, -self.B))
        return out, x.numel()

    def bits(self, d: int) -> int:
        return d

    def variance(self, x: torch.Tensor) -> float:
        """The exact error over the quantizer's coins,
        :math:`\\mathbb E\\lVert Q(x) - x\\rVert^2 = dB^2 - \\lVert\\mathrm{clip}(x)\\rVert^2`.
        """
        xc = as_vector_or_matrix("x", x).clamp(-self.c, self.c)
        return float(xc.numel() * self.B ** 2 - (xc * xc).sum())


class BernoulliMask(Compressor):
    r"""Random pruning mask: keep each coordinate independently with probability ``keep_prob``.

    With ``rescale=True`` kept coordinates are divided by :math:`p` (unbiased,
    :math:`\omega = 1/p - 1`); otherwise it is the plain pruning mask (a contraction with
    :math:`\delta = p` in expectation).  A *secret* Poisson mask with Gaussian noise on all
    coordinates is the mechanism of ``coordinate_sampled_gaussian(..., mask="secret")``.

    Parameters
    ----------
    keep_prob : float
        :math:`p \in (0, 1]`.
    mask : {"secret", "shared"}
        Per-row masks with positions sent, or one mask for all rows from a shared seed (sent as
        ``seed_bits``).
    rescale : bool
        Divide kept coordinates by :math:`p`.
    seed_bits : int
        Bits of the shared seed counted per message (64).

    Examples
    --------
    >>> comp = BernoulliMask(0.5, mask="shared")
    >>> out = comp(torch.ones(2, 1000), generator=0)
    >>> kept = int(out.value[0].sum())
    >>> bool(torch.equal(out.value[0], out.value[1])), out.bits == 2 * (32 * kept + 64)
    (True, True)
    """

    name = "bernoulli_mask"

    def __init__(self, keep_prob: float, *, mask: str = "secret", rescale: bool = False,
                 float_bits: int = 32, seed_bits: int = 64) -> None:
        super().__init__(float_bits=float_bits)
        self.keep_prob = check_probability("keep_prob", keep_prob)
        self.mask = check_choice("mask", mask, ("secret", "shared"))
        self.rescale = bool(rescale)
        self.seed_bits = check_int("seed_bits", seed_bits, minimum=0)
        self.unbiased = self.rescale

    def _compress(self, x, gen):
        n, d = x.shape
        rows = 1 if self.mask == "shared" else n
        keep = rand((rows, d), gen, device=x.device, dtype=torch.float32) < self.keep_prob
        keep = keep.expand(n, d)
        factor = 1.0 / self.keep_prob if self.rescale else 1.0
        out = torch.where(keep, x * factor, torch.zeros_like(x))
        kept = keep.sum(dim=1).tolist()
        if self.mask == "secret":
            bits = sum(k * self.float_bits + _position_bits(k, d) for k in kept)
        else:
            bits = sum(k * self.float_bits + self.seed_bits for k in kept)
        return out, bits

    def omega(self, d: int) -> float | None:
        return 1.0 / self.keep_prob - 1.0 if self.rescale else None

    def delta(self, d: int) -> float | None:
        return None if self.rescale else self.keep_prob


class ErrorFeedback:
    r"""Error feedback around any compressor: compress :math:`x + e`, keep :math:`e \leftarrow
    x + e - C(x + e)`.

    One residual per client id is kept (a dict), so clients may participate irregularly.

    Parameters
    ----------
    compressor : Compressor
        The inner compressor.

    References
    ----------
    F. Seide, H. Fu, J. Droppo, G. Li and D. Yu (2014). 1-bit stochastic gradient descent and its
    application to data-parallel distributed training of speech DNNs. Interspeech;
    S. P. Karimireddy, Q. Rebjock, S. U. Stich and M. Jaggi (2019). Error feedback fixes SignSGD
    and other gradient compression schemes. ICML, Algorithm 2.

    Examples
    --------
    >>> ef = ErrorFeedback(TopK(1))
    >>> ef(torch.tensor([3.0, 2.0])).value, ef(torch.tensor([3.0, 2.0])).value
    (tensor([3., 0.]), tensor([0., 4.]))
    """

    def __init__(self, compressor: Compressor) -> None:
        if not isinstance(compressor, Compressor):
            raise ValueError(f"compressor must be a Compressor, got {type(compressor).__name__}")
        self.compressor = compressor
        self.name = f"ef_{compressor.name}"
        self.unbiased = False
        self.memory: dict[int, torch.Tensor] = {}

    def __call__(self, x: Any, generator: GeneratorLike = None, *,
                 client_ids: Any = None) -> Compressed:
        """Compress rows of ``x`` for clients ``client_ids`` (default ``0 .. n-1``)."""
        x = as_vector_or_matrix("x", x)
        squeeze = x.dim() == 1
        x2 = x.unsqueeze(0) if squeeze else x
        n = x2.shape[0]
        ids = list(range(n)) if client_ids is None else [int(i) for i in client_ids]
        if len(ids) != n:
            raise ValueError(f"client_ids must have {n} entries, got {len(ids)}")
        mem = torch.stack([self.memory.get(i, torch.zeros_like(x2[0])) for i in ids])
        corrected = x2 + mem
        value, bits = self.compressor(corrected, generator)
        resid = corrected - value
        for j, i in enumerate(ids):
            self.memory[i] = resid[j].detach().clone()
        return Compressed(value.squeeze(0) if squeeze else value, bits)

    def reset(self) -> None:
        """Forget all residuals."""
        self.memory.clear()

    def bits(self, d: int) -> int | None:
        return self.compressor.bits(d)

    def __repr__(self) -> str:
        return f"ErrorFeedback({self.compressor!r})"


#: The compressors, by name.  ``variance`` is the :func:`fltheory.bounds.compressor_variance`
#: kind whose bound the compressor is checked against (``None``: no bound of that family).
REGISTRY = Registry("compressor", on_register=partial(declare_component, "compressor"))
REGISTRY.register("none", Identity, aliases=("identity",), variance="none")
REGISTRY.register("topk", TopK, variance="topk")
REGISTRY.register("magnitude_prune", MagnitudePrune, variance=None)
REGISTRY.register("randk", RandK, variance="randk")
REGISTRY.register("qsgd", QSGD, variance="qsgd")
REGISTRY.register("sign", Sign, variance=None)
REGISTRY.register("scaled_sign", ScaledSign, variance="scaled_sign")
REGISTRY.register("one_bit", StochasticOneBit, aliases=("stochastic_one_bit",),
                  deprecated=("onebit",), variance=None)
REGISTRY.register("prune", BernoulliMask, aliases=("bernoulli_mask",), variance=None)
_REGISTRY = REGISTRY            # the name of earlier releases


def available() -> list[str]:
    """Registered compressor names (aliases included).

    Examples
    --------
    >>> "qsgd" in available()
    True
    """
    return REGISTRY.available(aliases=True)


def get(name: str, *, error_feedback: bool = False, **kwargs: Any) -> Compressor | ErrorFeedback:
    """Build a compressor by name (see :func:`available`), optionally wrapped in error feedback.

    Examples
    --------
    >>> get("randk", k=10, mask="shared")
    RandK(float_bits=32, k=10, mask='shared', scale=True, seed_bits=64, unbiased=True)
    >>> get("sign", error_feedback=True)
    ErrorFeedback(Sign(float_bits=32))
    """
    comp = REGISTRY.get(name, param="name")(**kwargs)
    return ErrorFeedback(comp) if error_feedback else comp
