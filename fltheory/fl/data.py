r"""Federated datasets: synthetic tasks with known optima, digits, IDX/``.npz`` loaders, partitions.

Everything here is offline: data comes from generators in the package (synthetic logistic and linear
regression whose empirical optimum is computed exactly), from scikit-learn's bundled digits, or from
files the user points to (MNIST-format IDX files, NumPy ``.npz`` archives).  Every random choice
takes a ``seed`` (an int or a :class:`numpy.random.Generator`); the same seed gives the same data
and the same partition.

A :class:`FederatedDataset` holds one ``(x, y)`` pair of tensors per client plus a test split.  The
partition helpers (:func:`iid_partition`, :func:`dirichlet_partition`, :func:`shard_partition`)
return index arrays and can be used on any labelled array.

Examples
--------
>>> from fltheory.fl import data
>>> ds = data.synthetic_linear(num_clients=4, samples_per_client=50, dim=5, seed=0)
>>> ds.num_clients, ds.sizes, tuple(ds.optimum.shape)
(4, [50, 50, 50, 50], (6,))
>>> parts = data.dirichlet_partition([0, 1] * 50, num_clients=3, alpha=0.5, seed=1)
>>> sum(len(p) for p in parts)
100
"""

from __future__ import annotations

from functools import partial

import gzip
import os
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .._checks import check_choice, check_int, check_nonnegative, check_open_unit, check_positive
from ..config import declare_component
from ..registry import Registry
from ._util import SeedLike, numpy_rng

__all__ = [
    "FederatedDataset",
    "synthetic_logistic",
    "synthetic_linear",
    "digits",
    "from_arrays",
    "iid_partition",
    "dirichlet_partition",
    "shard_partition",
    "partition",
    "load_idx",
    "save_idx",
    "load_mnist",
    "mnist",
    "load_npz",
    "from_npz",
    "REGISTRY",
    "available",
    "get",
]

PARTITIONS = ("iid", "dirichlet", "shards")


# --------------------------------------------------------------------------------------------------
# The container
# --------------------------------------------------------------------------------------------------
@dataclass
class FederatedDataset:
    """Per-client training data and a test split, as torch tensors.

    Attributes
    ----------
    x, y : list of torch.Tensor
        ``x[i]`` has shape ``(m_i, *input_shape)`` and ``y[i]`` shape ``(m_i,)``: client ``i``'s
        records.  Labels are ``int64`` for classification and floating for regression.
    x_test, y_test : torch.Tensor
        The held-out split (drawn from the global distribution for synthetic tasks).
    task : {"classification", "regression"}
    num_classes : int or None
        Number of classes (``None`` for regression).
    name : str
        Where the data comes from.
    optimum : torch.Tensor or None
        For synthetic tasks: the exact minimiser of the global training objective
        :math:`\\frac1N\\sum_{j} \\ell(\\theta; x_j, y_j)
        + \\frac{\\lambda}{2}\\lVert\\theta\\rVert^2`
        over all training records, as a flat vector ``[w, b]`` laid out like the parameters of
        :func:`fltheory.fl.models.logistic_regression` (2 classes) or
        :func:`fltheory.fl.models.linear_regression`.
    l2 : float
        The :math:`\\lambda` of the objective ``optimum`` minimises (0 for real datasets).
    info : dict
        Provenance and measured quantities (e.g. ``gradient_dissimilarity`` for synthetic tasks).

    Examples
    --------
    >>> ds = digits(num_clients=5, seed=0)
    >>> ds.num_clients, ds.input_shape, ds.num_classes
    (5, (64,), 10)
    >>> x0, y0 = ds.client(0)
    >>> x0.dtype, y0.dtype
    (torch.float32, torch.int64)
    """

    x: list[torch.Tensor]
    y: list[torch.Tensor]
    x_test: torch.Tensor
    y_test: torch.Tensor
    task: str = "classification"
    num_classes: int | None = None
    name: str = ""
    optimum: torch.Tensor | None = None
    l2: float = 0.0
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.task = check_choice("task", self.task, ("classification", "regression"))
        if len(self.x) != len(self.y):
            raise ValueError(f"x and y must list the same number of clients, got {len(self.x)} "
                             f"and {len(self.y)}")
        if len(self.x) == 0:
            raise ValueError("num_clients must be >= 1, got 0")
        shape = tuple(self.x[0].shape[1:])
        for i, (xi, yi) in enumerate(zip(self.x, self.y)):
            if xi.shape[0] != yi.shape[0]:
                raise ValueError(f"client {i}: x has {xi.shape[0]} records but y has {yi.shape[0]}")
            if tuple(xi.shape[1:]) != shape:
                raise ValueError(f"client {i}: input shape {tuple(xi.shape[1:])} differs from "
                                 f"client 0's {shape}")
        if tuple(self.x_test.shape[1:]) != shape:
            raise ValueError(f"x_test has input shape {tuple(self.x_test.shape[1:])}, "
                             f"expected {shape}")

    # -- shape information ------------------------------------------------------------------------
    @property
    def num_clients(self) -> int:
        """Number of clients."""
        return len(self.x)

    @property
    def sizes(self) -> list[int]:
        """Number of training records of each client."""
        return [int(xi.shape[0]) for xi in self.x]

    @property
    def num_samples(self) -> int:
        """Total number of training records."""
        return sum(self.sizes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input record."""
        return tuple(self.x[0].shape[1:])

    @property
    def num_features(self) -> int:
        """Number of scalar inputs per record (product of :attr:`input_shape`)."""
        return int(np.prod(self.input_shape)) if self.input_shape else 1

    # -- access -----------------------------------------------------------------------------------
    def client(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Client ``i``'s ``(x, y)``."""
        i = check_int("i", i, minimum=0, maximum=self.num_clients - 1)
        return self.x[i], self.y[i]

    def stacked(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All clients as ``(num_clients, m, ...)`` tensors, for per-client ``vmap``.

        Raises
        ------
        ValueError
            If the clients do not all hold the same number of records.
        """
        sizes = set(self.sizes)
        if len(sizes) != 1:
            raise ValueError("stacked() needs equal client sizes, got sizes from "
                             f"{min(sizes)} to {max(sizes)}")
        return torch.stack(self.x), torch.stack(self.y)

    def concatenated(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All training records in one ``(N, ...)`` tensor pair (client order)."""
        return torch.cat(self.x), torch.cat(self.y)

    def label_counts(self) -> np.ndarray:
        """``(num_clients, num_classes)`` array of label counts (classification only)."""
        if self.task != "classification" or self.num_classes is None:
            raise ValueError("label_counts() needs a classification dataset")
        return np.stack([np.bincount(yi.cpu().numpy(), minlength=self.num_classes)
                         for yi in self.y])

    def to(self, device: Any = None, dtype: torch.dtype | None = None) -> "FederatedDataset":
        """A copy with every tensor moved to ``device`` (inputs also cast to ``dtype``)."""
        def mx(t: torch.Tensor) -> torch.Tensor:
            return t.to(device=device, dtype=dtype) if dtype is not None else t.to(device)

        def my(t: torch.Tensor) -> torch.Tensor:
            if dtype is not None and t.is_floating_point():
                return t.to(device=device, dtype=dtype)
            return t.to(device)

        return FederatedDataset(
            x=[mx(t) for t in self.x], y=[my(t) for t in self.y],
            x_test=mx(self.x_test), y_test=my(self.y_test), task=self.task,
            num_classes=self.num_classes, name=self.name,
            optimum=None if self.optimum is None else mx(self.optimum),
            l2=self.l2, info=dict(self.info))

    def __repr__(self) -> str:
        sizes = self.sizes
        return (f"FederatedDataset(name={self.name!r}, task={self.task!r}, "
                f"num_clients={self.num_clients}, records={sum(sizes)} "
                f"({min(sizes)}..{max(sizes)} per client), input_shape={self.input_shape}, "
                f"num_classes={self.num_classes}, test={int(self.x_test.shape[0])})")


# --------------------------------------------------------------------------------------------------
# Partitions
# --------------------------------------------------------------------------------------------------
def _labels_array(labels: Any) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr.astype(float))) or np.any(arr != np.round(arr)):
            raise ValueError("labels must be integers")
        arr = arr.astype(np.int64)
    if arr.min() < 0:
        raise ValueError(f"labels must be >= 0, got {int(arr.min())}")
    return arr.astype(np.int64)


