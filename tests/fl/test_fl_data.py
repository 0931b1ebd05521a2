"""Data: seeded partitions, synthetic optima, digits, IDX and .npz loaders on tiny files."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest
import torch

from fltheory.fl import data as D
from fltheory.fl import models as M

LABELS = np.repeat(np.arange(10), 60)


def _is_partition(parts, n):
    allidx = np.concatenate(parts)
    return len(allidx) == n and len(np.unique(allidx)) == n


@pytest.mark.parametrize("method", ["iid", "dirichlet", "shards"])
def test_partitions_are_seeded_disjoint_and_covering(method):
    a = D.partition(LABELS, 12, method, alpha=0.5, seed=3)
    b = D.partition(LABELS, 12, method, alpha=0.5, seed=3)
    c = D.partition(LABELS, 12, method, alpha=0.5, seed=4)
    assert len(a) == 12 and _is_partition(a, LABELS.size)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))
    assert all(p.dtype == np.int64 for p in a)


def test_iid_sizes_and_generator_seed():
    parts = D.iid_partition(103, 10, seed=np.random.default_rng(0))
    assert sorted(len(p) for p in parts) == [10] * 7 + [11] * 3


def _dominant_share(parts):
    shares = []
    for p in parts:
        counts = np.bincount(LABELS[p], minlength=10)
        shares.append(counts.max() / counts.sum())
    return float(np.mean(shares))


def test_dirichlet_alpha_controls_skew():
    skewed = _dominant_share(D.dirichlet_partition(LABELS, 10, 0.1, seed=0))
    mild = _dominant_share(D.dirichlet_partition(LABELS, 10, 100.0, seed=0))
    assert skewed > 0.5 > 0.25 > mild
    parts = D.dirichlet_partition(LABELS, 30, 0.1, seed=1, min_size=5)
    assert min(len(p) for p in parts) >= 5
    with pytest.raises(ValueError, match="alpha must be > 0"):
        D.dirichlet_partition(LABELS, 3, 0.0)
    with pytest.raises(ValueError, match="too small"):
        D.dirichlet_partition(LABELS, 50, 0.001, min_size=11, max_tries=3)


def test_shards_give_few_labels_per_client():
    parts = D.shard_partition(LABELS, 10, 2, seed=0)
    assert all(len(p) == 60 for p in parts)
    assert all(len(np.unique(LABELS[p])) <= 2 for p in parts)  # shards align with classes here
    with pytest.raises(ValueError, match="shards_per_client must be <="):
        D.shard_partition(LABELS[:10], 10, 2)


def test_synthetic_logistic_optimum_is_a_stationary_point():
    ds = D.synthetic_logistic(num_clients=5, samples_per_client=80, dim=6, heterogeneity=1.0,
                              l2=0.01, seed=0)
    model = M.logistic_regression(6, 2)
    x, y = ds.concatenated()
    theta = ds.optimum.double()
    grad = model.grad(theta, x.double(), y) + ds.l2 * theta
    assert float(grad.norm()) < 1e-6
    # objective is higher at a perturbed point
    assert float(model.loss(theta + 0.05, x.double(), y)) > float(model.loss(theta, x.double(), y))


def test_synthetic_heterogeneity_increases_dissimilarity():
    g = [D.synthetic_linear(8, 200, 10, heterogeneity=h, seed=1).info["gradient_dissimilarity"]
         for h in (0.0, 0.5, 2.0)]
    assert g[0] < g[1] < g[2]
    assert g[2] == pytest.approx(2.0, rel=0.3)


def test_synthetic_linear_optimum_is_least_squares():
    ds = D.synthetic_linear(3, [30, 40, 50], 4, heterogeneity=0.3, seed=2)
    assert ds.sizes == [30, 40, 50]
    x, y = ds.concatenated()
    xa = torch.cat([x, torch.ones(len(x), 1)], 1).double()
    sol = torch.linalg.lstsq(xa, y.double()[:, None]).solution[:, 0]
    np.testing.assert_allclose(ds.optimum.numpy(), sol.numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="stacked\\(\\) needs equal client sizes"):
        ds.stacked()


def test_synthetic_is_seeded():
    a = D.synthetic_logistic(3, 50, 4, seed=7)
    b = D.synthetic_logistic(3, 50, 4, seed=7)
    assert all(torch.equal(u, v) for u, v in zip(a.x, b.x)) and torch.equal(a.optimum, b.optimum)
    with pytest.raises(ValueError, match="samples_per_client must list"):
        D.synthetic_linear(3, [10, 10], 4)
    with pytest.raises(ValueError, match="heterogeneity must be >= 0"):
        D.synthetic_linear(3, 10, 4, heterogeneity=-1)


def test_digits():
    ds = D.digits(num_clients=7, partition_method="dirichlet", alpha=0.3, seed=0)
    assert ds.num_samples + len(ds.y_test) == 1797
    assert ds.input_shape == (64,) and float(ds.x[0].max()) <= 1.0
    assert ds.label_counts().sum() == ds.num_samples
    again = D.digits(num_clients=7, partition_method="dirichlet", alpha=0.3, seed=0)
    assert all(torch.equal(u, v) for u, v in zip(ds.y, again.y))
    img = D.digits(num_clients=2, flatten=False)
    assert img.input_shape == (1, 8, 8)
    xs, ys = D.digits(num_clients=3, test_fraction=0.1).to(dtype=torch.float64).concatenated()
    assert xs.dtype == torch.float64 and ys.dtype == torch.int64


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_roundtrip(tmp_path, dtype, compress):
    arr = (np.arange(2 * 3 * 4) % 100).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    D.save_idx(path, arr)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == compress
    back = D.load_idx(path)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, arr)


def test_idx_bytes_are_the_standard_format(tmp_path):
    path = tmp_path / "labels"
    D.save_idx(path, np.array([7, 2], dtype=np.uint8))
    assert path.read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 2])
    # A hand-written big-endian int32 file.
    (tmp_path / "ints").write_bytes(bytes([0, 0, 0x0C, 1, 0, 0, 0, 1, 0, 0, 1, 2]))
    assert D.load_idx(tmp_path / "ints").tolist() == [258]


def test_idx_malformed(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x00\x08\x01")
    with pytest.raises(ValueError, match="bad magic"):
        D.load_idx(bad)
    bad.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    with pytest.raises(ValueError, match="announces 5 data bytes"):
        D.load_idx(bad)
    bad.write_bytes(bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 1]))
    with pytest.raises(ValueError, match="type code"):
        D.load_idx(bad)
    with pytest.raises(ValueError, match="existing file"):
        D.load_idx(tmp_path / "missing")


def _write_mnist(directory, n_train=12, n_test=4, gz=False, dotted=False):
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    for name, arr in files.items():
        if dotted:
            name = name.replace("-idx", ".idx")
        D.save_idx(os.path.join(directory, name + (".gz" if gz else "")), arr)
    return files


@pytest.mark.parametrize("gz,dotted", [(False, False), (True, False), (False, True)])
def test_mnist_loader(tmp_path, gz, dotted):
    files = _write_mnist(tmp_path, gz=gz, dotted=dotted)
    arrs = D.load_mnist(tmp_path)
    assert np.array_equal(arrs["x_train"], files["train-images-idx3-ubyte"])
    assert np.array_equal(arrs["y_test"], files["t10k-labels-idx1-ubyte"])
    ds = D.mnist(tmp_path, num_clients=3, seed=0)
    assert ds.input_shape == (1, 28, 28) and ds.num_samples == 12 and len(ds.y_test) == 4
    np.testing.assert_allclose(ds.x_test.numpy()[:, 0],
                               files["t10k-images-idx3-ubyte"] / 255.0, rtol=1e-6)
    assert D.mnist(tmp_path, num_clients=2, flatten=True).input_shape == (784,)


def test_mnist_missing_file(tmp_path):
    _write_mnist(tmp_path)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte"):
        D.load_mnist(tmp_path)


def test_npz_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.random((30, 2, 3)).astype(np.float32), np.arange(30) % 3
    keras = tmp_path / "keras.npz"
    np.savez(keras, x_train=x[:20], y_train=y[:20], x_test=x[20:], y_test=y[20:])
    arrs = D.load_npz(keras)
    assert np.array_equal(arrs["x_train"], x[:20]) and np.array_equal(arrs["y_test"], y[20:])
    ds = D.from_npz(keras, num_clients=4, seed=0)
    assert ds.num_samples == 20 and len(ds.y_test) == 10 and ds.input_shape == (2, 3)
    np.testing.assert_array_equal(ds.x_test.numpy(), x[20:])
    plain = tmp_path / "plain.npz"
    np.savez_compressed(plain, features=x, target=y)
    with pytest.raises(ValueError, match="match none of the layouts"):
        D.load_npz(plain)
    ds = D.from_npz(plain, num_clients=2, x_key="features", y_key="target", test_fraction=0.2)
    assert ds.num_samples == 24
    with pytest.raises(ValueError, match="has no array 'nope'"):
        D.load_npz(plain, x_key="nope", y_key="target")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(gzip.compress(b"not a zip"))
    with pytest.raises(ValueError, match="not a readable .npz"):
        D.load_npz(junk)


def test_dataset_container_checks():
    with pytest.raises(ValueError, match="client 0: x has 2 records but y has 3"):
        D.FederatedDataset(x=[torch.zeros(2, 3)], y=[torch.zeros(3)], x_test=torch.zeros(1, 3),
                           y_test=torch.zeros(1))
    ds = D.synthetic_linear(2, 10, 3, seed=0)
    xs, ys = ds.stacked()
    assert xs.shape == (2, 10, 3) and ys.shape == (2, 10)
    assert "num_clients=2" in repr(ds)
