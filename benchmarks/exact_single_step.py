"""One ε of a single DP-SGD step (T = 1) and of plain Gaussians: fltheory's closed forms vs
dp-accounting's PLD accountant.

fltheory answers these configurations with the exact closed form of the optimal half-line test
(``fltheory.accounting._exact``), one configuration through the total-variation shortcut.
Each timing is the median of ``--repeats`` calls in one process (dp-accounting: as many as fit
in about 10 s, at least 3); fltheory's pair cache is cleared before every call.
dp-accounting 0.6.0: ``PLDAccountant(relation, value_discretization_interval=1e-4)``,
``PoissonSampledDpEvent(q, GaussianDpEvent(z))`` (the ``GaussianDpEvent`` alone at q = 1,
``SelfComposedDpEvent`` for T > 1), ``get_epsilon``.

To compare two versions of fltheory, run the script once per version with ``PYTHONPATH``
pointing at each (e.g. an older tree from ``git archive <rev> fltheory | tar -x -C DIR``)::

    python benchmarks/exact_single_step.py --repeats 20 \\
        --out benchmarks/results/exact_single_step.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import dp_accounting

import fltheory
from fltheory.accounting import _steps, dp_sgd, epsilon

# (q, z, T, delta, relation)
CONFIGS = [
    (4e-5, 19.7, 1, 1e-8, "add_remove"),       # the worst ratio of the issue-17 grid
    (1e-8, 100.0, 1, 1e-15, "add_remove"),
    (1e-6, 19.7, 1, 1e-8, "add_remove"),
    (0.01, 1.0, 1, 1e-5, "add_remove"),
    (0.5, 0.5, 1, 1e-3, "replace_one"),
    (0.99, 0.1, 1, 1e-15, "add_remove"),
    (1e-3, 3.0, 1, 1e-10, "replace_one"),
    (1.0, 1.0, 1, 1e-5, "add_remove"),         # Gaussian closed form
    (1.641e-5, 17.075, 118, 9.13e-5, "replace_one"),   # epsilon = 0 by total variation
]


def _time(fn, repeats: int, before=None):
    ts, out = [], None
    for _ in range(repeats):
        if before is not None:
            before()
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def _dp_accounting(q, z, t, d, rel):
    nr = (dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE if rel == "add_remove"
          else dp_accounting.NeighboringRelation.REPLACE_ONE)
    acc = dp_accounting.pld.PLDAccountant(nr, value_discretization_interval=1e-4)
    ev = dp_accounting.GaussianDpEvent(z)
    if q < 1.0:
        ev = dp_accounting.PoissonSampledDpEvent(q, ev)
    if t > 1:
        ev = dp_accounting.SelfComposedDpEvent(ev, t)
    acc.compose(ev)
    return acc.get_epsilon(d)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--no-reference", action="store_true", help="skip dp-accounting")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    rows = []
    print(f"fltheory from {fltheory.__file__}")
    print(f"{'q':>9} {'z':>7} {'T':>4} {'delta':>8} {'relation':>11} {'fltheory ms':>12} "
          f"{'dp-acc ms':>10}  certified interval / dp-accounting")
    for q, z, t, d, rel in CONFIGS:
        ev = dp_sgd(q, z, t)
        ft, g = _time(lambda: epsilon(ev, d, neighboring=rel), a.repeats,
                      before=_steps._PAIR_CACHE.clear)  # noqa: SLF001
        row = dict(q=q, z=z, steps=t, delta=d, relation=rel, fltheory_ms=ft * 1e3,
                   epsilon_lower=g.epsilon_lower, epsilon=g.epsilon, method=g.upper_method)
        ref = ""
        if not a.no_reference:
            # dp-accounting: as many repeats as fit in ~10 s (at least 3, at most --repeats)
            t0 = time.perf_counter()
            _dp_accounting(q, z, t, d, rel)
            n = min(a.repeats, max(3, int(10.0 / max(time.perf_counter() - t0, 1e-6))))
            dt, e_ref = _time(lambda: _dp_accounting(q, z, t, d, rel), n)
            row.update(dp_accounting_ms=dt * 1e3, dp_accounting_epsilon=e_ref,
                       dp_accounting_repeats=n)
            ref = f"{dt * 1e3:10.3f}  [{g.epsilon_lower:.10g}, {g.epsilon:.10g}] / {e_ref:.6g}"
        else:
            ref = f"{'-':>10}  [{g.epsilon_lower:.10g}, {g.epsilon:.10g}]"
        print(f"{q:9.3g} {z:7.4g} {t:4d} {d:8.2g} {rel:>11} {ft * 1e3:12.3f} {ref}", flush=True)
        rows.append(row)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({"python": sys.version, "fltheory": fltheory.__file__,
                                     "repeats": a.repeats, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