def iid_partition(num_samples: int, num_clients: int, *, seed: SeedLike = 0) -> list[np.ndarray]:
    """Split ``range(num_samples)`` uniformly at random into ``num_clients`` near-equal parts.

    Client sizes differ by at most one.  Each part is returned sorted.

    Parameters
    ----------
    num_samples : int
        Number of records to split (>= ``num_clients``).
    num_clients : int
        Number of clients (>= 1).
    seed : int or numpy.random.Generator
        Randomness of the shuffle.

    Returns
    -------
    list of numpy.ndarray
        One ``int64`` index array per client; disjoint, covering ``range(num_samples)``.

    Examples
    --------
    >>> [p.tolist() for p in iid_partition(5, 2, seed=0)]
    [[2, 3, 4], [0, 1]]
    """
    num_clients = check_int("num_clients", num_clients, minimum=1)
    num_samples = check_int("num_samples", num_samples, minimum=num_clients)
    rng = numpy_rng(seed)
    perm = rng.permutation(num_samples)
    return [np.sort(p).astype(np.int64) for p in np.array_split(perm, num_clients)]


def dirichlet_partition(labels: Any, num_clients: int, alpha: float, *, seed: SeedLike = 0,
                        min_size: int = 1, max_tries: int = 1000) -> list[np.ndarray]:
    r"""Label-skewed split: each class is divided among clients in Dirichlet(α) proportions.

    For every class :math:`c` independently, proportions :math:`p^{(c)} \sim
    \mathrm{Dir}(\alpha\mathbf 1_K)` over the :math:`K` clients are drawn and the (shuffled)
    records of class :math:`c` are cut into consecutive blocks at the positions
    :math:`\lfloor N_c\,\mathrm{cumsum}(p^{(c)})\rfloor`.  Small α (0.1) gives clients dominated
    by one or two labels; large α tends to the IID split.  The draw is repeated (same generator, so still reproducible) until every
    client holds at least ``min_size`` records.

    Parameters
    ----------
    labels : array_like of int
        Class label of every record.
    num_clients : int
        Number of clients :math:`K`.
    alpha : float
        Concentration :math:`\alpha > 0`.
    seed : int or numpy.random.Generator
        Randomness.
    min_size : int
        Smallest admissible client size (default 1).
    max_tries : int
        Redraws allowed before giving up with a :class:`ValueError`.

    Returns
    -------
    list of numpy.ndarray
        One sorted ``int64`` index array per client; disjoint and covering all records.

    References
    ----------
    T.-M. H. Hsu, H. Qi and M. Brown (2019). Measuring the effects of non-identical data
    distribution for federated visual classification. arXiv:1909.06335, Section 3.

    Examples
    --------
    >>> parts = dirichlet_partition([0] * 30 + [1] * 30, num_clients=3, alpha=0.1, seed=0)
    >>> sum(len(p) for p in parts), len(set().union(*map(set, parts)))
    (60, 60)
    """
    y = _labels_array(labels)
    num_clients = check_int("num_clients", num_clients, minimum=1)
    alpha = check_positive("alpha", alpha)
    min_size = check_int("min_size", min_size, minimum=0)
    max_tries = check_int("max_tries", max_tries, minimum=1)
    if min_size * num_clients > y.size:
        raise ValueError(f"min_size must be <= num_samples / num_clients = "
                         f"{y.size // num_clients}, got {min_size}")
    rng = numpy_rng(seed)
    classes = np.unique(y)
    for _ in range(max_tries):
        parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
        for c in classes:
            idx = rng.permutation(np.flatnonzero(y == c))
            p = rng.dirichlet(np.full(num_clients, alpha))
            cuts = np.floor(np.cumsum(p)[:-1] * idx.size).astype(np.int64)
            for k, block in enumerate(np.split(idx, cuts)):
                parts[k].append(block)
        out = [np.sort(np.concatenate(b)).astype(np.int64) for b in parts]
        if min(len(o) for o in out) >= min_size:
            return out
    raise ValueError(f"alpha={alpha} is too small to give every one of {num_clients} clients "
                     f"min_size={min_size} records in {max_tries} tries; raise alpha or lower "
                     "min_size")


