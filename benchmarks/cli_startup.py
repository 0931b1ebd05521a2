"""Start-up time of the ``fltheory`` command against ``import dp_accounting``.

Each command runs in a fresh subprocess (``python -m fltheory.cli ...``, the code path of the
``fltheory`` script); the median wall time of ``--reps`` runs is reported with the ratio to
``python -c "import dp_accounting"`` (the floor a command that needs the accountant pays) and
the heavy modules each command imported.  ``epsilon`` is end to end (it needs dp_accounting).

Usage: ``python benchmarks/cli_startup.py [--reps 7] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

HEAVY = ("dp_accounting", "torch", "matplotlib", "sympy", "scipy.stats", "scipy.signal", "scipy")

COMMANDS = {
    "fltheory --help": ["--help"],
    "fltheory plot --list": ["plot", "--list"],
    "fltheory bound kappa --n 20 --f 4": ["bound", "kappa", "--n", "20", "--f", "4"],
    "fltheory bound kappa --latex": ["bound", "kappa", "--latex"],
    "fltheory bound kappa --json": ["bound", "kappa", "--json"],
    "fltheory bound min-batch-size --d 25e6": ["bound", "min-batch-size", "--d", "25e6"],
    "fltheory bound vn-threshold": ["bound", "vn-threshold"],
    "fltheory bound error-floor": ["bound", "error-floor"],
    "fltheory bound compressor --d 25e6 --k 250000": ["bound", "compressor", "--d", "25e6",
                                                     "--k", "250000"],
    "fltheory bound cost --d 25e6": ["bound", "cost", "--d", "25e6"],
    "fltheory bound list": ["bound", "list"],
    "fltheory tradeoff --d 1e6 --no-amplification": ["tradeoff", "--d", "1e6",
                                                     "--no-amplification"],
    "fltheory epsilon (end to end)": ["epsilon", "--sampling-rate", "0.01",
                                      "--noise-multiplier", "1.0", "--steps", "10000",
                                      "--delta", "1e-5"],
}

# runs the CLI, then reports which heavy modules it imported (on stderr, after the output)
_PROBE = ("import sys, json\n"
          "from fltheory.cli import main\n"
          "try:\n"
          "    main({argv!r})\n"
          "except SystemExit:\n"
          "    pass\n"
          "heavy = {heavy!r}\n"
          "sys.stderr.write('\\nHEAVY=' + json.dumps([m for m in heavy if m in sys.modules]))\n")


def time_cmd(code: str, reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def heavy_imports(argv: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE.format(argv=argv, heavy=HEAVY)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stderr.rsplit("HEAVY=", 1)[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--json", default=None, help="also write the numbers here")
    a = ap.parse_args()
    base = {"python -c pass": time_cmd("pass", a.reps),
            "python -c 'import dp_accounting'": time_cmd("import dp_accounting", a.reps)}
    ref = base["python -c 'import dp_accounting'"]
    rows = []
    for label, t in base.items():
        rows.append((label, t, t / ref, "-"))
    for label, argv in COMMANDS.items():
        code = f"import sys; from fltheory.cli import main; sys.exit(main({argv!r}))"
        t = time_cmd(code, a.reps)
        rows.append((label, t, t / ref, ", ".join(heavy_imports(argv)) or "none"))
    print(f"median of {a.reps} runs, each a fresh process ({sys.executable})")
    print(f"{'command':48s} {'seconds':>8s} {'/ import dp_accounting':>23s}  heavy modules imported")
    for label, t, r, heavy in rows:
        print(f"{label:48s} {t:8.3f} {r:23.2f}  {heavy}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump([{"command": c, "seconds": t, "ratio": r, "heavy": h}
                       for c, t, r, h in rows], fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
