"""DSRG's seeded region growing per 41x41 image: weaksup.torch.region_growing against
DSRG's Python rule and a scipy.ndimage rewrite (the workload lives in weaksup.bench.dsrg,
which ``weaksup bench train`` runs too).

    PYTHONPATH=python python benchmarks/bench_region_growing.py [--batch 8] [--repeat 5] [--threads 0]

Set WEAKSUP_DSRG_SRC to a checkout of github.com/speedinghzl/DSRG to time DSRG's own
connected-component labelling.
"""

from weaksup.bench.dsrg import main

if __name__ == "__main__":
    main()
