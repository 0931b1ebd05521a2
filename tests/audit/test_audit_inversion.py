"""Gradient inversion: exact analytic recovery, DLG/iDLG on a small model, and what DP noise and
compression do to the reconstruction; the comparison grid is written atomically."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fltheory.audit import inversion as I  # noqa: E402
from fltheory.fl import compressors, data, models  # noqa: E402


@pytest.fixture(scope="module")
def digit():
    ds = data.digits(num_clients=1, seed=0)
    return ds.x_test[3], int(ds.y_test[3])


@pytest.mark.parametrize("make", [lambda: models.mlp(64, 10, hidden=(32,)),
                                  lambda: models.mlp(64, 10, hidden=(16, 8), activation="tanh"),
                                  lambda: models.logistic_regression(64, 10),
                                  lambda: models.logistic_regression(64, 2)])
def test_analytic_reconstruction_is_exact(make, digit):
    x, y = digit
    m = make()
    res = I.invert_gradient(m, m.init(seed=1, scheme="uniform"), x, y % 2 if
                            m.num_params == 65 else y)
    assert res.mse < 1e-10 and res.psnr > 90
    assert res.label_rec == res.label_true  # iDLG's label rule on the last bias
    assert res.details["recovered_fraction"] == 1.0


def test_clipping_alone_does_not_protect_noise_does(digit):
    x, y = digit
    m = models.mlp(64, 10, hidden=(32,))
    p = m.init(seed=0)
    clipped = I.invert_gradient(m, p, x, y, clip=0.1)
    assert clipped.mse < 1e-10  # the ratio dW/db is scale-free
    psnrs = [I.invert_gradient(m, p, x, y, clip=1.0, noise_multiplier=z, seed=2).psnr
             for z in (0.001, 0.01, 0.1)]
    assert psnrs[0] > psnrs[1] > psnrs[2] and psnrs[2] < 12 and psnrs[0] > 30


def test_compression_hides_part_of_the_input(digit):
    x, y = digit
    m = models.mlp(64, 10, hidden=(32,))
    p = m.init(seed=0)
    d = m.num_params
    top = I.invert_gradient(m, p, x, y, compressor=compressors.get("topk", k=d // 10))
    rnd = I.invert_gradient(m, p, x, y, compressor=compressors.get("randk", k=d // 10), seed=1)
    for r in (top, rnd):
        assert 0 < r.details["recovered_fraction"] < 1 and r.mse > 1e-4
    assert rnd.details["sent_fraction"] == pytest.approx(0.1, abs=0.01)  # mask replayed
    assert top.psnr > rnd.psnr  # top-k keeps the large (informative) coordinates


def test_idlg_and_dlg_on_a_small_tanh_mlp(digit):
    x, y = digit
    m = models.mlp(64, 10, hidden=(16,), activation="tanh")
    p = m.init(seed=0)
    idlg = I.invert_gradient(m, p, x, y, method="idlg", steps=8, seed=0)
    assert idlg.label_rec == y and idlg.details["label_inferred"]
    assert idlg.psnr > 40
    dlg = I.invert_gradient(m, p, x, y, method="dlg", steps=8, seed=0)
    assert dlg.details["iterations"] > 8 and dlg.details["distance"] == "l2"
    noisy = I.invert_gradient(m, p, x, y, method="idlg", clip=1.0, noise_multiplier=0.1,
                              steps=5, seed=0)
    assert noisy.details["distance"] == "cosine" and noisy.psnr < 15


def test_infer_label_binary_and_masked():
    m = models.logistic_regression(4)
    for lab in (0, 1):
        g = m.grad(m.init(), torch.ones(1, 4), torch.tensor([lab]))
        assert I.infer_label(m, g) == lab
    mask = torch.ones(5, dtype=torch.bool)
    mask[-1] = False
    assert I.infer_label(m, g, mask) is None


def test_errors_and_metrics():
    assert I.psnr([0.0, 1.0], [0.0, 1.0]) == math.inf
    assert I.mse([1.0, 1.0], [0.0, 0.0]) == 1.0
    cnn = models.cnn((1, 8, 8), 10, channels=(2,), hidden=None)
    with pytest.raises(ValueError, match="not dense"):
        I.invert_gradient(cnn, cnn.init(), torch.rand(1, 8, 8), 0)
    m = models.mlp(4, 2, hidden=(3,))
    with pytest.raises(ValueError, match="needs clip"):
        I.invert_gradient(m, m.init(), torch.rand(4), 0, noise_multiplier=1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        I.invert_gradient(m, m.init(), torch.rand(4), 0, method="gan")
    with pytest.raises(ValueError, match="regression"):
        lin = models.linear_regression(4)
        I.invert_gradient(lin, lin.init(), torch.rand(4), 0, method="dlg", steps=1)


def test_experiment_and_grid_are_written_atomically(tmp_path):
    res = I.inversion_experiment(methods=("analytic",), steps=1, examples=(0, 1))
    assert len(res) == 10 and res[0].defence == "none" and res[0].mse < 1e-10
    by = {r.defence: r.psnr for r in res if r.details["example"] == 0}
    assert by["dp(C=1, z=0.1)"] < by["dp(C=1, z=0.01)"] < by["none"]
    from fltheory.plots.inversion import save_reconstruction_grid

    paths = save_reconstruction_grid(res, tmp_path / "inv")
    assert [os.path.basename(p) for p in paths] == ["inv.pdf", "inv.png"]
    assert all(os.path.getsize(p) > 1000 for p in paths)
    assert sorted(os.listdir(tmp_path)) == ["inv.pdf", "inv.png"]  # no temp files left
    with open(paths[1], "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert res[0].to_dict()["psnr"] == "inf"
    with pytest.raises(ValueError, match="must not be empty"):
        save_reconstruction_grid([], tmp_path / "x")
    assert np.allclose(res[0].x_rec, res[0].x_true, atol=1e-5)
