"""FlyingSquid's fit + predict_proba on a saved binary label matrix, timed, in an interpreter that
has FlyingSquid (it needs numpy<2 and pgmpy==0.1.14, so it lives in an environment of its own:
``weaksup bench labelmodel`` runs this file with ``$WEAKSUP_FLYINGSQUID_PYTHON``). Standalone:
it imports NumPy and FlyingSquid only.

    python flyingsquid_child.py L.npy proba.npy

L.npy: an (n, m) integer matrix, classes 0 / 1, -1 = abstain. Writes P(class 0), P(class 1)
as (n, 2) float64 to proba.npy and prints the times as one JSON line.
"""

import json
import sys
import time

import numpy as np


def main() -> None:
    L_path, out_path = sys.argv[1], sys.argv[2]
    L = np.load(L_path)
    from flyingsquid.label_model import LabelModel

    t0 = time.perf_counter()
    votes = np.where(L < 0, 0, 2 * L.astype(np.int64) - 1)  # FlyingSquid's encoding: -1 / +1, 0 = abstain
    t1 = time.perf_counter()
    model = LabelModel(L.shape[1])  # sources independent given Y; class balance uniform
    model.fit(votes)
    t2 = time.perf_counter()
    proba = model.predict_proba(votes)  # columns in the order Y = -1, +1: classes 0, 1
    t3 = time.perf_counter()
    np.save(out_path, np.asarray(proba, dtype=np.float64))
    print(json.dumps(dict(seconds_convert=t1 - t0, seconds_fit=t2 - t1, seconds_predict=t3 - t2)))


if __name__ == "__main__":
    main()
