"""fltheory.integrations.byzfl against ByzFL 0.0.11 itself (computed here when byzfl is installed),
and the input/dtype conventions of the native rules.

ByzFL's ``__init__`` imports torchvision (and pip pulls a CUDA torch with it), so the reference
modules ``byzfl.aggregators`` and ``byzfl.attacks`` are loaded without running the package's
``__init__`` (they need torch, numpy and scipy only)."""

import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest
import torch

from fltheory.fl import aggregators as A
from fltheory.fl import attacks as K
from fltheory.integrations import byzfl as C

DOC_X = [[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]]


@pytest.fixture(scope="module")
def ref():
    """ByzFL 0.0.11's aggregator and attack modules, or skip."""
    spec = importlib.util.find_spec("byzfl")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("byzfl is not installed (pip install --no-deps byzfl==0.0.11)")
    saved = {k: v for k, v in sys.modules.items() if k == "byzfl" or k.startswith("byzfl.")}
    for k in saved:
        del sys.modules[k]
    stub = types.ModuleType("byzfl")
    stub.__path__ = list(spec.submodule_search_locations)
    sys.modules["byzfl"] = stub
    try:
        agg = importlib.import_module("byzfl.aggregators")
        atk = importlib.import_module("byzfl.attacks.attacks")
    except ImportError as exc:  # pragma: no cover - a broken byzfl install
        pytest.skip(f"byzfl modules do not import: {exc}")
    yield types.SimpleNamespace(agg=agg, atk=atk)
    for k in [k for k in sys.modules if k == "byzfl" or k.startswith("byzfl.")]:
        del sys.modules[k]
    sys.modules.update(saved)


def _inputs(x):
    """ByzFL's four documented input forms of the same vectors."""
    a = np.array(x, dtype=np.float64)
    return {"numpy": a, "torch": torch.tensor(a, dtype=torch.float32),
            "list_numpy": [row.copy() for row in a],
            "list_torch": [torch.tensor(row, dtype=torch.float32) for row in a]}


def _check_same(ours, theirs, form, rtol=1e-6, atol=1e-6):
    if form.endswith("numpy"):
        assert isinstance(ours, np.ndarray) and ours.dtype == np.float64
    else:
        assert isinstance(ours, torch.Tensor)
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64),
                               np.asarray(theirs, dtype=np.float64), rtol=rtol, atol=atol)


AGGREGATORS = [("Average", ()), ("Median", ()), ("TrMean", (1,)), ("GeometricMedian", ()),
               ("Krum", (1,)), ("MultiKrum", (1,)), ("CenteredClipping", ()), ("MDA", (1,))]


@pytest.mark.parametrize("name,args", AGGREGATORS)
@pytest.mark.parametrize("form", ["numpy", "torch", "list_numpy", "list_torch"])
def test_documented_aggregator_examples_match_byzfl(ref, name, args, form):
    ours = getattr(C, name)(*args)(_inputs(DOC_X)[form])
    theirs = getattr(ref.agg, name)(*args)(_inputs(DOC_X)[form])
    _check_same(ours, theirs, form)


def test_documented_values_without_byzfl():
    """The outputs printed in ByzFL 0.0.11's docstrings (independent of the installed package)."""
    x = np.array(DOC_X)
    np.testing.assert_allclose(C.GeometricMedian()(x), [3.78788764, 4.78788764, 5.78788764],
                               atol=1e-8)
    np.testing.assert_array_equal(C.Krum(1)(x), [1., 2., 3.])
    np.testing.assert_allclose(C.Average()(x), [4., 5., 6.], rtol=1e-15)
    np.testing.assert_allclose(C.CenteredClipping()(x), [4., 5., 6.], rtol=1e-15)
    assert C.Krum(1)(torch.tensor(DOC_X)).dtype == torch.float32


@pytest.mark.parametrize("f", [2, 5])
def test_random_aggregators_match_byzfl(ref, f):
    rng = np.random.default_rng(f)
    x = rng.normal(size=(12, 30))
    x[:f] += 4.0  # outliers, so that selections are not near-ties
    for name, args in [("Median", ()), ("TrMean", (f,)), ("Krum", (f,)), ("MultiKrum", (f,)),
                       ("GeometricMedian", (0.1, 8)), ("MDA", (f,))]:
        _check_same(getattr(C, name)(*args)(x), getattr(ref.agg, name)(*args)(x.copy()),
                    "numpy", rtol=1e-9, atol=1e-9)
    cc_ours, cc_ref = C.CenteredClipping(L=3, tau=2.0), ref.agg.CenteredClipping(L=3, tau=2.0)
    for _ in range(2):  # both keep the output as the next starting point
        _check_same(cc_ours(x), cc_ref(x.copy()), "numpy", rtol=1e-9, atol=1e-9)
    for name, args in [("NNM", (f,)), ("Clipping", (2.0,)), ("ARC", (f,))]:
        _check_same(getattr(C, name)(*args)(x), getattr(ref.agg, name)(*args)(x.copy()),
                    "numpy", rtol=1e-9, atol=1e-9)


