"""Internal helpers shared by the :mod:`fltheory.fl` modules (randomness, tensor checks)."""

from __future__ import annotations

import numbers
from typing import Any, Union

import numpy as np
import torch

from .._checks import check_int

GeneratorLike = Union[None, int, torch.Generator]
SeedLike = Union[None, int, np.random.Generator]


def numpy_rng(seed: SeedLike, name: str = "seed") -> np.random.Generator:
    """A :class:`numpy.random.Generator` from an int seed, a Generator, or ``None`` (seed 0).

    ``None`` means the default seed 0 so that data-generating functions are reproducible by
    default; pass a fresh ``numpy.random.default_rng()`` for non-reproducible draws.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng(0)
    return np.random.default_rng(check_int(name, seed, minimum=0))


def torch_generator(generator: GeneratorLike, device: Any = "cpu",
                    name: str = "generator") -> torch.Generator | None:
    """A :class:`torch.Generator` on ``device`` from an int seed or a Generator.

    ``None`` is passed through (torch's global generator is then used, as in plain torch).
    """
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (numbers.Integral, np.integer)) and not isinstance(generator, bool):
        seed = check_int(name, generator, minimum=0)
        g = torch.Generator(device=torch.device(device))
        g.manual_seed(seed)
        return g
    raise ValueError(f"{name} must be None, an int seed or a torch.Generator, got {generator!r}")


def gen_device(generator: torch.Generator | None, fallback: Any) -> torch.device:
    """The device random numbers must be drawn on for ``generator``."""
    return torch.device(generator.device) if generator is not None else torch.device(fallback)


def randn(shape: tuple[int, ...], generator: torch.Generator | None, *, device: Any,
          dtype: torch.dtype) -> torch.Tensor:
    """Standard normal draws with ``generator``, returned on ``device``."""
    gdev = gen_device(generator, device)
    z = torch.randn(shape, generator=generator, device=gdev, dtype=dtype)
    return z.to(device)


def rand(shape: tuple[int, ...], generator: torch.Generator | None, *, device: Any,
         dtype: torch.dtype) -> torch.Tensor:
    """Uniform [0, 1) draws with ``generator``, returned on ``device``."""
    gdev = gen_device(generator, device)
    u = torch.rand(shape, generator=generator, device=gdev, dtype=dtype)
    return u.to(device)


def randperm(n: int, generator: torch.Generator | None, *, device: Any) -> torch.Tensor:
    """A random permutation of ``range(n)`` drawn with ``generator``, on ``device``."""
    gdev = gen_device(generator, device)
    return torch.randperm(n, generator=generator, device=gdev).to(device)


_FLOAT_NUMPY = (np.float16, np.float32, np.float64)


def _to_tensor(name: str, value: Any) -> torch.Tensor:
    """A tensor from a tensor, a NumPy array, or a list/tuple of vectors (tensors, arrays, floats).

    Floating dtypes are kept (NumPy ``float16``/``float32``/``float64`` map to the torch dtype of
    the same width, without a copy when the array allows it); integer or boolean input becomes
    torch's default float dtype; Python floats become ``float64`` (NumPy's choice).
    """
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor)
                                                          for v in value):
        try:
            return torch.stack([v.reshape(-1) for v in value])  # promotes mixed dtypes
        except RuntimeError as exc:
            raise ValueError(f"{name} must hold vectors of one length, got shapes "
                             f"{sorted({tuple(v.shape) for v in value})}") from exc
    if isinstance(value, np.generic) or not isinstance(value, np.ndarray):
        try:
            value = np.asarray(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a (n, d) array of floats (NumPy, torch, or a list "
                             f"of vectors), got {type(value).__name__}") from None
    if value.dtype == object:
        raise ValueError(f"{name} must be a (n, d) array of floats (vectors of one length), "
                         f"got an array of objects of shape {value.shape}")
    if value.dtype.type not in _FLOAT_NUMPY:
        if not (np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_) \
                or np.issubdtype(value.dtype, np.complexfloating):
            raise ValueError(f"{name} must be a (n, d) array of floats, got dtype {value.dtype}")
        return torch.as_tensor(value.astype(np.float64)).to(torch.get_default_dtype())
    if not value.flags.writeable or not value.flags.aligned or value.dtype.byteorder == ">":
        value = np.array(value, dtype=value.dtype.newbyteorder("="))
    return torch.from_numpy(value)


def as_matrix(name: str, value: Any) -> torch.Tensor:
    """A floating 2-D tensor ``(n, d)`` with ``n >= 1`` and ``d >= 1`` (no copy when possible).

    Accepts a torch tensor, a NumPy array or a list/tuple of vectors (ByzFL's input types);
    float16/float32/float64 are kept, other numbers become torch's default float dtype.
    """
    value = _to_tensor(name, value)
    if value.dim() != 2:
        raise ValueError(f"{name} must be a 2-D tensor (n, d), got shape {tuple(value.shape)}")
    if value.shape[0] < 1 or value.shape[1] < 1:
        raise ValueError(f"{name} must have n >= 1 rows and d >= 1 columns, "
                         f"got shape {tuple(value.shape)}")
    if not value.is_floating_point():
        value = value.to(torch.get_default_dtype())
    return value


def as_vector_or_matrix(name: str, value: Any) -> torch.Tensor:
    """A floating tensor of shape ``(d,)`` or ``(n, d)``."""
    value = _to_tensor(name, value)
    if value.dim() not in (1, 2) or value.numel() == 0:
        raise ValueError(f"{name} must be a non-empty tensor of shape (d,) or (n, d), "
                         f"got shape {tuple(value.shape)}")
    if not value.is_floating_point():
        value = value.to(torch.get_default_dtype())
    return value


def numpy_input(value: Any) -> bool:
    """Whether ``value`` is NumPy-like input (an array, or a list/tuple of arrays or numbers)."""
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, (list, tuple)) and value:
        return not isinstance(value[0], torch.Tensor)
    return False


def like_input(result: torch.Tensor, original: Any) -> Any:
    """``result`` as the type of ``original``: a NumPy array for NumPy-like input, else a tensor.

    The dtype is ``result``'s (the input's floating dtype is kept by :func:`as_matrix`).
    """
    if numpy_input(original):
        return result.detach().cpu().numpy()
    return result
