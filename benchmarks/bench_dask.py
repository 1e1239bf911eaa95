"""Label models and CAM metrics on Dask: zarr stores written here, processed on a
LocalCluster of 2 worker processes, against the same calls in one process (the workload
lives in weaksup.bench.scaleout, which ``weaksup bench dask`` runs too; needs dask,
distributed and zarr).

    PYTHONPATH=python python benchmarks/bench_dask.py [--quick | --full]

--full writes about 21 GB under $WEAKSUP_BENCH_DIR (default: the temporary folder).
"""

import argparse
import sys

from weaksup.bench import scaleout
from weaksup.bench._report import Report

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", const="quick", dest="mode")
    size.add_argument("--full", action="store_const", const="full", dest="mode")
    args = parser.parse_args()
    missing = scaleout.run(Report(sys.stdout), args.mode or "default")
    sys.exit(1 if missing else 0)
