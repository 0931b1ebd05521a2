"""``fltheory report``: the main job."""

from __future__ import annotations

_EPILOG = """\
examples:
  fltheory report                       # built-in default scenario, files in ./fltheory-report
  fltheory report --out results/ --json
  fltheory report --section privacy
"""


def register(sub, formatter_class) -> None:
    p = sub.add_parser("report", help="full report of the built-in default scenario",
                       description="Privacy, robustness and compression guarantees of the "
                                   "built-in default scenario, with figures (PDF + PNG) and "
                                   "report.json.",
                       formatter_class=formatter_class, epilog=_EPILOG)
    p.add_argument("--out", default="fltheory-report", help="output directory")
    p.add_argument("--section", action="append", default=None,
                   help="only this section (repeatable)")
    p.add_argument("--json", action="store_true", help="print report.json's content")
    p.set_defaults(func=_cmd)


def _cmd(args) -> int:
    from fltheory.cli import emit
    from fltheory.report import SECTIONS, build_report

    keys = [k for k, _ in SECTIONS]
    if args.section:
        bad = [s for s in args.section if s not in keys]
        if bad:
            raise ValueError(f"section must be one of {', '.join(keys)}, got {bad[0]!r}")
    res = build_report(args.out, sections=args.section)

    def render():
        for key, sec in res["sections"].items():
            print("=" * 78)
            print(f"{sec['title']}  ({sec['seconds']:.1f} s)")
            print("=" * 78)
            for line in sec["lines"]:
                print(line)
            print()
        print("files written:")
        for f in res["files"]:
            print(f"  {f}")

    emit({k: {"title": s["title"], "data": s["data"], "figures": s.get("figures", [])}
          for k, s in res["sections"].items()}, args.json, render)
    return 0
