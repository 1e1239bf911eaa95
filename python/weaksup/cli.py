"""The ``weaksup`` command: ``weaksup bench [crf|localize|all] [--quick] [--json PATH]``."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    from . import bench

    parser = argparse.ArgumentParser(prog="weaksup", description="weaksup: fast weakly supervised learning kernels")
    commands = parser.add_subparsers(dest="command", required=True)
    b = commands.add_parser("bench", help="run the built-in benchmark workloads against the installed peers")
    b.add_argument("section", nargs="?", default="all", choices=sorted(bench.SECTIONS) + ["all"])
    b.add_argument("--quick", action="store_true", help="smaller workloads and fewer repeats")
    b.add_argument("--json", default="weaksup-bench.json", help="where to write the results (JSON)")
    args = parser.parse_args(argv)
    if args.command == "bench":
        sections = sorted(bench.SECTIONS) if args.section == "all" else [args.section]
        bench.run(sections, quick=args.quick, json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