def test_attacks_match_byzfl(ref):
    rng = np.random.default_rng(3)
    h = rng.normal(size=(9, 20))
    for name, args in [("SignFlipping", ()), ("InnerProductManipulation", (2.0,)),
                       ("ALittleIsEnough", (1.5,)), ("Mimic", (2,))]:
        for form in ("numpy", "torch"):
            xs = _inputs(h)[form]
            _check_same(getattr(C, name)(*args)(xs), getattr(ref.atk, name)(*args)(xs), form,
                        rtol=1e-5, atol=1e-5)
    assert np.isinf(C.Inf()(h)).all() and np.isinf(ref.atk.Inf()(h)).all()
    for name in ("Optimal_InnerProductManipulation", "Optimal_ALittleIsEnough"):
        ours = getattr(C, name)(agg=C.TrMean(2), pre_agg_list=[C.Clipping(2.0)], f=3)(h)
        theirs = getattr(ref.atk, name)(agg=ref.agg.TrMean(2), pre_agg_list=[
            ref.agg.Clipping(2.0)], f=3)(h.copy())
        _check_same(ours, theirs, "numpy", rtol=1e-9, atol=1e-9)


def test_byzfl_rules_work_inside_fltheory_attacks(ref):
    """A ByzFL callable is accepted as the server rule of fltheory's optimised attacks."""
    h = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    byz = K.OptimalIPM(tau_range=(0.0, 3.0))(h, 2, aggregator=ref.agg.TrMean(2))
    assert byz.shape == (2, 5)


# --------------------------------------------------------------------------------------------------
# Native conventions (no byzfl needed)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_dtype_kept_by_every_rule(dtype):
    x = np.random.default_rng(0).normal(size=(9, 7)).astype(dtype)
    for name in A.available()["rules"]:
        out = A.get(name, f=2).aggregate(x)
        assert isinstance(out, np.ndarray) and out.dtype == dtype, name
        t = A.get(name, f=2)(torch.from_numpy(x))[0]
        assert t.dtype == torch.from_numpy(x).dtype, name
    for name in A.available()["pre"]:
        out = A.get(f"{name}+mean", f=2).aggregate(list(x))
        assert out.dtype == dtype, name
        assert A._PRE[name](2).transform(x).dtype == dtype, name


def test_float64_numpy_is_aggregated_in_float64():
    # 1 + 1e-12 is lost in float32: the median of these rows is exact only in float64
    x = np.array([[1.0 + 1e-12], [1.0 + 2e-12], [1.0 + 3e-12]])
    assert A.get("cwmed").aggregate(x)[0] == 1.0 + 2e-12
    assert A.get("krum", f=1).aggregate(x)[0] in x[:, 0]


def test_attacks_accept_numpy_and_lists():
    h = np.array([[1.0, 2.0], [3.0, 2.0]])
    out = K.get("sign_flip")(h, 2)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_array_equal(out, [[-2., -2.], [-2., -2.]])
    out = K.get("alie", z=1.0)([torch.tensor([0.0], dtype=torch.float64),
                                torch.tensor([2.0], dtype=torch.float64)], 1)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64


def test_float16_large_norms_are_not_overflow():
    x = torch.full((5, 4), 200.0, dtype=torch.float16)  # norm 400 > 256: x @ x.T overflows
    x[1] += 1.0
    x[4] = 1000.0
    for name in ("krum", "gm", "cc", "multikrum"):
        value, info = A.get(name, f=1, **({"tau": 1e4} if name == "cc" else {}))(x)
        assert info.rejected == 0, name
        assert value.dtype == torch.float16 and torch.isfinite(value).all(), name
    value, info = A.Krum(f=1)(x)
    assert value.tolist() == [200.0] * 4
    x[2, 0] = float("inf")
    assert A.Krum(f=1)(x)[1].rejected_indices == [2]


def test_centered_clipping_refuses_nonfinite_center():
    x = torch.ones(4, 3)
    with pytest.raises(ValueError, match="center must be finite"):
        A.CenteredClipping(tau=1.0)(x, center=torch.tensor([0.0, float("nan"), 0.0]))
    value, _ = A.CenteredClipping(tau=1.0)(x, center=np.zeros(3))
    assert torch.equal(value, torch.ones(3))


def test_bad_vector_lists_are_refused():
    with pytest.raises(ValueError, match="updates"):
        A.get("mean").aggregate([np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match="updates"):
        A.get("mean").aggregate([torch.zeros(3), torch.zeros(4)])
    with pytest.raises(ValueError, match="updates"):
        A.get("mean").aggregate(np.array([["a", "b"]]))


def test_centered_clipping_direct_path_equals_gram_path_and_rejects_nonfinite():
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.normal(size=(9, 40)) * 3)
    x[4, 7] = float("nan")
    alone, info = A.CenteredClipping(tau=2.0, iterations=4)(x)  # O(L n d) path, norm screen
    assert info.rejected_indices == [4]
    # the same rule after an identity-like pre-aggregator (clipping at an unreachable norm)
    # runs on the Gram matrix
    piped, _ = A.Pipeline([A.StaticClipping(threshold=1e9)],
                          A.CenteredClipping(tau=2.0, iterations=4))(x)
    torch.testing.assert_close(alone, piped, rtol=1e-10, atol=1e-10)
    # an explicit loop over the 8 finite rows
    rows = np.delete(x.numpy(), 4, axis=0)
    v = np.zeros(40)
    for _ in range(4):
        d = rows - v
        v = v + (d * np.minimum(1.0, 2.0 / np.linalg.norm(d, axis=1))[:, None]).mean(0)
    np.testing.assert_allclose(alone.numpy(), v, rtol=1e-12, atol=1e-12)
