"""The main job: `weaksup bench` runs its built-in workloads and writes JSON."""

import json
import subprocess
import sys


def test_bench_quick_writes_results(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, "-m", "weaksup.cli", "bench", "localize", "--quick", "--json", str(out)],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "speedup vs baseline" in run.stdout
    results = json.loads(out.read_text())["results"]
    workloads = {r["workload"].split()[0] for r in results}
    assert {"cam_to_boxes", "label", "MaxBoxAccV2"} <= workloads
    assert all(r["seconds"] > 0 for r in results)
    # every peer that ran agreed with weaksup's answers
    assert all("100.0%" in r["note"] or "True" in r["note"] for r in results if r["note"])


def test_help():
    run = subprocess.run([sys.executable, "-m", "weaksup.cli", "bench", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--quick" in run.stdout
