"""Built-in benchmark workloads (``weaksup bench``); each section compares with its peers."""

from __future__ import annotations

import json
import os
import platform
from typing import List

import weaksup

from . import crf, labelmodel, localize
from ._timing import Result, fill_speedups, table

SECTIONS = {"crf": crf, "labelmodel": labelmodel, "localize": localize}


def run(sections: List[str], quick: bool = False, json_path: str = "weaksup-bench.json") -> List[Result]:
    results: List[Result] = []
    missing: List[str] = []
    for name in sections:
        module = SECTIONS[name]
        found, absent = module.run(quick=quick)
        results += found + module.run_gpu(quick=quick)
        missing += absent
    fill_speedups(results)
    print(table(results))
    if missing:
        print(f"\npeers not installed (pip install 'weaksup[bench]'): {', '.join(sorted(set(missing)))}")
    if not weaksup.cuda_available():
        why = "no CUDA device" if weaksup.cuda_built() else "weaksup was built without CUDA"
        print(f"GPU workloads skipped: {why}")
    with open(json_path, "w") as f:
        json.dump(
            {
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
                "quick": quick,
                "results": [r.__dict__ for r in results],
            },
            f,
            indent=2,
        )
    print(f"\nresults written to {json_path}")
    return results
