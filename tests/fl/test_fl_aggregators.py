"""Aggregators equal plain reference implementations (float64 NumPy, explicit loops)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from fltheory.fl import aggregators as A

RNG = np.random.default_rng(12345)


def _data(n, d, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) + offset
    return x, torch.tensor(x, dtype=torch.float64)


def _sqdist_matrix(x):
    n = len(x)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = float(np.sum((x[i] - x[j]) ** 2))
    return out


# -- plain references -----------------------------------------------------------------------------
def ref_median(x):
    return np.median(x, axis=0)


def ref_trimmed_mean(x, f):
    s = np.sort(x, axis=0)
    return s[f:len(x) - f].mean(axis=0)


def ref_krum_scores(x, f, q=None):
    n = len(x)
    q = n - f - 1 if q is None else q  # the n - f nearest, x_i itself included
    dist = _sqdist_matrix(x)
    scores = []
    for i in range(n):
        others = sorted(dist[i, j] for j in range(n) if j != i)
        scores.append(sum(others[:q]))
    return np.array(scores)


def ref_krum(x, f, q=None):
    return x[int(np.argmin(ref_krum_scores(x, f, q)))]


def ref_multikrum(x, f, m=None):
    scores = ref_krum_scores(x, f)
    m = len(x) - f if m is None else m
    idx = np.argsort(scores, kind="stable")[:m]
    return x[idx].mean(axis=0), sorted(idx.tolist())


def ref_weiszfeld(x, iters=5000, init="mean", nu=0.0):
    z = x.mean(axis=0) if init == "mean" else np.zeros(x.shape[1])
    for _ in range(iters):
        dist = np.maximum(np.linalg.norm(x - z, axis=1), max(nu, 1e-15))
        w = 1.0 / dist
        z = (w[:, None] * x).sum(0) / w.sum()
    return z


def ref_cc(x, tau, iters, v0=None):
    v = np.zeros(x.shape[1]) if v0 is None else v0.copy()
    for _ in range(iters):
        diffs = x - v
        norms = np.linalg.norm(diffs, axis=1)
        scale = np.minimum(1.0, tau / np.maximum(norms, 1e-300))
        v = v + (diffs * scale[:, None]).mean(0)
    return v


def ref_mda(x, f):
    n = len(x)
    best, best_val = None, math.inf
    for sub in itertools.combinations(range(n), n - f):
        diam = max(np.linalg.norm(x[i] - x[j]) for i in sub for j in sub)
        if diam < best_val - 1e-12:
            best, best_val = sub, diam
    return x[list(best)].mean(0), list(best)


def ref_smea(x, f):
    n = len(x)
    best, best_val = None, math.inf
    for sub in itertools.combinations(range(n), n - f):
        xs = x[list(sub)]
        c = xs - xs.mean(0)
        lam = np.linalg.eigvalsh(c.T @ c / len(sub))[-1]
        if lam < best_val - 1e-12:
            best, best_val = sub, lam
    return x[list(best)].mean(0), list(best)


def ref_caf(x, f):
    n = len(x)
    c = np.ones(n)
    best, best_lam = x.mean(0), math.inf
    while c.sum() > n - 2 * f:
        mu = (c[:, None] * x).sum(0) / c.sum()
        diff = x - mu
        cov = (c[:, None] * diff).T @ diff / c.sum()
        w, v = np.linalg.eigh(cov)
        if w[-1] < best_lam:
            best_lam, best = w[-1], mu
        tau = (diff @ v[:, -1]) ** 2
        c = c * (1 - tau / tau.max())
    return best


def ref_nnm(x, f):
    n = len(x)
    dist = _sqdist_matrix(x)
    out = np.zeros_like(x)
    for i in range(n):
        nearest = sorted(range(n), key=lambda j: (dist[i, j], j))[:n - f]
        out[i] = x[nearest].mean(0)
    return out


def ref_arc(x, f):
    n = len(x)
    k = int(2 * f * (n - f) / n)
    norms = np.linalg.norm(x, axis=1)
    if k == 0:
        return x.copy()
    thr = np.sort(norms)[n - k - 1]
    scale = np.where(norms > thr, thr / norms, 1.0)
    return x * scale[:, None]


# -- tests -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [8, 9, 10, 11])
def test_median_exact_for_even_and_odd_n(n):
    x, t = _data(n, 7, seed=n)
    value, info = A.get("cwmed", f=2)(t)
    np.testing.assert_allclose(value.numpy(), ref_median(x), rtol=1e-12, atol=1e-12)
    assert info.rejected == 0 and info.weights is None
    if n % 2 == 0:  # torch.median's lower middle value is not the median
        lower = torch.median(t, dim=0).values.numpy()
        assert not np.allclose(lower, value.numpy())


def test_median_float32_cpu_and_sort_path():
    x, _ = _data(10, 33, seed=3)
    value, _ = A.CoordinateWiseMedian()(torch.tensor(x, dtype=torch.float32))
    assert value.dtype == torch.float32
    np.testing.assert_allclose(value.numpy(), ref_median(x.astype(np.float32)), rtol=1e-6)


@pytest.mark.parametrize("n,f", [(7, 0), (7, 3), (10, 2), (11, 4)])
def test_trimmed_mean(n, f):
    x, t = _data(n, 6, seed=n + f)
    value, _ = A.get("cwtm", f=f)(t)
    np.testing.assert_allclose(value.numpy(), ref_trimmed_mean(x, f), rtol=1e-12, atol=1e-12)


def test_mean():
    x, t = _data(5, 4)
    np.testing.assert_allclose(A.get("mean")(t)[0].numpy(), x.mean(0), rtol=1e-12)


@pytest.mark.parametrize("n,f", [(9, 2), (12, 3), (15, 5)])
def test_krum_and_multikrum(n, f):
    x, t = _data(n, 5, seed=100 + n)
    x[:f] += 3.0  # some outliers so that the choice is not trivial
    t = torch.tensor(x)
    value, info = A.get("krum", f=f)(t)
    np.testing.assert_allclose(value.numpy(), ref_krum(x, f), rtol=1e-12)
    assert info.selected == [int(np.argmin(ref_krum_scores(x, f)))]
    np.testing.assert_allclose(info.extra["scores"].numpy(), ref_krum_scores(x, f), rtol=1e-9)
    mk_value, mk_info = A.get("multikrum", f=f)(t)
    ref_val, ref_sel = ref_multikrum(x, f)
    np.testing.assert_allclose(mk_value.numpy(), ref_val, rtol=1e-12)
    assert mk_info.selected == ref_sel
    # Blanchard et al.'s neighbour count (n - f - 2) is selectable.
    value2, _ = A.Krum(f, num_neighbors=n - f - 2)(t)
    np.testing.assert_allclose(value2.numpy(), ref_krum(x, f, q=n - f - 2), rtol=1e-12)


def test_geometric_median_converges_to_reference():
    x, t = _data(11, 8, seed=5)
    x[:3] += 20.0
    t = torch.tensor(x)
    value, info = A.GeometricMedian(f=3, tol=1e-12, max_iter=10_000)(t)
    ref = ref_weiszfeld(x)
    np.testing.assert_allclose(value.numpy(), ref, atol=1e-8)
    obj = lambda z: np.linalg.norm(x - z, axis=1).sum()  # noqa: E731
    assert obj(value.numpy()) <= obj(ref) + 1e-9
    assert info.iterations < 10_000


def test_geometric_median_byzfl_mode_matches_fixed_iterations():
    x, t = _data(10, 6, seed=6)
    value, info = A.GeometricMedian(smoothing=0.1, max_iter=3, tol=0.0, init="zero")(t)
    np.testing.assert_allclose(value.numpy(), ref_weiszfeld(x, iters=3, init="zero", nu=0.1),
                               rtol=1e-10)
    assert info.iterations == 3


def test_centered_clipping():
    x, t = _data(9, 5, seed=7)
    x[0] *= 50
    t = torch.tensor(x)
    value, _ = A.CenteredClipping(tau=1.5, iterations=4)(t)
    np.testing.assert_allclose(value.numpy(), ref_cc(x, 1.5, 4), rtol=1e-10, atol=1e-12)
    v0 = np.full(5, 0.3)
    value, _ = A.CenteredClipping(tau=1.5, iterations=2)(t, center=torch.tensor(v0))
    np.testing.assert_allclose(value.numpy(), ref_cc(x, 1.5, 2, v0), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n,f", [(7, 2), (8, 3)])
def test_mda_and_smea(n, f):
    x, t = _data(n, 4, seed=n * 10 + f)
    x[:f] *= 4
    t = torch.tensor(x)
    value, info = A.get("mda", f=f)(t)
    ref_val, ref_sel = ref_mda(x, f)
    np.testing.assert_allclose(value.numpy(), ref_val, rtol=1e-12)
    assert info.selected == ref_sel
    value, info = A.get("smea", f=f)(t)
    ref_val, ref_sel = ref_smea(x, f)
    np.testing.assert_allclose(value.numpy(), ref_val, rtol=1e-12)
    assert info.selected == ref_sel


def test_subset_enumeration_refused_beyond_limit():
    t = torch.randn(30, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="max_subsets"):
        A.MDA(f=10, max_subsets=1000)(t)
    with pytest.raises(ValueError, match="C\\(30, 10\\)"):
        A.SMEA(f=10, max_subsets=1000)(t)


@pytest.mark.parametrize("n,f", [(9, 2), (12, 4)])
def test_caf(n, f):
    x, t = _data(n, 6, seed=n + 40)
    x[:f] += np.linspace(5, 9, 6)
    t = torch.tensor(x)
    np.testing.assert_allclose(A.get("caf", f=f)(t)[0].numpy(), ref_caf(x, f), rtol=1e-8,
                               atol=1e-10)


def test_caf_with_f0_is_mean():
    x, t = _data(6, 3)
    np.testing.assert_allclose(A.CAF(f=0)(t)[0].numpy(), x.mean(0), rtol=1e-12)


@pytest.mark.parametrize("n,f", [(8, 2), (11, 3)])
def test_nnm_standalone_and_in_pipelines(n, f):
    x, t = _data(n, 5, seed=n)
    mixed, _ = A.NNM(f)(t)
    np.testing.assert_allclose(mixed.numpy(), ref_nnm(x, f), rtol=1e-10, atol=1e-12)
    y = ref_nnm(x, f)
    np.testing.assert_allclose(A.get("nnm+cwtm", f=f)(t)[0].numpy(), ref_trimmed_mean(y, f),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(A.get("nnm+cwmed", f=f)(t)[0].numpy(), ref_median(y),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(A.get("nnm+krum", f=f)(t)[0].numpy(), ref_krum(y, f),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(A.get("nnm+gm", f=f, tol=1e-13, max_iter=20000)(t)[0].numpy(),
                               ref_weiszfeld(y), atol=1e-7)


def test_static_clipping_and_arc():
    x, t = _data(10, 4, seed=9)
    x[:3] *= 10
    t = torch.tensor(x)
    clipped, _ = A.StaticClipping(threshold=1.0)(t)
    norms = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(clipped.numpy(), x * np.minimum(1, 1 / norms)[:, None], rtol=1e-12)
    arc, _ = A.ARC(f=3)(t)
    np.testing.assert_allclose(arc.numpy(), ref_arc(x, 3), rtol=1e-12)
    np.testing.assert_allclose(A.get("arc+cwtm", f=3)(t)[0].numpy(),
                               ref_trimmed_mean(ref_arc(x, 3), 3), rtol=1e-10)
    np.testing.assert_allclose(A.get("arc+krum", f=3)(t)[0].numpy(),
                               ref_krum(ref_arc(x, 3), 3), rtol=1e-10)


def test_bucketing_uses_the_generator():
    x, t = _data(10, 3, seed=11)
    out, _ = A.Bucketing(s=3)(t, generator=7)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(7)).numpy()
    ref = np.stack([x[perm[i:i + 3]].mean(0) for i in range(0, 10, 3)])
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    agg = A.get("bucketing+cwmed", f=1, pre_kwargs={"bucketing": {"s": 3}})
    np.testing.assert_allclose(agg(t, generator=7)[0].numpy(), ref_median(ref), rtol=1e-12)
    # The rule's own generator makes repeated runs reproducible.
    a = [A.get("bucketing+mean", f=1)(t)[0] for _ in range(2)]
    b = [A.get("bucketing+mean", f=1)(t)[0] for _ in range(2)]
    assert all(torch.equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize("name", ["mean", "cwmed", "cwtm", "krum", "multikrum", "gm", "cc", "mda",
                                  "smea", "caf", "nnm+cwtm", "arc+krum", "bucketing+gm"])
def test_nonfinite_rows_are_rejected_not_fatal(name):
    x, _ = _data(9, 4, seed=21)
    bad = x.copy()
    bad[1, 2] = np.nan
    bad[4] = np.inf
    bad[7, 0] = -np.inf
    agg = A.get(name, f=2)
    value, info = agg(torch.tensor(bad), generator=0)
    assert info.rejected == 3 and info.rejected_indices == [1, 4, 7]
    assert torch.isfinite(value).all()
    clean = np.delete(x, [1, 4, 7], axis=0)
    ref, _ = A.get(name, f=2)(torch.tensor(clean), generator=0)
    np.testing.assert_allclose(value.numpy(), ref.numpy(), rtol=1e-10, atol=1e-12)
    if info.selected is not None:
        assert not set(info.selected) & {1, 4, 7}
    if info.weights is not None:
        assert float(info.weights[[1, 4, 7]].abs().sum()) == 0.0


def test_all_rows_rejected_gives_zero_and_overflow_rows_rejected():
    t = torch.full((4, 3), float("nan"))
    value, info = A.get("krum", f=1)(t)
    assert info.rejected == 4 and torch.equal(value, torch.zeros(3))
    x = torch.randn(6, 3)
    x[2] = 1e30  # finite, but its squared norm overflows float32
    value, info = A.get("gm", f=1)(x)
    assert info.rejected_indices == [2] and torch.isfinite(value).all()


def test_f_lowered_when_rejections_leave_too_few_rows():
    x = torch.randn(7, 3, dtype=torch.float64)
    x[:3] = float("nan")
    value, info = A.get("cwtm", f=3)(x)
    assert info.rejected == 3 and info.f == 1
    np.testing.assert_allclose(value.numpy(), ref_trimmed_mean(x[3:].numpy(), 1), rtol=1e-12)


def test_large_common_offset_uses_centred_gram():
    # Spread 1e-3 around a common vector of norm ~1e2: a float32 XX^T would lose the distances.
    rng = np.random.default_rng(3)
    base = rng.standard_normal(2000) * 3
    x = (base + 1e-3 * rng.standard_normal((12, 2000))).astype(np.float32)
    x[:2] += 5e-3  # two mild outliers
    t = torch.tensor(x)
    value, info = A.get("krum", f=2)(t)
    x64 = x.astype(np.float64)
    assert info.selected == [int(np.argmin(ref_krum_scores(x64, 2)))]
    np.testing.assert_allclose(info.extra["scores"].numpy(), ref_krum_scores(x64, 2), rtol=1e-3)
    gm, _ = A.GeometricMedian(tol=1e-10, max_iter=5000)(t)
    np.testing.assert_allclose(gm.numpy(), ref_weiszfeld(x64), atol=1e-6)


def test_precomputed_gram_is_used():
    x, t = _data(9, 4, seed=2)
    gram = t @ t.T
    np.testing.assert_allclose(A.get("krum", f=2)(t, gram=gram)[0].numpy(), ref_krum(x, 2))
    with pytest.raises(ValueError, match="gram must have shape"):
        A.get("krum", f=2)(t, gram=gram[:3, :3])


def test_rules_match_the_bounds_module_references():
    # fltheory.bounds probes its kappa bounds with these NumPy references: same conventions.
    ref = pytest.importorskip("fltheory.bounds._reference_aggregators")
    x, t = _data(12, 5, seed=31)
    x[:3] += 4.0
    t = torch.tensor(x)
    for name in ("cwtm", "cwmed", "krum", "multikrum", "mda", "smea"):
        for nnm in (False, True):
            expected = ref.get(name, nnm_first=nnm)(x, 3)
            ours = A.get(("nnm+" if nnm else "") + name, f=3)(t)[0].numpy()
            np.testing.assert_allclose(ours, expected, rtol=1e-10, err_msg=f"{name} nnm={nnm}")


def test_kappa_names_and_registry():
    expected = {"cwtm": "cwtm", "cwmed": "cwmed", "gm": "gm", "krum": "krum",
                "multikrum": None, "mean": None, "cc": None, "mda": None, "smea": None,
                "caf": None}
    for name, kappa in expected.items():
        assert A.get(name, f=1).kappa_name == kappa
    pipe = A.get("nnm+gm", f=1)
    assert pipe.kappa_name == "gm" and pipe.nnm
    assert A.get("arc+nnm+cwtm", f=1).kappa_name is None
    assert A.get("cwtm", f=1, pre=["nnm"]).name == "nnm+cwtm"


def test_validation_messages():
    t = torch.randn(6, 3)
    with pytest.raises(ValueError, match="f must be <= 2"):
        A.get("cwtm", f=3)(t)
    with pytest.raises(ValueError, match="f must be >= 0"):
        A.get("krum", f=-1)
    with pytest.raises(ValueError, match="name must be one of"):
        A.get("bogus")
    with pytest.raises(ValueError, match="2-D"):
        A.get("mean")(torch.randn(3))
    with pytest.raises(ValueError, match="tau must be > 0"):
        A.get("cc", tau=0)


@pytest.mark.parametrize("name", ["mean", "cwtm", "cwmed", "nnm+cwtm"])
def test_huge_finite_values_do_not_overflow(name):
    # Each row is finite; a float32 running sum of them would overflow to inf.
    x = torch.full((6, 4), 3e38)
    x[::2] = 2e38
    value, info = A.get(name, f=1)(x)
    assert torch.isfinite(value).all()
    if name == "nnm+cwtm":  # squared norms overflow float32: the Gram screen rejects the rows
        assert info.rejected == 6
    else:
        assert info.rejected == 0 and float(value.min()) >= 2e38 * (1 - 1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("as_numpy", [False, True])
def test_large_d_paths_match_sorting_and_reject_nonfinite_rows(dtype, as_numpy):
    """Past the block size (several sort blocks, a partial last one) and the BLAS-norm
    threshold: coordinate-wise rules equal np.sort's order statistics, rows with NaN/Inf are
    rejected, ties are kept, and centered clipping equals the formula."""
    n, d, f = 13, A._SORT_BLOCK * 2 + 77, 3
    assert d > A._BLAS_NORM_MIN_D
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    x[:, :500] = torch.round(x[:, :500])          # many ties
    x[2, 3000] = float("nan")
    x[5, 17] = float("inf")
    x[7] *= 1e6                                   # a far row, finite
    good = [i for i in range(n) if i not in (2, 5)]
    ref = np.sort(x[good].numpy(), axis=0)
    m = len(good)
    xin = x.to(dtype)
    xin = xin.numpy() if as_numpy else xin
    med, info = A.CoordinateWiseMedian(f)(xin)
    assert info.rejected_indices == [2, 5]
    want_med = 0.5 * ref[m // 2 - 1] + 0.5 * ref[m // 2] if m % 2 == 0 else ref[m // 2]
    tm, _ = A.TrimmedMean(f)(xin)
    want_tm = ref[f:m - f].mean(axis=0)
    rtol = 1e-12 if dtype == torch.float64 else 1e-6
    if dtype == torch.float32:   # the order statistics of the float32 values
        ref32 = np.sort(x[good].to(torch.float32).numpy(), axis=0)
        want_med = (0.5 * ref32[m // 2 - 1] + 0.5 * ref32[m // 2] if m % 2 == 0
                    else ref32[m // 2])
        want_tm = ref32[f:m - f].astype(np.float64).mean(axis=0)
    np.testing.assert_array_equal(med.numpy(), want_med.astype(med.numpy().dtype))
    np.testing.assert_allclose(tm.numpy(), want_tm, rtol=rtol, atol=1e-12)
    cc, info = A.CenteredClipping(tau=3.0, iterations=1)(xin)
    assert info.rejected_indices == [2, 5]
    rows = x[good].to(dtype).to(torch.float64)
    scale = torch.clamp(3.0 / torch.linalg.vector_norm(rows, dim=1), max=1.0)
    np.testing.assert_allclose(cc.numpy(), ((rows * scale[:, None]).sum(0) / m).numpy(),
                               rtol=rtol, atol=1e-12 if dtype == torch.float64 else 1e-6)
    k, info = A.Krum(f)(xin)
    assert info.rejected_indices == [2, 5] and info.selected[0] in good
