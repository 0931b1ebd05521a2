"""Benchmark: time of one certified ε per amplification builder at a realistic FL setting.

Every builder of issue 3 is accounted once per repetition, from a freshly built event (no cache
carries over between repetitions), at 1,000 rounds unless stated, δ = 1e-5 (1e-6 for the local
mechanisms); the median of ``repeats`` runs is reported together with the certified interval.

Run ``python benchmarks/amplification.py [--repeats N]``, or call :func:`run` (returns a dict).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any, Callable, Dict

ROUNDS = 1000


def _cases() -> Dict[str, tuple[Callable[[], object], dict]]:
    import dp_accounting
    from scipy import stats

    from fltheory import accounting as A

    def comp(ev, k=ROUNDS):
        return dp_accounting.SelfComposedDpEvent(ev, k)

    ro = {"neighboring": "replace_one", "delta": 1e-6}
    ar = {"delta": 1e-5}
    return {
        "dp_fedavg (q_c=0.01, z=1)": (lambda: A.dp_fedavg(0.01, 1.0, ROUNDS), ar),
        "local_dp_sgd (q_c=0.05, q_l=0.1, z=1, K=5)":
            (lambda: A.local_dp_sgd(0.05, 0.1, 1.0, 5, ROUNDS), ar),
        "shuffled (eps0=2, n=1e4)": (lambda: A.shuffled(2.0, 10_000, ROUNDS), ro),
        "coordinate_sampled_gaussian (gamma=0.05, z=1; RDP)":
            (lambda: A.coordinate_sampled_gaussian(0.05, 1.0, ROUNDS, mask_unit="record"), ar),
        "stochastic_quantizer (c=1, B=30)": (lambda: comp(A.stochastic_quantizer(1.0, 30.0)),
                                             ro),
        "sign_gaussian (c=1, sigma=10)": (lambda: comp(A.sign_gaussian(1.0, 10.0)), ro),
        "randomized_response (k=4, eps0=0.1)":
            (lambda: comp(A.randomized_response(4, 0.1)), ro),
        "binomial (N=2^16, p=1/2)": (lambda: comp(A.binomial(1 << 16, 0.5)), ar),
        "skellam (mu=1e4; RDP)": (lambda: comp(A.skellam(1e4, 1.0, 1.0)), ar),
        "distributed_discrete_gaussian (sigma=30, n=100, d=1000; RDP)":
            (lambda: comp(A.distributed_discrete_gaussian(30.0, 100, 100.0, 1000)), ar),
        "discrete_gaussian (sigma=20)": (lambda: comp(A.discrete_gaussian(20.0, 1)), ar),
        "mixup (q=0.01, z=1, Beta(0.4, 0.4), revealed)":
            (lambda: A.mixup(0.01, 1.0, ROUNDS, stats.beta(0.4, 0.4)), ar),
        "mixup (q=0.01, z=1, 4 weights, revealed)":
            (lambda: A.mixup(0.01, 1.0, ROUNDS, [0.25, 0.5, 0.75, 1.0]), ar),
    }


def run(repeats: int = 5) -> Dict[str, Any]:
    """Time one ε per builder; return medians (seconds) and the certified intervals.

    Parameters
    ----------
    repeats : int
        Repetitions per builder (median reported), at least 1.

    Returns
    -------
    dict
        ``{"benchmark", "rounds", "repeats", "results": {name: {"median_s", "times",
        "epsilon", "epsilon_lower", "method", "delta", "neighboring"}}, "max_median_s"}``;
        also ``per_client_epsilon`` for three device classes.
    """
    from fltheory.accounting import dp_fedavg, epsilon, per_client_epsilon

    repeats = max(1, int(repeats))
    epsilon(dp_fedavg(0.01, 1.0, 10), 1e-5)          # warm-up: imports
    results = {}
    for name, (build, kw) in _cases().items():
        kw = dict(kw)
        d = kw.pop("delta")
        times, g = [], None
        for _ in range(repeats):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                g = epsilon(build(), d, **kw)
                times.append(time.perf_counter() - t0)
        results[name] = {"median_s": statistics.median(times), "times": times,
                         "epsilon": g.epsilon, "epsilon_lower": g.epsilon_lower,
                         "method": g.method, "delta": d, "neighboring": g.neighboring}
    classes = {"phones": dp_fedavg(0.001, 1.0, ROUNDS), "laptops": dp_fedavg(0.01, 1.0, ROUNDS),
               "hospitals": dp_fedavg(0.1, 2.0, ROUNDS)}
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pc = per_client_epsilon(classes, 1e-5)
        times.append(time.perf_counter() - t0)
    results["per_client_epsilon (3 device classes)"] = {
        "median_s": statistics.median(times), "times": times,
        "epsilon": {k: v.epsilon for k, v in pc.items()}, "epsilon_lower": None,
        "method": "pld", "delta": 1e-5, "neighboring": "add_remove"}
    return {"benchmark": "amplification", "rounds": ROUNDS, "repeats": repeats,
            "results": results,
            "max_median_s": max(r["median_s"] for r in results.values())}


def main(argv=None) -> Dict[str, Any]:
    """Command-line entry point: run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="repetitions per builder")
    args = parser.parse_args(argv)
    res = run(args.repeats)
    print(f"one epsilon per builder, {res['rounds']} rounds, median of {res['repeats']} runs")
    for name, r in res["results"].items():
        eps = r["epsilon"]
        if isinstance(eps, dict):
            val = ", ".join(f"{k} {v:.3g}" for k, v in eps.items())
        elif r["epsilon_lower"] is None:
            val = f"eps <= {eps:.4g} ({r['method']})"
        else:
            val = f"eps in [{r['epsilon_lower']:.4g}, {eps:.4g}] ({r['method']})"
        print(f"  {name:62s} {r['median_s'] * 1e3:8.1f} ms   {val}")
    print(f"  slowest: {res['max_median_s']:.2f} s")
    return res


if __name__ == "__main__":
    main()
