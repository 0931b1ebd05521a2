"""Canary audits: batched multi-run audit vs the straightforward per-run loop, and the audit sweep.

1. **Speed.**  A multi-run audit needs thousands of runs of the mechanism.  fltheory runs all of
   them at once on the canary's coordinates (one batched ``clipped_grad_sums`` call per step,
   :mod:`fltheory.audit.canary`); the implementation a user would write loops over runs and
   steps, calling ``clipped_grad_sum`` once per step of each run.  Both produce the same
   statistic (the canary coordinate of each release); the table reports the median wall time of
   ``reps`` repetitions and the ratio.
2. **Sweep** (the data of the "audited epsilon vs theory" figure): for full-batch DP-SGD
   (q = 1, T = 4) and z in a grid, the GDP audit's epsilon lower bound and mu_hat next to the
   accountant's epsilon and sqrt(T)/z, and the same with half the noise.

Usage::

    python benchmarks/audit.py [--runs 1000] [--steps 16] [--reps 3] [--json FILE]

``run()`` returns the results as a dict; ``main()`` also writes them to
``benchmarks/results/audit.json`` (atomically).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402

from fltheory._io import write_json_atomic  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import median_time  # noqa: E402  (shared benchmark helper)
from fltheory.audit import canary  # noqa: E402
from fltheory.fl import models  # noqa: E402


def _loop_audit_scores(runs: int, steps: int, z: float, seed: int = 0) -> torch.Tensor:
    """The straightforward multi-run implementation: one ``clipped_grad_sum`` per step per run."""
    gen = torch.Generator().manual_seed(seed)
    model = models.linear_regression(1)
    params = torch.zeros(2)
    inc = torch.rand(runs, generator=gen) < 0.5
    canary_x, canary_y = torch.tensor([[1e3]]), torch.tensor([-1.0])
    empty_x, empty_y = torch.zeros(0, 1), torch.zeros(0)
    out = torch.zeros(runs)
    for r in range(runs):
        x, y = (canary_x, canary_y) if inc[r] else (empty_x, empty_y)
        for _ in range(steps):
            out[r] += models.clipped_grad_sum(model, params, x, y, 1.0, z, gen)[0]
    return out


def run(runs: int = 1000, steps: int = 16, reps: int = 3) -> dict:
    z = math.sqrt(steps)  # mu = 1
    t_batched = median_time(lambda: canary.gradient_canary_audit(1.0, z, steps, canaries=runs,
                                                           method="gdp", seed=0), reps)[0]
    t_loop = median_time(lambda: _loop_audit_scores(runs, steps, z), reps)[0]
    speed = {"runs": runs, "steps": steps, "batched_s": t_batched, "loop_s": t_loop,
             "ratio": t_loop / t_batched}
    sweep = []
    for zz in (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0):
        row = {"z": zz, "mu_theory": 2.0 / zz}
        for scale in (1.0, 0.5):
            r = canary.gradient_canary_audit(1.0, zz, 4, canaries=2000, method="gdp", seed=0,
                                             noise_scale=scale)
            key = "correct" if scale == 1.0 else "half_noise"
            row[key] = {"epsilon_lower": r.epsilon_lower, "epsilon_theory": r.epsilon_theory,
                        "mu_hat": r.mu_hat, "mu_hat_se": r.mu_hat_se, "mu_lower": r.mu_lower,
                        "consistent": r.consistent}
        sweep.append(row)
    return {"speed": speed, "sweep": sweep, "torch_threads": torch.get_num_threads()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "results",
                                                   "audit.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    res = run(args.runs, args.steps, args.reps)
    s = res["speed"]
    print(f"multi-run audit, {s['runs']} runs x {s['steps']} steps: batched {s['batched_s']:.3f} s,"
          f" per-run loop {s['loop_s']:.3f} s, ratio {s['ratio']:.0f}x")
    print(f"{'z':>5} {'mu':>6} {'eps_LB':>8} {'eps':>8} {'mu_hat':>7} | half noise: "
          f"{'eps_LB':>8} {'mu_hat':>7} flagged")
    for row in res["sweep"]:
        c, h = row["correct"], row["half_noise"]
        print(f"{row['z']:5.1f} {row['mu_theory']:6.3f} {c['epsilon_lower']:8.3f} "
              f"{c['epsilon_theory']:8.3f} {c['mu_hat']:7.3f} | {h['epsilon_lower']:19.3f} "
              f"{h['mu_hat']:7.3f} {not h['consistent']}")
    print(f"results written to {write_json_atomic(args.json, res)}")
    return res


if __name__ == "__main__":
    main()