def shard_partition(labels: Any, num_clients: int, shards_per_client: int = 2, *,
                    seed: SeedLike = 0) -> list[np.ndarray]:
    """Pathological non-IID split of McMahan et al.: sort by label, cut into shards, deal them out.

    Records are sorted by label (ties in random order), cut into ``num_clients *
    shards_per_client`` contiguous shards of near-equal size, and each client receives
    ``shards_per_client`` shards chosen uniformly at random without replacement.  With two shards
    per client most clients see at most two labels.

    Parameters
    ----------
    labels : array_like of int
        Class label of every record.
    num_clients : int
        Number of clients.
    shards_per_client : int
        Shards per client (default 2).
    seed : int or numpy.random.Generator
        Randomness.

    Returns
    -------
    list of numpy.ndarray
        One sorted ``int64`` index array per client; disjoint and covering all records.

    References
    ----------
    H. B. McMahan, E. Moore, D. Ramage, S. Hampson and B. Agüera y Arcas (2017).
    Communication-efficient learning of deep networks from decentralized data. AISTATS,
    Section 3 (the pathological non-IID MNIST partition).

    Examples
    --------
    >>> parts = shard_partition([0] * 10 + [1] * 10 + [2] * 10 + [3] * 10, 2, 2, seed=0)
    >>> [len(p) for p in parts]
    [20, 20]
    """
    y = _labels_array(labels)
    num_clients = check_int("num_clients", num_clients, minimum=1)
    shards_per_client = check_int("shards_per_client", shards_per_client, minimum=1)
    num_shards = num_clients * shards_per_client
    if num_shards > y.size:
        raise ValueError(f"shards_per_client must be <= num_samples / num_clients = "
                         f"{y.size // num_clients}, got {shards_per_client}")
    rng = numpy_rng(seed)
    perm = rng.permutation(y.size)
    order = perm[np.argsort(y[perm], kind="stable")]
    shards = np.array_split(order, num_shards)
    assign = rng.permutation(num_shards).reshape(num_clients, shards_per_client)
    return [np.sort(np.concatenate([shards[s] for s in row])).astype(np.int64) for row in assign]


def partition(labels: Any, num_clients: int, method: str = "iid", *, alpha: float = 0.5,
              shards_per_client: int = 2, min_size: int = 1,
              seed: SeedLike = 0) -> list[np.ndarray]:
    """Dispatch to :func:`iid_partition`, :func:`dirichlet_partition` or :func:`shard_partition`.

    Parameters
    ----------
    labels : array_like of int
        Class label of every record (only its length is used by ``"iid"``).
    num_clients : int
        Number of clients.
    method : {"iid", "dirichlet", "shards"}
        The split.
    alpha, shards_per_client, min_size :
        Passed to the chosen split.
    seed : int or numpy.random.Generator
        Randomness.

    Examples
    --------
    >>> [len(p) for p in partition(list(range(4)) * 5, 4, "shards", shards_per_client=1)]
    [5, 5, 5, 5]
    """
    method = check_choice("method", method, PARTITIONS)
    y = _labels_array(labels)
    if method == "iid":
        return iid_partition(y.size, num_clients, seed=seed)
    if method == "dirichlet":
        return dirichlet_partition(y, num_clients, alpha, seed=seed, min_size=min_size)
    return shard_partition(y, num_clients, shards_per_client, seed=seed)


# --------------------------------------------------------------------------------------------------
# Synthetic tasks with a known optimum
# --------------------------------------------------------------------------------------------------
def _client_sizes(num_clients: int, samples_per_client: int | Sequence[int]) -> list[int]:
    if isinstance(samples_per_client, (list, tuple, np.ndarray)):
        sizes = [check_int("samples_per_client", s, minimum=1) for s in samples_per_client]
        if len(sizes) != num_clients:
            raise ValueError(f"samples_per_client must list num_clients={num_clients} sizes, "
                             f"got {len(sizes)}")
        return sizes
    return [check_int("samples_per_client", samples_per_client, minimum=1)] * num_clients


def _client_shifts(rng: np.random.Generator, num_clients: int, dim: int,
                   heterogeneity: float) -> np.ndarray:
    """Centred client shifts ``G * u_k`` with ``E||u_k||^2 ~ 1`` and ``sum_k u_k = 0``."""
    u = rng.standard_normal((num_clients, dim + 1)) / np.sqrt(dim + 1)
    if num_clients > 1:
        u = (u - u.mean(axis=0)) * np.sqrt(num_clients / (num_clients - 1))
    else:
        u = np.zeros_like(u)
    return heterogeneity * u


def _aug(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _logistic_objective(theta: np.ndarray, xa: np.ndarray, y: np.ndarray, l2: float) -> float:
    z = xa @ theta
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * theta @ theta)


