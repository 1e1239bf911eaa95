"""``weaksup bench --plot FILE``: weaksup's speedup over each peer, per workload, from a results JSON.

matplotlib is an optional extra (``pip install 'weaksup[plot]'``); it is imported only here.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import textwrap
from typing import Any, Dict, List, Tuple, Union

FORMATS = (".png", ".svg")
PathLike = Union[str, "os.PathLike[str]"]


def check_plot_path(path: PathLike) -> None:
    """ValueError for a file type we do not draw, ImportError (with the fix) without matplotlib."""
    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"plot: the file must end in .png or .svg, got {os.fspath(path)!r}")
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise ImportError("plot: drawing needs matplotlib: pip install 'weaksup[plot]' (or pip install matplotlib)"
                          ) from e


def speedups(results: List[Dict[str, Any]]) -> List[Tuple[str, str, float]]:
    """(workload, peer, peer's time / the fastest weaksup row's time) for every workload where
    weaksup and a peer both ran, in the order of the results."""
    by_workload: Dict[str, List[Dict[str, Any]]] = {}
    for r in results:
        if r.get("baseline") and math.isfinite(r["seconds"]) and r["seconds"] > 0:
            by_workload.setdefault(r["workload"], []).append(r)
    out = []
    for workload, rows in by_workload.items():
        ours = [r["seconds"] for r in rows if r["implementation"].startswith("weaksup")]
        if not ours:
            continue
        for r in rows:
            if not r["implementation"].startswith("weaksup"):
                out.append((workload, r["implementation"], r["seconds"] / min(ours)))
    return out


def caption(meta: Dict[str, Any]) -> str:
    m, v = meta.get("machine", {}), meta.get("versions", {})
    return (f"weaksup {v.get('weaksup', '?')}, {meta.get('mode', '?')} size, {meta.get('date', '?')[:10]}; "
            f"{m.get('cpu', '?')}, {m.get('cpus_usable', '?')} cores; Python {m.get('python', '?')}. "
            "Fastest weaksup row against each peer, measured in the same run.")


def plot(results_json: PathLike, out: PathLike) -> None:
    """Draw ``results_json`` (a ``weaksup bench`` results file) as horizontal speedup bars,
    one group per workload and one bar per peer, into ``out`` (.png or .svg)."""
    check_plot_path(out)
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    with open(results_json) as f:
        meta = json.load(f)
    bars = speedups(meta["results"])
    if not bars:
        raise ValueError(f"plot: {os.fspath(results_json)} holds no workload where weaksup and a peer both ran "
                         "(install the peers: pip install 'weaksup[bench]')")
    peers = list(dict.fromkeys(peer for _, peer, _ in bars))
    workloads = list(dict.fromkeys(w for w, _, _ in bars))
    colours = plt.get_cmap("tab10")
    height = 0.8 / max(1, max(sum(1 for w, _, _ in bars if w == name) for name in workloads))
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(bars) + 0.3 * len(workloads) + 1.8))
    y = 0.0
    ticks, labels = [], []
    for name in workloads:
        rows = [(peer, s) for w, peer, s in bars if w == name]
        start = y
        for peer, s in rows:
            ax.barh(y, s, height=height, color=colours(peers.index(peer) % 10), label=peer)
            ax.text(s * 1.05, y, f"{s:.3g}x", va="center", fontsize=8)
            y += height
        ticks.append((start + y - height) / 2)
        labels.append("\n".join(textwrap.wrap(name, 44)))
        y += 0.5
    ax.set_xscale("log")
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("speedup of weaksup over the peer (peer's time / weaksup's; log scale, > 1 is faster)")
    ax.set_xlim(right=max(s for _, _, s in bars) * 3)
    handles, names = ax.get_legend_handles_labels()
    unique = dict(zip(names, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8, loc="lower right")
    ax.set_title("weaksup bench: speedup per workload")
    fig.text(0.01, 0.005, caption(meta), fontsize=7, ha="left", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(out, dpi=130)
    plt.close(fig)
