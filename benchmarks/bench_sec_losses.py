"""SEC's three losses, forward + backward, on SEC's batch (15 x 21 x 41 x 41):
weaksup.torch against a reference step built as SEC's layers build it (the workload lives
in weaksup.bench.sec, which ``weaksup bench train`` runs too).

    PYTHONPATH=python python benchmarks/bench_sec_losses.py [--repeat 5] [--threads 0]
"""

from weaksup.bench.sec import main

if __name__ == "__main__":
    main()
