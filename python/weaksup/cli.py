"""The ``weaksup`` command (also ``python -m weaksup``).

- ``weaksup bench [crf|labelmodel|localize|all] [--quick | --full] [--json PATH] [--plot FILE]``:
  the built-in benchmark workloads against every installed peer;
- ``weaksup plot RESULTS.json FILE``: the speedup plot of an earlier bench run;
- ``weaksup demo [--out DIR]``: the CAM -> box -> dense CRF pipeline and a label model on
  real photos, drawn into a folder;
- ``weaksup --version``.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import List, Optional

import weaksup


def _bench_epilog() -> str:
    from . import bench

    lines = ["sections, and their time on a 2-core machine with every peer installed", "(--quick / default / --full):"]
    for name in sorted(bench.SECTIONS):
        d = bench.DURATIONS[name]
        lines += textwrap.wrap(f"{name:<11} {bench.SECTIONS[name].DESCRIPTION}", 79, initial_indent="  ",
                               subsequent_indent=" " * 14)
        lines.append(" " * 14 + f"{d['quick']} / {d['default']} / {d['full']}")
    lines += [""] + textwrap.wrap(bench.SIZES_TEXT, 79)
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    from . import bench

    p = argparse.ArgumentParser(prog="weaksup", description="weaksup: fast kernels for weakly supervised learning")
    p.add_argument("--version", action="version", version=f"weaksup {weaksup.__version__}")
    commands = p.add_subparsers(dest="command", required=True, metavar="{bench,plot,demo}")

    b = commands.add_parser("bench", help="run the built-in benchmark workloads against the installed peers",
                            description="Run the built-in workloads against every installed peer, printing each "
                                        "row as it is measured; results go to a new JSON file per run.",
                            epilog=_bench_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("section", nargs="?", default="all", choices=sorted(bench.SECTIONS) + ["all"],
                   help="which workloads (default: all)")
    size = b.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="smaller workloads and fewer repeats (a smoke test)")
    size.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="add the large workloads (about 3.5 minutes and 8.6 GB of memory)")
    b.add_argument("--json", metavar="PATH", default=None,
                   help="where to write the results (default: a new file per run, weaksup-bench-DATE-TIME.json in "
                        "this folder)")
    b.add_argument("--plot", metavar="FILE", default=None,
                   help="also draw the speedups into FILE (.png or .svg; needs matplotlib: pip install "
                        "'weaksup[plot]')")

    pl = commands.add_parser("plot", help="draw the speedups of an earlier bench run",
                             description="Draw the speedups recorded in a weaksup bench results file.")
    pl.add_argument("results", help="a weaksup-bench-*.json file")
    pl.add_argument("file", help="the picture to write (.png or .svg)")

    d = commands.add_parser("demo", help="draw CAM -> box -> dense CRF on real photos, and a label model",
                            description="Run the pipeline weaksup is for on scikit-image's photos and draw it: "
                                        "one figure per photo, a label-model panel and an index.html "
                                        "(needs matplotlib and scikit-image: pip install 'weaksup[plot]').")
    d.add_argument("--out", default="weaksup-demo", help="folder to write the pictures to (default: %(default)s)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "bench":
            from . import bench

            sections = sorted(bench.SECTIONS) if args.section == "all" else [args.section]
            bench.run(sections, mode=args.mode or "default", json_path=args.json, plot_path=args.plot)
        elif args.command == "plot":
            from .bench import _plot

            _plot.plot(args.results, args.file)
            print(f"speedup plot written to {args.file}")
        elif args.command == "demo":
            from . import demo

            paths = demo.run(args.out)
            print(f"demo written to {args.out}: " + ", ".join(p.name for p in paths))
    except (ImportError, ValueError, OSError) as e:  # a missing extra, a bad file name: say so, no traceback
        print(f"weaksup {args.command}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
