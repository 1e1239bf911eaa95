"""The kernels' worker threads (cpp/parallel.hpp keeps a pool alive between calls): calls
from several Python threads at once, and from a forked child, give the same results."""

import multiprocessing
import sys
import threading

import numpy as np
import pytest

import weaksup
from weaksup.bench import crf


@pytest.fixture(scope="module")
def scene():
    img = crf.synthetic_image(48, 40, seed=5)
    probs = crf.soft_segmentation(img, 5, seed=5)
    return img, probs, weaksup.dense_crf(img, probs, iterations=3, threads=2)


def test_concurrent_python_threads(scene):
    img, probs, expected = scene
    same = []

    def work():
        for _ in range(10):
            same.append(np.array_equal(weaksup.dense_crf(img, probs, iterations=3, threads=2), expected))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(same) == 30 and all(same)


def _child(img, probs, queue):
    queue.put(weaksup.dense_crf(img, probs, iterations=3, threads=2))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork start method")
def test_forked_child(scene):
    img, probs, expected = scene  # the parent's pool exists by now; the child has no workers
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(img, probs, queue))
    child.start()
    result = queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(result, expected)
