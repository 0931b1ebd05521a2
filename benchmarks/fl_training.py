"""FL training speed: per-sample clipping against Opacus, one DP round against a per-client loop.

Two measurements, each the median of ``reps`` (>= 5) repetitions after one warm-up, the sides
called alternately inside each repetition so that machine load hits them alike, in one process:

1. **Per-sample clipped gradient sums**, batch 256, MNIST-shaped inputs, a ~100k-parameter MLP
   (784-128-10, 101,770 parameters) and CNN (``fltheory.fl.models.cnn((1, 28, 28), 10)``,
   105,866 parameters): ``fltheory.fl.models.clipped_grad_sum`` (one forward and one backward
   pass, per-example norms from the "ghost norm" identity) against

   * Opacus 1.6 hook mode (``GradSampleModule`` + ``DPOptimizer.clip_and_accumulate``:
     per-sample gradients materialised, then clipped and summed),
   * Opacus 1.6 ghost clipping (``GradSampleModuleFastGradientClipping(use_ghost_clipping=True)``
     + ``DPLossFastGradientClipping``: norms without per-sample gradients, then a second
     backward pass with the clipping coefficients), its fastest mode,
   * ``torch.func.vmap(grad)`` (what the pure-PyTorch user writes).

   All four compute the same clipped sum (no noise); the table shows the largest difference.
   If Opacus cannot be imported the Opacus rows say why (``pip install opacus==1.6.0
   --no-deps`` works on the CPU build of torch: Opacus needs only torch, numpy, scipy and
   opt_einsum, and only its import of ``opt_einsum`` is optional).

2. **One record-level DP round**, 100 clients x 32 records, logistic regression (784 -> 10) and
   the MLP above: every client runs ``local_steps`` DP-SGD steps (Poisson batches at rate ``q``,
   per-example clipping to 1, Gaussian noise z = 1 on each step's sum, divided by the expected
   batch size) from the global model, and the server averages the updates; ``(local_steps, q)``
   in ``ROUND_SETTINGS`` = (1, 0.5) and (4, 0.25).  Both sides draw the same amount of Gaussian
   noise (``local_steps x 100 x d`` numbers per round, about 0.15-0.25 s for the MLP on this
   machine), a floor that no vectorisation removes.

   * fltheory: one round of the engine behind :func:`fltheory.fl.simulate` (all clients at once:
     batched per-client weights, Poisson batches packed into one tensor);
   * baseline: the straightforward loop a user would write -- for each client, for each local
     step, draw the Poisson batch, ``vmap(grad)`` per-example gradients of the
     ``functional_call`` of the ``nn.Module``, clip, sum, add noise, step; then average;
   * also shown: the same loop calling fltheory's single-client ``clipped_grad_sum``, which
     separates the gain of the clipping kernel from the gain of vectorising over clients.

Usage::

    python benchmarks/fl_training.py [--reps 5] [--threads N] [--json FILE] [--skip-opacus]

``run()`` returns the results as a dict; ``main()`` prints a table and writes them to
``benchmarks/results/fl_training.json`` (atomically).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fltheory._io import write_json_atomic  # noqa: E402
from fltheory.config import ExperimentConfig  # noqa: E402
from fltheory.fl import data, models  # noqa: E402
from fltheory.fl.simulate import _Engine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "fl_training.json"

BATCH = 256
CLIP = 1.0
CLIENTS, RECORDS, NOISE, LR = 100, 32, 1.0, 0.1
#: (local steps, Poisson batch rate) of the DP round: one DP-SGD step on about half of the
#: client's records, and four steps that visit about all of them once.
ROUND_SETTINGS = ((1, 0.5), (4, 0.25))


def _median_pair(fns: dict[str, Callable[[], Any]], reps: int) -> tuple[dict, dict]:
    outs = {k: f() for k, f in fns.items()}  # warm-up (and the values compared)
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}, outs


# --------------------------------------------------------------------------------------------------
# 1. Per-sample clipping
# --------------------------------------------------------------------------------------------------
def _vmap_clipped_sum(model: models.FunctionalModel, params: torch.Tensor, x, y):
    g = models.FunctionalModel.per_sample_grads(model, params, x, y)
    return torch.clamp(CLIP / g.norm(dim=1), max=1.0) @ g


def _opacus_fns(model: models.FunctionalModel, params: torch.Tensor, x, y) -> dict:
    from opacus import GradSampleModule
    from opacus.grad_sample import GradSampleModuleFastGradientClipping
    from opacus.optimizers import DPOptimizer, DPOptimizerFastGradientClipping
    from opacus.utils.fast_gradient_clipping_utils import DPLossFastGradientClipping

    def fresh_module():
        import copy

        mod = copy.deepcopy(model.module)
        torch.nn.utils.vector_to_parameters(params.clone(), mod.parameters())
        return mod

    hook_mod = GradSampleModule(fresh_module(), loss_reduction="sum")
    hook_opt = DPOptimizer(torch.optim.SGD(hook_mod.parameters(), lr=0.0), noise_multiplier=0.0,
                           max_grad_norm=CLIP, expected_batch_size=BATCH, loss_reduction="sum")

    def hooks():
        hook_opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(hook_mod(x), y, reduction="sum")
        loss.backward()
        hook_opt.clip_and_accumulate()
        return torch.cat([p.summed_grad.reshape(-1) for p in hook_mod.parameters()])

    ghost_mod = GradSampleModuleFastGradientClipping(fresh_module(), max_grad_norm=CLIP,
                                                     use_ghost_clipping=True,
                                                     loss_reduction="sum")
    ghost_opt = DPOptimizerFastGradientClipping(
        torch.optim.SGD(ghost_mod.parameters(), lr=0.0), noise_multiplier=0.0,
        max_grad_norm=CLIP, expected_batch_size=BATCH, loss_reduction="sum")
    crit = DPLossFastGradientClipping(ghost_mod, ghost_opt,
                                      torch.nn.CrossEntropyLoss(reduction="sum"), "sum")

    def ghost():
        ghost_opt.zero_grad(set_to_none=True)
        loss = crit(ghost_mod(x), y)
        loss.backward()
        return torch.cat([p.grad.reshape(-1) for p in ghost_mod.parameters()])

    return {"opacus_hooks": hooks, "opacus_ghost": ghost}


def per_sample_clipping(reps: int, use_opacus: bool = True) -> list[dict]:
    g = torch.Generator().manual_seed(0)
    rows = []
    for name in ("mlp", "cnn"):
        if name == "mlp":
            model = models.mlp(784, 10, hidden=(128,))
            x = torch.rand(BATCH, 784, generator=g)
        else:
            model = models.cnn((1, 28, 28), 10)
            x = torch.rand(BATCH, 1, 28, 28, generator=g)
        y = torch.randint(0, 10, (BATCH,), generator=g)
        params = model.init(seed=0)
        fns: dict[str, Callable] = {
            "fltheory": lambda: models.clipped_grad_sum(model, params, x, y, CLIP, 0.0),
            "vmap_grad": lambda: _vmap_clipped_sum(model, params, x, y)}
        opacus_error = None
        if use_opacus:
            try:
                fns.update(_opacus_fns(model, params, x, y))
            except Exception as exc:  # noqa: BLE001 - report why Opacus could not run
                opacus_error = f"{type(exc).__name__}: {exc}"
        times, outs = _median_pair(fns, reps)
        ref = outs["fltheory"]
        row = {"model": name, "num_params": model.num_params, "batch": BATCH,
               "seconds": times,
               "max_abs_diff": {k: float((v.double() - ref.double()).abs().max())
                                for k, v in outs.items() if k != "fltheory"},
               "ratio_vs_fltheory": {k: t / times["fltheory"] for k, t in times.items()
                                     if k != "fltheory"}}
        if opacus_error:
            row["opacus_error"] = opacus_error
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------
# 2. One DP round, 100 clients x 32 records
# --------------------------------------------------------------------------------------------------
def _round_setup(name: str, local_steps: int, batch_rate: float):
    g = torch.Generator().manual_seed(1)
    n, m = CLIENTS, RECORDS
    xs = [torch.rand(m, 784, generator=g) for _ in range(n)]
    ys = [torch.randint(0, 10, (m,), generator=g) for _ in range(n)]
    ds = data.FederatedDataset(xs, ys, torch.rand(10, 784, generator=g),
                               torch.randint(0, 10, (10,), generator=g), num_classes=10,
                               name="random-mnist-shaped")
    cfg = ExperimentConfig.from_dict({
        "data": {"name": "npz", "path": "unused", "num_clients": n},
        "model": {"name": "logreg" if name == "logreg" else "mlp", "hidden": 128},
        "training": {"rounds": 1000, "local_steps": local_steps, "lr": LR,
                     "batch_sampling": "poisson"},
        "privacy": {"level": "record", "batch_rate": batch_rate, "noise_multiplier": NOISE,
                    "clip": CLIP},
        "run": {"progress": False}})
    engine = _Engine(cfg, ds)
    return engine, ds


def _loop_round(model, ds, params, gen, kernel: str, local_steps: int, batch_rate: float):
    """The per-client loop: Poisson batch, per-example grads, clip, sum, noise, step."""
    module = model.module
    d = model.num_params

    def loss_one(p, xb, yb):
        out = functional_call(module, model.unflatten(p), (xb.unsqueeze(0),))
        return F.cross_entropy(out, yb.unsqueeze(0))

    ps_grad = vmap(grad(loss_one), in_dims=(None, 0, 0))
    updates = []
    for k in range(ds.num_clients):
        x, y = ds.x[k], ds.y[k]
        p = params.clone()
        for _ in range(local_steps):
            keep = torch.rand(x.shape[0], generator=gen) < batch_rate
            xb, yb = x[keep], y[keep]
            if kernel == "fltheory":
                s = models.clipped_grad_sum(model, p, xb, yb, CLIP, 0.0)
            elif xb.shape[0]:
                gs = ps_grad(p, xb, yb)
                s = (gs * torch.clamp(CLIP / gs.norm(dim=1), max=1.0).unsqueeze(1)).sum(0)
            else:
                s = torch.zeros(d)
            s = s + NOISE * CLIP * torch.randn(d, generator=gen)
            p = p - LR * s / (batch_rate * x.shape[0])
        updates.append(p - params)
    return params + torch.stack(updates).mean(0)


def dp_round(reps: int) -> list[dict]:
    rows = []
    for local_steps, batch_rate in ROUND_SETTINGS:
        for name in ("logreg", "mlp"):
            engine, ds = _round_setup(name, local_steps, batch_rate)
            model = engine.model
            params = model.init(seed=0)
            counter = {"t": 0}
            gen = torch.Generator().manual_seed(2)

            def ours():
                counter["t"] += 1
                with torch.no_grad():
                    return engine.round(counter["t"], params, None)[0]

            fns = {"fltheory": ours,
                   "loop_vmap_grad": lambda: _loop_round(model, ds, params, gen, "vmap",
                                                         local_steps, batch_rate),
                   "loop_fltheory_kernel": lambda: _loop_round(model, ds, params, gen,
                                                               "fltheory", local_steps,
                                                               batch_rate)}
            times, outs = _median_pair(fns, reps)
            # same mechanism: the updates have the same size (different random draws)
            norms = {k: float((v - params).norm()) for k, v in outs.items()}
            g = torch.Generator().manual_seed(3)
            t0 = time.perf_counter()
            for _ in range(local_steps):
                torch.randn((CLIENTS, model.num_params), generator=g)
            noise_s = time.perf_counter() - t0
            rows.append({"model": name, "num_params": model.num_params, "clients": CLIENTS,
                         "records": RECORDS, "local_steps": local_steps,
                         "batch_rate": batch_rate, "seconds": times, "noise_only_s": noise_s,
                         "update_norms": norms,
                         "speedup_vs_loop": times["loop_vmap_grad"] / times["fltheory"],
                         "speedup_vs_loop_fltheory_kernel":
                             times["loop_fltheory_kernel"] / times["fltheory"]})
    return rows


# --------------------------------------------------------------------------------------------------
def run(reps: int = 5, use_opacus: bool = True, verbose: bool = True) -> dict:
    """Both measurements; returns ``{"config", "per_sample_clipping", "dp_round"}``."""
    if reps < 5:
        raise ValueError(f"reps must be >= 5, got {reps}")
    opacus_version = None
    if use_opacus:
        try:
            import opacus

            opacus_version = opacus.__version__
        except Exception as exc:  # noqa: BLE001
            opacus_version = f"not importable: {type(exc).__name__}: {exc}"
    clip = per_sample_clipping(reps, use_opacus)
    if verbose:
        print(_table_clip(clip), flush=True)
    rnd = dp_round(reps)
    if verbose:
        print(_table_round(rnd), flush=True)
    return {"config": {"reps": reps, "torch": torch.__version__, "opacus": opacus_version,
                       "threads": torch.get_num_threads(), "machine": platform.machine(),
                       "cpus": os.cpu_count(), "dtype": "float32", "device": "cpu"},
            "per_sample_clipping": clip, "dp_round": rnd}


def _table_clip(rows: list[dict]) -> str:
    lines = [f"per-sample clipped gradient sum, batch {BATCH} (median seconds; ratio = other / "
             "fltheory, > 1 means fltheory is faster)"]
    for r in rows:
        lines.append(f"  {r['model']} ({r['num_params']} params): fltheory "
                     f"{r['seconds']['fltheory']:.4f}s")
        for k, ratio in r["ratio_vs_fltheory"].items():
            lines.append(f"    {k:14s} {r['seconds'][k]:.4f}s  ratio {ratio:.2f}  "
                         f"max|diff| {r['max_abs_diff'][k]:.1e}")
        if "opacus_error" in r:
            lines.append(f"    opacus: {r['opacus_error']}")
    return "\n".join(lines)


def _table_round(rows: list[dict]) -> str:
    lines = [f"one record-level DP round, {CLIENTS} clients x {RECORDS} records (median "
             "seconds; speed-up = loop / fltheory)"]
    for r in rows:
        s = r["seconds"]
        lines.append(f"  {r['model']:6s} ({r['num_params']:>6d} params), {r['local_steps']} "
                     f"step(s) at q={r['batch_rate']}: fltheory {s['fltheory']:.4f}s, "
                     f"loop vmap(grad) {s['loop_vmap_grad']:.4f}s "
                     f"(x{r['speedup_vs_loop']:.1f}), loop + fltheory kernel "
                     f"{s['loop_fltheory_kernel']:.4f}s "
                     f"(x{r['speedup_vs_loop_fltheory_kernel']:.1f}); noise alone "
                     f"{r['noise_only_s']:.4f}s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads for every side (default: torch's default)")
    parser.add_argument("--skip-opacus", action="store_true")
    parser.add_argument("--json", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    res = run(args.reps, not args.skip_opacus)
    if args.json:
        print(f"results written to {write_json_atomic(args.json, res)}")
    return res


if __name__ == "__main__":
    main()
