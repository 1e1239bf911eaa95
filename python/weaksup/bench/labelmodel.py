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
from typing import List, Optional

from . import labelmodel_peers as peers
from ._report import Report, human_seconds

SECTION = "labelmodel"
DESCRIPTION = ("label models: accuracy on real label sets, and fit + predict_proba at scale, vs Snorkel, "
               "crowd-kit, the Hyper Label Model, majority vote")
PEERS = (("snorkel.labeling.model", "snorkel"), ("crowdkit.aggregation", "crowd-kit"), ("hyperlm", "hyperlm"))
SCALE_PEERS = (("snorkel", "snorkel LabelModel", "snorkel.labeling.model"),
               ("crowdkit", "crowd-kit DawidSkene", "crowdkit.aggregation"), ("weaksup", "weaksup LabelModel", None))
# Seconds per million rows on the 2-core reference machine (README), for the progress estimates.
_SECONDS_PER_MILLION = {("snorkel", 50, 10): 60.0, ("crowdkit", 50, 10): 41.0, ("weaksup", 50, 10): 0.8,
                        ("snorkel", 10, 2): 1.8, ("crowdkit", 10, 2): 8.0, ("weaksup", 10, 2): 0.07,
                        ("weaksup", 100, 10): 1.3}
_CHILD_START = 3.0  # a fresh interpreter importing the peer


def have(module: str) -> bool:
    try:
        __import__(module)
        return True
    except Exception:  # a peer that fails to import counts as missing
        return False


def _estimate(peer: str, n: int, m: int, k: int) -> Optional[float]:
    rate = _SECONDS_PER_MILLION.get((peer, m, k))
    return None if rate is None else _CHILD_START + rate * n / 1e6


def _accuracy_rows(report: Report) -> None:
    for dataset in peers.ACCURACY_SETS:
        for with_dev in (False, True):
            if dataset == "dog" and with_dev:
                continue  # Dog has no dev split
            labels = "Y_dev" if with_dev else "no labels"
            with report.workload(SECTION, f"{dataset} test accuracy, {labels}", None, scored=True) as w:
                for row in peers.accuracy_rows(dataset, with_dev):
                    partial = row.coverage is not None and row.coverage < 1  # some items left without a class
                    note = "; ".join(part for part in (f"coverage {row.coverage:.3f}" if partial else "", row.note)
                                     if part)
                    w.add(row.method, row.seconds, note=note, accuracy=row.accuracy)


def _scale_rows(report: Report, n: int, m: int, k: int, available: List[str]) -> None:
    runs = [(peer, label) for peer, label, _ in SCALE_PEERS if peer in available]
    baseline = runs[0][1] if runs[0][0] != "weaksup" else None
    with report.workload(SECTION, f"fit + predict_proba, n={n:,}, m={m}, k={k}, coverage 0.3", baseline,
                         scored=True) as w:
        for peer, label in runs:
            with w.running(f"{label}, in a child process", _estimate(peer, n, m, k)):
                r = peers.peer_at_scale(peer, n, m, k, 0.3, seed=0)
            seconds = r["seconds_convert"] + r["seconds_fit"] + r["seconds_predict"]
            w.add(label, seconds, note=f"peak {r['rss_above_matrix_mb']:.0f} MB above the {r['matrix_mb']:.0f} MB "
                                       f"matrix; {r['n_iter']} iterations", accuracy=r["accuracy"])


def _triplet_rows(report: Report, n: int, m: int = 10) -> None:
    """The triplet method, fit + predict_proba, against FlyingSquid's on the same matrix."""
    from weaksup.labelmodel import LabelModel

    ours_name, fs_name = "weaksup LabelModel(method='triplet')", "FlyingSquid LabelModel"
    python = os.environ.get(peers.FLYINGSQUID_ENV)
    with report.workload(SECTION, f"triplet method: fit + predict_proba, n={n:,}, m={m}, k=2, coverage 0.3",
                         fs_name if python else None, scored=True) as w:
        if python:
            with w.running(f"{fs_name}, in {python}", 2.0 + 56.0 * n / 1e6):
                fs = peers.flyingsquid_at_scale(python, n, m, 0.3, seed=0)
            L, _, _ = peers.synthetic_label_matrix(n, m, 2, coverage=0.3, seed=0)
            same = np.mean(LabelModel(2, method="triplet").fit_predict_proba(L).argmax(1) == fs["proba"].argmax(1))
            w.add(fs_name, fs["seconds_fit"] + fs["seconds_predict"],
                  note=f"fit {human_seconds(fs['seconds_fit'])}, predict_proba {human_seconds(fs['seconds_predict'])}; "
                       f"the same labels as weaksup on {same:.2%} of the items", accuracy=fs["accuracy"])
        with w.running(f"{ours_name}, in a child process", _estimate("weaksup", n, 10, 2)):
            r = peers.peer_at_scale("weaksup", n, m, 2, 0.3, seed=0, method="triplet")
        note = f"peak {r['rss_above_matrix_mb']:.0f} MB above the {r['matrix_mb']:.0f} MB matrix"
        if not python:
            note += (f"; FlyingSquid not run: set {peers.FLYINGSQUID_ENV} to a Python with flyingsquid "
                     f"(numpy<2, pgmpy==0.1.14)")
        w.add(ours_name, r["seconds_fit"] + r["seconds_predict"], note=note, accuracy=r["accuracy"])


def run(report: Report, mode: str = "default") -> List[str]:
    """Accuracy (with the data folder) and scale workloads, reported as measured; returns the
    missing peers."""
    missing = [name for module, name in PEERS if not have(module)]
    if peers.have_data():
        _accuracy_rows(report)
    else:
        report.say("\nlabelmodel accuracy skipped: the data folder ../shared/data was not found "
                   f"(set ${peers.ENV_VAR} to the folder holding wrench_youtube/ ... crowd_dog/)")
    available = ["weaksup"] + [peer for peer, _, module in SCALE_PEERS if module and have(module)]
    n = {"quick": 20_000, "default": 100_000, "full": 1_000_000}[mode]
    _scale_rows(report, n, 50, 10, available)
    _scale_rows(report, n, 10, 2, available)
    _triplet_rows(report, n)
    if mode == "full":
        _scale_rows(report, 10_000_000, 100, 10, ["weaksup"])
    return missing


def run_gpu(report: Report, mode: str = "default") -> None:
    return None
