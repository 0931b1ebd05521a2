"""Benchmark: epsilon on a 10 x 10 grid of DP-SGD configurations, fltheory's RDP engine vs dp-accounting.

Grid: sampling rate q in geomspace(1e-3, 0.1, 10) x noise multiplier z in linspace(0.6, 3, 10),
T = 1000 steps, delta = 1e-5, add/remove neighbours, dp-accounting's default RDP orders.

* fltheory: one vectorised call ``rdp_poisson_gaussian(q, z)`` for the whole grid, times T, then
  ``rdp_to_epsilon`` (vectorised over the grid).
* dp-accounting: what a user writes without fltheory, a Python loop over the 100 configurations,
  each composing ``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(z)), T)`` into a
  fresh ``RdpAccountant`` and calling ``get_epsilon``.

Both run in this one process, alternating, ``repeats`` times each; the medians are reported, with
the speed ratio and the largest relative difference of the 100 epsilon values.

Run ``python benchmarks/rdp_grid.py [--repeats N]``, or call :func:`run` (returns a dict).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from typing import Any, Dict

import numpy as np

Q_GRID = np.geomspace(1e-3, 0.1, 10)
Z_GRID = np.linspace(0.6, 3.0, 10)
STEPS = 1000
DELTA = 1e-5


def _fltheory_epsilons(q: np.ndarray, z: np.ndarray) -> np.ndarray:
    from fltheory.accounting._rdp import DEFAULT_ORDERS, rdp_poisson_gaussian, rdp_to_epsilon

    rdp = STEPS * rdp_poisson_gaussian(q, z, DEFAULT_ORDERS)
    eps, _ = rdp_to_epsilon(DEFAULT_ORDERS, rdp, DELTA)
    return eps


def _dp_accounting_epsilons(q: np.ndarray, z: np.ndarray) -> np.ndarray:
    import dp_accounting
    from dp_accounting.rdp import RdpAccountant

    out = np.empty(q.shape)
    for idx in np.ndindex(q.shape):
        event = dp_accounting.SelfComposedDpEvent(
            dp_accounting.PoissonSampledDpEvent(
                float(q[idx]), dp_accounting.GaussianDpEvent(float(z[idx]))
            ),
            STEPS,
        )
        accountant = RdpAccountant()
        accountant.compose(event)
        out[idx] = accountant.get_epsilon(DELTA)
    return out


def _timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def run(repeats: int = 5) -> Dict[str, Any]:
    """Time both engines on the grid; return timings (seconds), ratio and agreement.

    Parameters
    ----------
    repeats : int
        Repetitions of each engine (the median is reported); at least 1.

    Returns
    -------
    dict
        ``fltheory_s``, ``dp_accounting_s`` (medians), ``speedup``, ``max_rel_diff``
        (largest relative difference of the 100 epsilons), ``identical`` (bitwise equal),
        ``configurations``, ``repeats``, ``epsilon_range`` and the raw ``*_times``.
    """
    repeats = max(1, int(repeats))
    logging.getLogger("absl").setLevel(logging.ERROR)
    q, z = np.meshgrid(Q_GRID, Z_GRID, indexing="ij")
    _fltheory_epsilons(q[:1, :1], z[:1, :1])  # warm-up: imports, first-call costs
    _dp_accounting_epsilons(q[:1, :1], z[:1, :1])
    # the two engines alternate, so that a change of load on a shared machine hits both alike
    times_fl, times_dp = [], []
    for _ in range(repeats):
        t, eps_fl = _timed(_fltheory_epsilons, q, z)
        times_fl.append(t)
        t, eps_dp = _timed(_dp_accounting_epsilons, q, z)
        times_dp.append(t)
    t_fl, t_dp = statistics.median(times_fl), statistics.median(times_dp)
    rel = np.abs(eps_fl - eps_dp) / np.abs(eps_dp)
    return {
        "benchmark": "rdp_grid",
        "configurations": int(q.size),
        "steps": STEPS,
        "delta": DELTA,
        "repeats": repeats,
        "fltheory_s": t_fl,
        "dp_accounting_s": t_dp,
        "speedup": t_dp / t_fl,
        "max_rel_diff": float(rel.max()),
        "identical": bool(np.array_equal(eps_fl, eps_dp)),
        "epsilon_range": [float(eps_dp.min()), float(eps_dp.max())],
        "fltheory_times": times_fl,
        "dp_accounting_times": times_dp,
    }


def main(argv=None) -> Dict[str, Any]:
    """Command-line entry point: run the benchmark and print a short report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repetitions per engine (median)")
    args = parser.parse_args(argv)
    res = run(args.repeats)
    print(f"epsilon on {res['configurations']} configurations (T={res['steps']}, "
          f"delta={res['delta']:g}), median of {res['repeats']} runs")
    print(f"  fltheory (vectorised RDP):        {res['fltheory_s'] * 1e3:9.1f} ms")
    print(f"  dp-accounting RdpAccountant loop: {res['dp_accounting_s'] * 1e3:9.1f} ms")
    print(f"  speed-up: {res['speedup']:.1f}x")
    print(f"  max relative difference of epsilon: {res['max_rel_diff']:.2e} "
          f"(bitwise identical: {res['identical']})")
    return res


if __name__ == "__main__":
    main()
