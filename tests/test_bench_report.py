"""How `weaksup bench` talks: rows print as they are measured, in a table a terminal holds,
JSON with the machine and versions in a file of its own per run, and the speedup plot."""

import io
import json
import re

import pytest

import weaksup
from weaksup import bench
from weaksup.bench import _plot
from weaksup.bench._report import WIDTH, Report, human_seconds, human_speedup


@pytest.mark.parametrize("seconds, text", [
    (4.4567e-3, "4.46 ms"), (2.5e-5, "25 µs"), (1.2649, "1.26 s"), (190.0, "3 min 10 s"), (120.0, "2 min"),
    (float("nan"), "-"),
])
def test_times_read_in_human_units(seconds, text):
    assert human_seconds(seconds) == text


def test_speedups_keep_three_digits_then_whole_numbers():
    assert [human_speedup(s) for s in (0.6473, 8.214, 15.54, 118.4)] == ["0.647x", "8.21x", "15.5x", "118x"]


def _report_two_workloads(out):
    report = Report(out)
    seen_during = []
    with report.workload("demo", "sum of 1000 numbers", baseline="python loop") as w:
        w.time("python loop", lambda: sum(range(1000)), 3, check=lambda value: f"value {value}")
        seen_during.append(out.getvalue())  # the row is out before the workload ends
        w.time("builtin sum", lambda: sum(range(10)), 3)
    with report.workload("demo", "accuracy of a guess", baseline=None, scored=True) as w:
        w.add("a method whose name is far longer than the column that holds names", 0.5,
              note="a note " * 30, accuracy=0.75)
    return report, seen_during


def test_rows_print_as_measured_with_speedups_against_the_named_baseline():
    out = io.StringIO()
    report, seen_during = _report_two_workloads(out)
    assert "python loop" in seen_during[0] and "value 499500" in seen_during[0]
    assert "builtin sum" not in seen_during[0]
    text = out.getvalue()
    assert "sum of 1000 numbers (speedup vs python loop)" in text
    loop_row = next(line for line in text.splitlines() if line.strip().startswith("python loop"))
    assert "baseline" in loop_row and not re.search(r"\d\.\d+x", loop_row)  # no ratio of a row to itself
    loop, builtin = report.results[:2]
    assert loop.speedup is None and builtin.speedup == pytest.approx(loop.seconds / builtin.seconds)
    assert human_speedup(builtin.speedup) in text


def test_the_table_fits_a_terminal():
    out = io.StringIO()
    _report_two_workloads(out)
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    assert any("0.750" in line for line in lines)  # the scored workload has its accuracy column
    header = [line for line in lines if "implementation" in line]
    assert "speedup" in header[0] and "accuracy" not in header[0]
    assert "speedup" not in header[1] and "accuracy" in header[1]


def test_long_messages_are_wrapped_to_the_width():
    out = io.StringIO()
    Report(out).say("    " + "word " * 60)
    lines = out.getvalue().splitlines()
    assert len(lines) > 1 and max(map(len, lines)) <= WIDTH and all(line.startswith("    ") for line in lines)


def test_results_files_are_never_overwritten(tmp_path):
    first = bench.new_results_path(tmp_path)
    first.write_text("{}")
    second = bench.new_results_path(tmp_path)
    second.write_text("{}")
    assert first != second and second.name.startswith("weaksup-bench-") and second.suffix == ".json"
    assert bench.new_results_path(tmp_path) not in (first, second)


def test_the_json_names_the_machine_and_every_version(tmp_path):
    path = tmp_path / "r.json"
    bench.run(["localize"], mode="quick", json_path=path, out=io.StringIO())
    meta = json.loads(path.read_text())
    assert meta["versions"]["weaksup"] == weaksup.__version__
    assert meta["versions"]["numpy"]
    assert {"cpu", "cpus", "cpus_usable", "threads_all_cores", "platform", "python"} <= set(meta["machine"])
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", meta["date"]) and meta["mode"] == "quick"
    rows = meta["results"]
    assert {r["workload"].split()[0] for r in rows} >= {"cam_to_boxes", "label", "MaxBoxAccV2"}
    assert all(r["seconds"] > 0 for r in rows)
    assert all(r["speedup"] is None for r in rows if r["implementation"] == r["baseline"])


def test_bench_refuses_unknown_sizes_and_sections():
    with pytest.raises(ValueError, match="mode"):
        bench.run(["localize"], mode="huge")
    with pytest.raises(ValueError, match="sections"):
        bench.run(["gpu"], mode="quick")


def _results_file(tmp_path):
    rows = [
        dict(section="s", workload="w1", implementation="peer A", seconds=1.0, baseline="peer A", speedup=None),
        dict(section="s", workload="w1", implementation="peer B", seconds=2.0, baseline="peer A", speedup=0.5),
        dict(section="s", workload="w1", implementation="weaksup (1 thread)", seconds=0.2, baseline="peer A",
             speedup=5.0),
        dict(section="s", workload="w1", implementation="weaksup (all cores)", seconds=0.1, baseline="peer A",
             speedup=10.0),
        dict(section="s", workload="accuracy", implementation="weaksup LabelModel", seconds=0.1, baseline="",
             speedup=None),
    ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(dict(mode="default", date="2026-12-03T07:00:00+00:00", results=rows,
                                    machine=dict(cpu="Test CPU", cpus_usable=2, python="3.11"),
                                    versions=dict(weaksup="0.1.0"))))
    return path


def test_speedups_are_the_fastest_weaksup_row_against_each_peer(tmp_path):
    rows = json.loads(_results_file(tmp_path).read_text())["results"]
    assert _plot.speedups(rows) == [("w1", "peer A", pytest.approx(10.0)), ("w1", "peer B", pytest.approx(20.0))]


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_draws_a_picture(tmp_path, suffix):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"speedups{suffix}"
    _plot.plot(_results_file(tmp_path), out)
    data = out.read_bytes()
    if suffix == ".png":
        import matplotlib.image

        image = matplotlib.image.imread(out)
        assert image.shape[1] > 800 and image.std() > 0.05  # wide, and not a blank canvas
    else:
        assert b"<svg" in data and b"Test CPU" in data  # the machine is in the caption


def test_plot_names_the_missing_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    with pytest.raises(ImportError, match=r"weaksup\[plot\]"):
        _plot.check_plot_path(tmp_path / "x.png")


def test_plot_refuses_other_file_types(tmp_path):
    with pytest.raises(ValueError, match=r"\.png or \.svg"):
        _plot.check_plot_path(tmp_path / "x.jpg")
