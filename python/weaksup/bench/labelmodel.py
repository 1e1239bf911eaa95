"""`weaksup bench labelmodel`: accuracy on real weak-supervision data and speed / peak memory
at scale, against Snorkel's LabelModel, crowd-kit's DawidSkene, the Hyper Label Model and
majority vote.

Accuracy (labelmodel_peers.accuracy_table): youtube and trec are fitted on train and scored on
test, chemprot (no train split) fitted on valid and scored on test, Dog fitted and scored on
every item; without labels, and with the valid split's gold labels as Y_dev for the methods that
take it. crowd-kit and the Hyper Label Model cannot predict unseen items, so they read the fit
and scored rows together (transductive). Every method's probabilities are scored the same
way: the mean accuracy over uniformly random tie-breaks (labelmodel_peers.tie_split_accuracy). At scale each implementation runs in a fresh child process on the
same synthetic matrix (labelmodel_peers.synthetic_label_matrix), timing fit + predict_proba and
the peak resident memory above the label matrix.
The triplet method (``LabelModel(method="triplet")``) is timed against FlyingSquid, which needs
numpy<2 and pgmpy==0.1.14 and so runs in an interpreter of its own, named by
``$WEAKSUP_FLYINGSQUID_PYTHON`` (the row is left out without it), on the same matrix passed as
a .npy file.
"""

from __future__ import annotations

import os
import numpy as np
from typing import List, Tuple

from . import labelmodel_peers as peers
from ._timing import Result

SECTION = "labelmodel"
PEERS = (("snorkel.labeling.model", "snorkel"), ("crowdkit.aggregation", "crowd-kit"), ("hyperlm", "hyperlm"))


def have(module: str) -> bool:
    try:
        __import__(module)
        return True
    except Exception:  # a peer that fails to import counts as missing
        return False


def _accuracy_rows(results: List[Result]) -> None:
    for row in peers.accuracy_table():
        workload = f"{row.dataset} test accuracy, " + ("no labels" if row.labels == "none" else row.labels)
        note = row.note if row.accuracy is None else "; ".join(
            part for part in (f"coverage {row.coverage:.3f}", row.note) if part)
        results.append(Result(SECTION, workload, row.method, row.seconds, "weaksup LabelModel", note=note,
                              accuracy=row.accuracy))


def _scale_rows(results: List[Result], n: int, m: int, k: int, peer_list: List[str]) -> None:
    workload = f"fit + predict_proba, n={n:,}, m={m}, k={k}, coverage 0.3"
    for peer, label in (("weaksup", "weaksup LabelModel"), ("snorkel", "snorkel LabelModel"),
                        ("crowdkit", "crowd-kit DawidSkene")):
        if peer not in peer_list:
            continue
        r = peers.peer_at_scale(peer, n, m, k, 0.3, seed=0)
        seconds = r["seconds_convert"] + r["seconds_fit"] + r["seconds_predict"]
        results.append(Result(SECTION, workload, label, seconds, "snorkel LabelModel" if "snorkel" in peer_list
                              else "weaksup LabelModel",
                              note=f"peak {r['rss_above_matrix_mb']:.0f} MB above the {r['matrix_mb']:.0f} MB "
                                   f"matrix; {r['n_iter']} iterations", accuracy=r["accuracy"]))


def _triplet_rows(results: List[Result], n: int, m: int = 10) -> None:
    """The triplet method, fit + predict_proba, against FlyingSquid's on the same matrix."""
    from weaksup.labelmodel import LabelModel

    workload = f"triplet method: fit + predict_proba, n={n:,}, m={m}, k=2, coverage 0.3"
    ours_name, fs_name = "weaksup LabelModel(method='triplet')", "FlyingSquid LabelModel"
    python = os.environ.get(peers.FLYINGSQUID_ENV)
    r = peers.peer_at_scale("weaksup", n, m, 2, 0.3, seed=0, method="triplet")
    note = (f"peak {r['rss_above_matrix_mb']:.0f} MB above the {r['matrix_mb']:.0f} MB matrix; "
            f"accuracy {r['accuracy']:.4f}")
    if not python:
        note += (f"; FlyingSquid not run: set {peers.FLYINGSQUID_ENV} to a Python with flyingsquid "
                 f"(numpy<2, pgmpy==0.1.14)")
    results.append(Result(SECTION, workload, ours_name, r["seconds_fit"] + r["seconds_predict"],
                          fs_name if python else ours_name, note=note))
    if python:
        fs = peers.flyingsquid_at_scale(python, n, m, 0.3, seed=0)
        L, _, _ = peers.synthetic_label_matrix(n, m, 2, coverage=0.3, seed=0)
        same = np.mean(LabelModel(2, method="triplet").fit_predict_proba(L).argmax(1) == fs["proba"].argmax(1))
        results.append(Result(SECTION, workload, fs_name, fs["seconds_fit"] + fs["seconds_predict"], fs_name,
                              note=f"accuracy {fs['accuracy']:.4f}; fit {fs['seconds_fit']:.2f} s, predict_proba "
                                   f"{fs['seconds_predict']:.1f} s; the same labels as weaksup on {same:.2%} of "
                                   f"the items"))


def run(quick: bool = False) -> Tuple[List[Result], List[str]]:
    missing = [name for module, name in PEERS if not have(module)]
    results: List[Result] = []
    if peers.have_data():
        _accuracy_rows(results)
    else:
        print("labelmodel accuracy skipped: the data folder ../shared/data was not found "
              f"(set ${peers.ENV_VAR} to the folder holding wrench_youtube/ ... crowd_dog/)")
    available = ["weaksup"] + [p for p, mod in (("snorkel", "snorkel.labeling.model"), ("crowdkit", "crowdkit.aggregation"))
                               if have(mod)]
    n = 100_000 if quick else 1_000_000
    _scale_rows(results, n, 50, 10, available)
    _scale_rows(results, n, 10, 2, available)
    _triplet_rows(results, n)
    if not quick:
        _scale_rows(results, 10_000_000, 100, 10, ["weaksup"])
    return results, missing


def run_gpu(quick: bool = False) -> List[Result]:
    return []