def _logistic_optimum(xa: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Exact minimiser (Newton with backtracking, float64) of mean logistic loss + l2/2 ||θ||²."""
    n, p = xa.shape
    theta = np.zeros(p)
    obj = _logistic_objective(theta, xa, y, l2)
    for _ in range(200):
        s = _sigmoid(xa @ theta)
        g = xa.T @ (s - y) / n + l2 * theta
        if np.linalg.norm(g) <= 1e-12 * max(1.0, np.linalg.norm(theta)):
            return theta
        h = (xa * (s * (1 - s))[:, None]).T @ xa / n + l2 * np.eye(p)
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(h, g, rcond=None)[0]
        t = 1.0
        while True:  # backtracking (Armijo) line search; the Newton step is a descent direction
            cand = theta - t * step
            new = _logistic_objective(cand, xa, y, l2)
            if new <= obj - 1e-4 * t * float(g @ step) or t < 1e-10:
                break
            t *= 0.5
        theta, obj = cand, new
        if np.linalg.norm(theta) > 1e6:
            break
    s = _sigmoid(xa @ theta)
    g = xa.T @ (s - y) / n + l2 * theta
    if np.linalg.norm(theta) > 1e6 or np.linalg.norm(g) > 1e-7:
        raise ValueError("the synthetic logistic data are (nearly) separable, so the "
                         "unregularised optimum does not exist; set l2 > 0 or use more samples")
    return theta


def _finish_synthetic(name: str, task: str, xs: list[np.ndarray], ys: list[np.ndarray],
                      x_test: np.ndarray, y_test: np.ndarray, theta_opt: np.ndarray, l2: float,
                      info: dict, grad_fn) -> FederatedDataset:
    # Gradient dissimilarity at the optimum: (1/K) sum_k ||∇F_k(θ*) − ∇F(θ*)||².
    grads = np.stack([grad_fn(theta_opt, _aug(x), y) + l2 * theta_opt for x, y in zip(xs, ys)])
    sizes = np.array([x.shape[0] for x in xs], dtype=float)
    global_grad = (sizes[:, None] * grads).sum(0) / sizes.sum()
    g2 = float(np.mean(np.sum((grads - global_grad) ** 2, axis=1)))
    info = dict(info, gradient_dissimilarity=float(np.sqrt(g2)),
                optimum_gradient_norm=float(np.linalg.norm(global_grad)))
    label_dtype = torch.int64 if task == "classification" else torch.float32
    return FederatedDataset(
        x=[torch.from_numpy(x.astype(np.float32)) for x in xs],
        y=[torch.as_tensor(y, dtype=label_dtype) for y in ys],
        x_test=torch.from_numpy(x_test.astype(np.float32)),
        y_test=torch.as_tensor(y_test, dtype=label_dtype),
        task=task, num_classes=2 if task == "classification" else None, name=name,
        optimum=torch.from_numpy(theta_opt.astype(np.float32)), l2=l2, info=info)


def synthetic_logistic(num_clients: int = 10, samples_per_client: int | Sequence[int] = 100,
                       dim: int = 20, heterogeneity: float = 0.0, *, test_size: int = 1000,
                       signal: float = 2.0, l2: float = 0.0,
                       seed: SeedLike = 0) -> FederatedDataset:
    r"""Binary logistic regression with client heterogeneity and an exactly computed optimum.

    A global parameter :math:`\theta^\star = (w^\star, b^\star)` is drawn with
    :math:`\lVert w^\star\rVert = \text{signal}`; client :math:`k` uses
    :math:`\theta_k = \theta^\star + G u_k` where the shifts :math:`u_k` are Gaussian, centred
    (:math:`\sum_k u_k = 0`) and scaled so that :math:`\mathbb E\lVert u_k\rVert^2 = 1`.  Client
    :math:`k`'s records are :math:`x \sim \mathcal N(0, I_d)` and
    :math:`y \sim \mathrm{Bernoulli}(\sigma(\theta_k^\top[x, 1]))`; the test split uses
    :math:`\theta^\star`.  ``optimum`` is the exact minimiser (Newton's method in float64) of

    .. math::

        F(\theta) = \frac1N \sum_{j=1}^N \log\bigl(1 + e^{\theta^\top \tilde x_j}\bigr)
                    - y_j\,\theta^\top \tilde x_j + \frac{\lambda}{2}\lVert\theta\rVert^2,
        \qquad \tilde x = [x, 1],

    and ``info["gradient_dissimilarity"]`` is the measured
    :math:`G_{\mathrm{emp}} = \bigl(\frac1K\sum_k\lVert\nabla F_k(\theta_{\mathrm{opt}})
    - \nabla F(\theta_{\mathrm{opt}})\rVert^2\bigr)^{1/2}`, the :math:`G` of the
    :math:`(G, B)`-dissimilarity condition at the optimum.

    Parameters
    ----------
    num_clients : int
        Number of clients :math:`K`.
    samples_per_client : int or sequence of int
        Records per client.
    dim : int
        Number of features :math:`d` (the model has :math:`d + 1` parameters).
    heterogeneity : float
        Scale :math:`G \ge 0` of the client parameter shifts (0 gives IID clients).
    test_size : int
        Size of the test split.
    signal : float
        :math:`\lVert w^\star\rVert`; larger means less label noise.
    l2 : float
        Ridge :math:`\lambda \ge 0` of the objective ``optimum`` minimises.  With ``l2=0`` the
        optimum exists only if the data are not separable; a :class:`ValueError` says so.
    seed : int or numpy.random.Generator
        Randomness.

    Returns
    -------
    FederatedDataset
        ``task="classification"``, ``num_classes=2``, labels in {0, 1}.

    Examples
    --------
    >>> ds = synthetic_logistic(num_clients=3, samples_per_client=200, dim=4, seed=0)
    >>> ds.optimum.shape
    torch.Size([5])
    >>> ds.info["optimum_gradient_norm"] < 1e-8
    True
    """
    num_clients = check_int("num_clients", num_clients, minimum=1)
    dim = check_int("dim", dim, minimum=1)
    heterogeneity = check_nonnegative("heterogeneity", heterogeneity)
    test_size = check_int("test_size", test_size, minimum=1)
    signal = check_nonnegative("signal", signal)
    l2 = check_nonnegative("l2", l2)
    sizes = _client_sizes(num_clients, samples_per_client)
    rng = numpy_rng(seed)
    w = rng.standard_normal(dim)
    w *= signal / max(np.linalg.norm(w), 1e-300)
    theta_star = np.concatenate([w, [0.1 * rng.standard_normal()]])
    shifts = _client_shifts(rng, num_clients, dim, heterogeneity)
    xs, ys = [], []
    for k, m in enumerate(sizes):
        x = rng.standard_normal((m, dim))
        p = _sigmoid(_aug(x) @ (theta_star + shifts[k]))
        xs.append(x)
        ys.append((rng.random(m) < p).astype(np.int64))
    x_test = rng.standard_normal((test_size, dim))
    y_test = (rng.random(test_size) < _sigmoid(_aug(x_test) @ theta_star)).astype(np.int64)
    xa = _aug(np.concatenate(xs))
    theta_opt = _logistic_optimum(xa, np.concatenate(ys).astype(float), l2)

    def grad(theta, xa_k, y_k):
        return xa_k.T @ (_sigmoid(xa_k @ theta) - y_k) / xa_k.shape[0]

    info = {"generator": "synthetic_logistic", "dim": dim, "heterogeneity": heterogeneity,
            "signal": signal, "theta_star": theta_star.tolist(),
            "client_shift_norms": np.linalg.norm(shifts, axis=1).tolist()}
    return _finish_synthetic("synthetic_logistic", "classification", xs, ys, x_test, y_test,
                             theta_opt, l2, info, grad)


def synthetic_linear(num_clients: int = 10, samples_per_client: int | Sequence[int] = 100,
                     dim: int = 20, heterogeneity: float = 0.0, *, test_size: int = 1000,
                     noise_std: float = 0.1, l2: float = 0.0,
                     seed: SeedLike = 0) -> FederatedDataset:
    r"""Linear regression with client heterogeneity and the exact least-squares optimum.

    Client :math:`k` draws :math:`x \sim \mathcal N(0, I_d)` and
    :math:`y = \theta_k^\top [x, 1] + \text{noise\_std}\cdot\xi`, with
    :math:`\theta_k = \theta^\star + G u_k` as in :func:`synthetic_logistic`
    (:math:`\theta^\star \sim \mathcal N(0, I/d)`).  ``optimum`` solves

    .. math::

        \min_\theta\; \frac1N\sum_{j=1}^N \tfrac12\bigl(\theta^\top\tilde x_j - y_j\bigr)^2
        + \frac{\lambda}{2}\lVert\theta\rVert^2

    in closed form (float64), the loss :func:`fltheory.fl.models.linear_regression` uses.
    For equal client sizes the measured dissimilarity ``info["gradient_dissimilarity"]`` is close
    to ``heterogeneity``.

    Parameters
    ----------
    num_clients, samples_per_client, dim, heterogeneity, test_size, l2, seed :
        As in :func:`synthetic_logistic`.
    noise_std : float
        Standard deviation of the label noise.

    Returns
    -------
    FederatedDataset
        ``task="regression"``, float labels.

    Examples
    --------
    >>> ds = synthetic_linear(num_clients=2, samples_per_client=100, dim=3, noise_std=0.0, seed=0)
    >>> import torch
    >>> x, y = ds.concatenated()
    >>> pred = x @ ds.optimum[:3] + ds.optimum[3]
    >>> bool(torch.allclose(pred, y, atol=1e-4))
    True
    """
    num_clients = check_int("num_clients", num_clients, minimum=1)
    dim = check_int("dim", dim, minimum=1)
    heterogeneity = check_nonnegative("heterogeneity", heterogeneity)
    test_size = check_int("test_size", test_size, minimum=1)
    noise_std = check_nonnegative("noise_std", noise_std)
    l2 = check_nonnegative("l2", l2)
    sizes = _client_sizes(num_clients, samples_per_client)
    rng = numpy_rng(seed)
    theta_star = rng.standard_normal(dim + 1) / np.sqrt(dim)
    shifts = _client_shifts(rng, num_clients, dim, heterogeneity)
    xs, ys = [], []
    for k, m in enumerate(sizes):
        x = rng.standard_normal((m, dim))
        xs.append(x)
        ys.append(_aug(x) @ (theta_star + shifts[k]) + noise_std * rng.standard_normal(m))
    x_test = rng.standard_normal((test_size, dim))
    y_test = _aug(x_test) @ theta_star + noise_std * rng.standard_normal(test_size)
    xa = _aug(np.concatenate(xs))
    yy = np.concatenate(ys)
    n = xa.shape[0]
    h = xa.T @ xa / n + l2 * np.eye(dim + 1)
    try:
        theta_opt = np.linalg.solve(h, xa.T @ yy / n)
    except np.linalg.LinAlgError:
        raise ValueError("the synthetic design matrix is singular (fewer records than "
                         "dim + 1); set l2 > 0 or use more samples") from None

    def grad(theta, xa_k, y_k):
        return xa_k.T @ (xa_k @ theta - y_k) / xa_k.shape[0]

    info = {"generator": "synthetic_linear", "dim": dim, "heterogeneity": heterogeneity,
            "noise_std": noise_std, "theta_star": theta_star.tolist(),
            "client_shift_norms": np.linalg.norm(shifts, axis=1).tolist()}
    return _finish_synthetic("synthetic_linear", "regression", xs, ys, x_test, y_test,
                             theta_opt, l2, info, grad)


# --------------------------------------------------------------------------------------------------
# Real data: arrays, digits, MNIST IDX files, .npz archives
# --------------------------------------------------------------------------------------------------
def _as_float_inputs(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return x.astype(np.float32)


def from_arrays(x: Any, y: Any, num_clients: int, partition_method: str = "iid", *,
                x_test: Any = None, y_test: Any = None, test_fraction: float = 0.2,
                alpha: float = 0.5, shards_per_client: int = 2, min_size: int = 1,
                num_classes: int | None = None, name: str = "arrays",
                seed: SeedLike = 0) -> FederatedDataset:
    """A classification :class:`FederatedDataset` from arrays, split among clients.

    ``uint8`` inputs are scaled to [0, 1]; other inputs are cast to ``float32`` unchanged.  If no
    test split is given, a seeded random ``test_fraction`` of the records is held out first.

    Parameters
    ----------
    x : array_like, shape (N, ...)
        Inputs.
    y : array_like of int, shape (N,)
        Labels in ``0 .. num_classes - 1``.
    num_clients : int
        Number of clients.
    partition_method : {"iid", "dirichlet", "shards"}
        How the training records are split (see :func:`partition`).
    x_test, y_test : array_like, optional
        An explicit test split.
    test_fraction : float
        Fraction held out when no test split is given, in (0, 1).
    alpha, shards_per_client, min_size :
        Passed to :func:`partition`.
    num_classes : int, optional
        Defaults to ``max(label) + 1``.
    name : str
        Recorded in the dataset.
    seed : int or numpy.random.Generator
        Randomness of the hold-out and of the partition.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(40, dtype=np.uint8).reshape(20, 2)
    >>> ds = from_arrays(x, np.arange(20) % 2, num_clients=2, test_fraction=0.5, seed=0)
    >>> ds.sizes, float(ds.x[0].max()) <= 1.0
    ([5, 5], True)
    """
    rng = numpy_rng(seed)
    xa = np.asarray(x)
    ya = _labels_array(y)
    if xa.shape[0] != ya.shape[0]:
        raise ValueError(f"x and y must have the same number of records, got {xa.shape[0]} "
                         f"and {ya.shape[0]}")
    if x_test is None or y_test is None:
        if (x_test is None) != (y_test is None):
            raise ValueError("x_test and y_test must be given together")
        test_fraction = check_open_unit("test_fraction", test_fraction)
        perm = rng.permutation(xa.shape[0])
        n_test = max(1, int(round(test_fraction * xa.shape[0])))
        if n_test >= xa.shape[0]:
            raise ValueError(f"test_fraction={test_fraction} leaves no training records")
        test_idx, train_idx = np.sort(perm[:n_test]), np.sort(perm[n_test:])
        xt, yt = xa[test_idx], ya[test_idx]
        xa, ya = xa[train_idx], ya[train_idx]
    else:
        xt, yt = np.asarray(x_test), _labels_array(y_test)
        if xt.shape[0] != yt.shape[0]:
            raise ValueError(f"x_test and y_test must have the same number of records, got "
                             f"{xt.shape[0]} and {yt.shape[0]}")
    if num_classes is None:
        num_classes = int(max(ya.max(), yt.max())) + 1
    num_classes = check_int("num_classes", num_classes, minimum=1)
    if max(ya.max(), yt.max()) >= num_classes:
        raise ValueError(f"labels must be < num_classes={num_classes}, got "
                         f"{int(max(ya.max(), yt.max()))}")
    parts = partition(ya, num_clients, partition_method, alpha=alpha,
                      shards_per_client=shards_per_client, min_size=min_size, seed=rng)
    xf = _as_float_inputs(xa)
    return FederatedDataset(
        x=[torch.from_numpy(np.ascontiguousarray(xf[p])) for p in parts],
        y=[torch.from_numpy(ya[p].copy()) for p in parts],
        x_test=torch.from_numpy(np.ascontiguousarray(_as_float_inputs(xt))),
        y_test=torch.from_numpy(yt.copy()),
        task="classification", num_classes=num_classes, name=name,
        info={"partition": check_choice("partition_method", partition_method, PARTITIONS),
              "alpha": alpha, "shards_per_client": shards_per_client})


def digits(num_clients: int = 10, partition_method: str = "iid", *, alpha: float = 0.5,
           shards_per_client: int = 2, test_fraction: float = 0.2, flatten: bool = True,
           min_size: int = 1, seed: SeedLike = 0) -> FederatedDataset:
    """scikit-learn's bundled 8×8 digits (1,797 images, 10 classes), split among clients.

    Pixel values (0..16) are scaled to [0, 1].  No download: the data ship inside scikit-learn.

    Parameters
    ----------
    num_clients : int
        Number of clients.
    partition_method : {"iid", "dirichlet", "shards"}
        How the training records are split.
    alpha, shards_per_client, min_size :
        Passed to :func:`partition`.
    test_fraction : float
        Fraction held out for testing.
    flatten : bool
        ``True``: inputs of shape ``(64,)``; ``False``: ``(1, 8, 8)`` for a CNN.
    seed : int or numpy.random.Generator
        Randomness.

    References
    ----------
    E. Alpaydin and C. Kaynak (1998). Optical recognition of handwritten digits. UCI Machine
    Learning Repository (the data bundled as ``sklearn.datasets.load_digits``).

    Examples
    --------
    >>> ds = digits(num_clients=4, partition_method="shards", flatten=False, seed=0)
    >>> ds.input_shape, ds.num_samples + len(ds.y_test)
    ((1, 8, 8), 1797)
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    if not flatten:
        x = x.reshape(-1, 1, 8, 8)
    ds = from_arrays(x, bunch.target, num_clients, partition_method, test_fraction=test_fraction,
                     alpha=alpha, shards_per_client=shards_per_client, min_size=min_size,
                     num_classes=10, name="digits", seed=seed)
    return ds


_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_CODES = {np.dtype(v).newbyteorder("=").str: k for k, v in _IDX_TYPES.items()}


def _read_bytes(path: str | os.PathLike) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"path must be an existing file, got {str(path)!r}")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), optionally gzip-compressed.

    The format is two zero bytes, a type code (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16,
    ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of dimensions, one big-endian
    uint32 per dimension, then the data in big-endian C order.  Compression is detected from the
    content, not the file name.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    numpy.ndarray
        In native byte order.

    Raises
    ------
    ValueError
        If the file is missing, the header is malformed, or the size disagrees with the header.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> save_idx(path, np.array([3, 1, 4], dtype=np.uint8))
    >>> load_idx(path).tolist()
    [3, 1, 4]
    """
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"path {str(path)!r} is not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"path {str(path)!r}: IDX type code must be one of "
                         f"{sorted(hex(c) for c in _IDX_TYPES)}, got {hex(code)}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"path {str(path)!r}: truncated IDX header")
    shape = struct.unpack(">" + "I" * ndim, raw[4:header])
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"path {str(path)!r}: IDX header announces {expected} data bytes, "
                         f"file holds {len(raw) - header}")
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def _atomic_write(path: str | os.PathLike, payload: bytes) -> None:
    from fltheory._io import atomic_write

    atomic_write(path, lambda tmp: Path(tmp).write_bytes(payload), suffix=".tmp")


def save_idx(path: str | os.PathLike, array: Any, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (atomically); gzip it if ``compress`` or the name ends in .gz.

    Parameters
    ----------
    path : str or path-like
        Destination.
    array : array_like
        uint8, int8, int16, int32, float32 or float64 data with at most 255 dimensions.
    compress : bool, optional
        Defaults to ``str(path).endswith(".gz")``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.idx.gz")
    >>> save_idx(path, np.eye(2, dtype=np.float32))
    >>> load_idx(path).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    arr = np.asarray(array)
    key = arr.dtype.newbyteorder("=").str
    if key not in _IDX_CODES:
        raise ValueError(f"array dtype must be one of uint8, int8, int16, int32, float32, "
                         f"float64, got {arr.dtype}")
    if arr.ndim > 255:
        raise ValueError(f"array must have <= 255 dimensions, got {arr.ndim}")
    code = _IDX_CODES[key]
    payload = (bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
               + np.ascontiguousarray(arr).astype(_IDX_TYPES[code]).tobytes())
    if compress is None:
        compress = str(path).endswith(".gz")
    if compress:
        payload = gzip.compress(payload, mtime=0)
    _atomic_write(path, payload)


_MNIST_FILES = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def load_mnist(directory: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load the four standard MNIST-format IDX files from ``directory`` (plain or ``.gz``).

    Looks for ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (also with ``.`` instead of the
    last ``-`` and with a ``.gz`` suffix).  Works for Fashion-MNIST and KMNIST, which use the same
    names.  Nothing is downloaded.

    Returns
    -------
    dict
        ``x_train`` (uint8, ``(N, 28, 28)``), ``y_train``, ``x_test``, ``y_test``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> for stem, arr in [("train-images-idx3-ubyte", np.zeros((4, 2, 2), np.uint8)),
    ...                   ("train-labels-idx1-ubyte", np.arange(4, dtype=np.uint8)),
    ...                   ("t10k-images-idx3-ubyte", np.zeros((2, 2, 2), np.uint8)),
    ...                   ("t10k-labels-idx1-ubyte", np.arange(2, dtype=np.uint8))]:
    ...     save_idx(os.path.join(d, stem + ".gz"), arr)
    >>> {k: v.shape for k, v in load_mnist(d).items()}["x_train"]
    (4, 2, 2)
    """
    d = Path(directory)
    if not d.is_dir():
        raise ValueError(f"directory must be an existing directory, got {str(directory)!r}")
    out = {}
    for key, stems in _MNIST_FILES.items():
        candidates = [d / (s + ext) for s in stems for ext in ("", ".gz")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise ValueError(f"directory {str(directory)!r} has no {stems[0]} file "
                             "(plain or .gz)")
        out[key] = load_idx(found)
    for split in ("train", "test"):
        if out[f"x_{split}"].shape[0] != out[f"y_{split}"].shape[0]:
            raise ValueError(f"{split} images and labels differ in length: "
                             f"{out[f'x_{split}'].shape[0]} vs {out[f'y_{split}'].shape[0]}")
    return out


def mnist(directory: str | os.PathLike, num_clients: int = 10, partition_method: str = "iid", *,
          alpha: float = 0.5, shards_per_client: int = 2, flatten: bool = False,
          min_size: int = 1, seed: SeedLike = 0) -> FederatedDataset:
    """MNIST (or any IDX dataset in the MNIST layout) from local files, split among clients.

    Images are scaled to [0, 1] and shaped ``(1, 28, 28)`` (or flattened).  The official test
    split is the test set.

    Parameters
    ----------
    directory : str or path-like
        Folder holding the four IDX files (see :func:`load_mnist`).
    num_clients, partition_method, alpha, shards_per_client, min_size, seed :
        As in :func:`from_arrays`.
    flatten : bool
        Flatten each image to a vector.

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio and P. Haffner (1998). Gradient-based learning applied to
    document recognition. Proc. IEEE 86(11) (the MNIST database and its IDX format).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> rng = np.random.default_rng(0)
    >>> for stem, arr in [("train-images-idx3-ubyte", rng.integers(0, 255, (8, 4, 4), np.uint8)),
    ...                   ("train-labels-idx1-ubyte", np.arange(8, dtype=np.uint8) % 2),
    ...                   ("t10k-images-idx3-ubyte", np.zeros((2, 4, 4), np.uint8)),
    ...                   ("t10k-labels-idx1-ubyte", np.arange(2, dtype=np.uint8))]:
    ...     save_idx(os.path.join(d, stem), arr)
    >>> mnist(d, num_clients=2).input_shape
    (1, 4, 4)
    """
    arrs = load_mnist(directory)
    xs, xt = arrs["x_train"], arrs["x_test"]
    if flatten:
        xs, xt = xs.reshape(xs.shape[0], -1), xt.reshape(xt.shape[0], -1)
    elif xs.ndim == 3:
        xs, xt = xs[:, None], xt[:, None]
    return from_arrays(xs, arrs["y_train"], num_clients, partition_method, x_test=xt,
                       y_test=arrs["y_test"], alpha=alpha, shards_per_client=shards_per_client,
                       min_size=min_size, name=f"idx:{Path(directory).name}", seed=seed)


_NPZ_KEYS = (("x_train", "y_train", "x_test", "y_test"), ("x", "y", None, None),
             ("X", "y", None, None), ("data", "labels", None, None))


def load_npz(path: str | os.PathLike, *, x_key: str | None = None, y_key: str | None = None,
             x_test_key: str | None = None, y_test_key: str | None = None
             ) -> dict[str, np.ndarray | None]:
    """Load arrays from a NumPy ``.npz`` archive (no pickles).

    Without explicit keys, the layouts ``x_train/y_train/x_test/y_test`` (Keras' ``mnist.npz``),
    ``x/y``, ``X/y`` and ``data/labels`` are recognised.

    Returns
    -------
    dict
        ``x_train``, ``y_train`` and ``x_test``, ``y_test`` (``None`` when absent).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.npz")
    >>> np.savez(path, x=np.zeros((3, 2)), y=np.array([0, 1, 0]))
    >>> load_npz(path)["y_train"].tolist()
    [0, 1, 0]
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"path must be an existing file, got {str(path)!r}")
    try:
        archive = np.load(p, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"path {str(path)!r} is not a readable .npz archive: {exc}") from None
    with archive as z:
        names = set(z.files)
        if x_key is not None or y_key is not None:
            layout = (x_key or "x", y_key or "y", x_test_key, y_test_key)
        else:
            layout = next((lay for lay in _NPZ_KEYS if lay[0] in names and lay[1] in names), None)
            if layout is None:
                raise ValueError(f"path {str(path)!r}: keys {sorted(names)} match none of the "
                                 "layouts x_train/y_train[/x_test/y_test], x/y, X/y, "
                                 "data/labels; pass x_key and y_key")
        out: dict[str, np.ndarray | None] = {}
        for out_key, key in zip(("x_train", "y_train", "x_test", "y_test"), layout):
            if key is None:
                out[out_key] = None
            elif key not in names:
                raise ValueError(f"path {str(path)!r} has no array {key!r}; it has "
                                 f"{sorted(names)}")
            else:
                out[out_key] = np.asarray(z[key])
    return out


def from_npz(path: str | os.PathLike, num_clients: int = 10, partition_method: str = "iid", *,
             x_key: str | None = None, y_key: str | None = None, test_fraction: float = 0.2,
             alpha: float = 0.5, shards_per_client: int = 2, min_size: int = 1,
             seed: SeedLike = 0) -> FederatedDataset:
    """A classification :class:`FederatedDataset` from an ``.npz`` archive (see :func:`load_npz`).

    A test split stored in the archive is used as is; otherwise ``test_fraction`` is held out.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "toy.npz")
    >>> np.savez(path, x=np.random.default_rng(0).random((20, 3)), y=np.arange(20) % 4)
    >>> from_npz(path, num_clients=2, test_fraction=0.25).sizes
    [8, 7]
    """
    arrs = load_npz(path, x_key=x_key, y_key=y_key)
    return from_arrays(arrs["x_train"], arrs["y_train"], num_clients, partition_method,
                       x_test=arrs["x_test"], y_test=arrs["y_test"],
                       test_fraction=test_fraction, alpha=alpha,
                       shards_per_client=shards_per_client, min_size=min_size,
                       name=f"npz:{Path(path).name}", seed=seed)


def _partition(c: Any, seed: int) -> dict:
    return dict(num_clients=c.num_clients, partition_method=c.partition, alpha=c.alpha,
                shards_per_client=c.shards_per_client, seed=seed)


def _synthetic_from_config(fn):
    def build(c: Any, seed: int, flatten: bool) -> FederatedDataset:
        return fn(num_clients=c.num_clients, samples_per_client=c.samples_per_client,
                  dim=c.dim, heterogeneity=c.heterogeneity, seed=seed)
    return build


#: The data sets, by name.  Each declares ``task`` and ``optimum`` (whether the minimiser is
#: known, for the ``distance_to_optimum`` metric and the convergence bounds of the synthetic
#: tasks) and ``from_config``: how :func:`fltheory.fl.build_dataset` builds it from the
#: ``[data]`` section (``from_config(data, seed, flatten)``).
REGISTRY = Registry("dataset", on_register=partial(declare_component, "dataset"))
REGISTRY.register(
    "digits", digits, task="classification", optimum=False,
    from_config=lambda c, seed, flatten: digits(test_fraction=c.test_fraction, flatten=flatten,
                                                **_partition(c, seed)))
REGISTRY.register("synthetic_logistic", synthetic_logistic, task="classification",
                  optimum=True, from_config=_synthetic_from_config(synthetic_logistic))
REGISTRY.register("synthetic_linear", synthetic_linear, task="regression", optimum=True,
                  from_config=_synthetic_from_config(synthetic_linear))
REGISTRY.register(
    "mnist", mnist, task="classification", optimum=False,
    from_config=lambda c, seed, flatten: mnist(c.path, flatten=flatten, **_partition(c, seed)))
REGISTRY.register(
    "npz", from_npz, aliases=("from_npz",), task=None, optimum=False,
    from_config=lambda c, seed, flatten: from_npz(c.path, test_fraction=c.test_fraction,
                                                  **_partition(c, seed)))
_DATASETS = REGISTRY            # the name of earlier releases


def available() -> list[str]:
    """Registered data set names (aliases included).

    Examples
    --------
    >>> "digits" in available()
    True
    """
    return REGISTRY.available(aliases=True)


def get(name: str, **kwargs: Any) -> FederatedDataset:
    """Build a dataset by name: ``synthetic_logistic``, ``synthetic_linear``, ``digits``, ``mnist``
    (``directory=`` required) or ``npz`` (``path=`` required); keyword arguments go to the builder.

    Examples
    --------
    >>> get("synthetic_linear", num_clients=3, samples_per_client=20, dim=2).sizes
    [20, 20, 20]
    """
    return REGISTRY.get(name, param="name")(**kwargs)
