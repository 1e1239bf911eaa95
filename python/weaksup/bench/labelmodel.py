"""`weaksup bench labelmodel`: accuracy on real weak-supervision data and speed / peak memory
at scale, against Snorkel's LabelModel, crowd-kit's DawidSkene and majority vote.

Protocols (REFERENCE.md §3): WRENCH sets are fitted on train and scored on test; weaksup and
Snorkel get the valid split's labels as Y_dev (class balance only). crowd-kit cannot predict
unseen items, so it is fitted on train + test together (transductive). Dog: every item.
At scale each implementation runs in a fresh child process on the same synthetic matrix
(labelmodel_peers.synthetic_label_matrix), timing fit + predict_proba and the peak resident
memory above the label matrix. The triplet method (``LabelModel(method="triplet")``) is timed
against FlyingSquid, which needs numpy<2 and pgmpy==0.1.14 and so runs in an interpreter of
its own, named by ``$WEAKSUP_FLYINGSQUID_PYTHON`` (the row is left out without it), on the same
matrix passed as a .npy file.
"""

from __future__ import annotations

import os
import time
from typing import List, Tuple

import numpy as np

from . import labelmodel_peers as peers
from ._timing import Result

SECTION = "labelmodel"


def have(module: str) -> bool:
    try:
        __import__(module)
        return True
    except Exception:  # a peer that fails to import counts as missing
        return False


def _accuracy_rows(results: List[Result]) -> None:
    from weaksup.labelmodel import LabelModel

    snorkel, crowdkit = have("snorkel.labeling.model"), have("crowdkit.aggregation")
    for name, k in (("youtube", 2), ("trec", 6)):
        Lt, _ = peers.load_wrench(name, "train")
        _, yv = peers.load_wrench(name, "valid")
        Ls, ys = peers.load_wrench(name, "test")
        workload = f"WRENCH {name} (k={k}, m={Lt.shape[1]}): test accuracy"
        t0 = time.perf_counter()
        pred = LabelModel(k).fit(Lt, Y_dev=yv).predict(Ls)
        seconds = time.perf_counter() - t0
        results.append(Result(SECTION, workload, "weaksup LabelModel", seconds, "weaksup LabelModel",
                              note=f"accuracy {peers.accuracy(pred, ys):.3f}"))
        pred = LabelModel(k, method="triplet").fit(Lt, Y_dev=yv).predict(Ls)
        results.append(Result(SECTION, workload, "weaksup LabelModel(method='triplet')", float("nan"),
                              "weaksup LabelModel", note=f"accuracy {peers.accuracy(pred, ys):.3f}"))
        counts = np.stack([(Ls == c).sum(1) for c in range(k)], 1)
        mv = np.mean([peers.accuracy(((counts == counts.max(1, keepdims=True)) *
                                      (1 + np.random.default_rng(s).random(counts.shape))).argmax(1), ys)
                      for s in range(20)])
        results.append(Result(SECTION, workload, "majority vote", float("nan"), "weaksup LabelModel",
                              note=f"accuracy {mv:.3f} (random ties, mean of 20 seeds)"))
        if snorkel:
            r = peers.snorkel_fit_predict(Lt, Ls, k, Y_dev=yv)
            results.append(Result(SECTION, workload, "snorkel LabelModel", r.fit_seconds + r.predict_seconds,
                                  "weaksup LabelModel", note=f"accuracy {peers.accuracy(r.preds, ys):.3f}"))
        if crowdkit:
            r = peers.crowdkit_fit_predict(Lt, Ls, k)
            results.append(Result(SECTION, workload, "crowd-kit DawidSkene", r.fit_seconds + r.predict_seconds,
                                  "weaksup LabelModel", note=f"accuracy {peers.accuracy(r.preds, ys):.3f}"))
    dog = peers.load_crowd_dog()
    votes = (dog.task, dog.worker, dog.label)
    workload = f"crowd Dog (k={dog.k}, {dog.n_workers} workers): accuracy"
    t0 = time.perf_counter()
    pred = LabelModel(dog.k, confusion="full", abstain="ignored").fit(votes).predict(votes, tie_break="first")
    results.append(Result(SECTION, workload, "weaksup LabelModel", time.perf_counter() - t0, "weaksup LabelModel",
                          note=f"accuracy {peers.accuracy(pred, dog.truth):.3f} (confusion=full, abstain=ignored)"))
    if crowdkit:
        r = peers.crowdkit_dawid_skene_df(dog.task, dog.worker, dog.label)
        results.append(Result(SECTION, workload, "crowd-kit DawidSkene", r.seconds, "weaksup LabelModel",
                              note=f"accuracy {peers.accuracy(r.labels, dog.truth):.3f}"))


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
                                   f"matrix; accuracy {r['accuracy']:.4f}; {r['n_iter']} iterations"))


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
    missing = [name for module, name in (("snorkel.labeling.model", "snorkel"), ("crowdkit.aggregation", "crowd-kit"))
               if not have(module)]
    results: List[Result] = []
    if peers.have_data():
        _accuracy_rows(results)
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
