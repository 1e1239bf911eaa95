"""Run a peer library's own test files, unmodified, against weaksup's drop-in for it.

The peer's tests import the peer (``from snorkel.labeling.model import LabelModel``); this
script points those imports at weaksup's modules (``weaksup.compat.snorkel...``) before
pytest collects anything, and leaves every other import of the peer to the installed peer
(test utilities such as ``snorkel.synthetic`` or ``snorkel.labeling.LabelingFunction``).
Nothing of the peer is copied: the tests are read from the peer's checkout.

    PYTHONPATH=python python tools/peer_suites.py snorkel /work/peers/snorkel
    PYTHONPATH=python python tools/peer_suites.py snorkel /work/peers/snorkel test/labeling/test_analysis.py -- -x
    python tools/peer_suites.py snorkel --excluded      # the deselected tests, with why
    PYTHONPATH=python python tools/peer_suites.py crowdkit /work/peers/crowd-kit
    PYTHONPATH=python python tools/peer_suites.py crowdkit /work/peers/crowd-kit --real   # against crowd-kit

Each peer is one entry of ``PEERS``: ``modules`` maps every module name of the peer that
the tests import for the model (including submodules they import from, such as
``snorkel.labeling.model.label_model``) to the weaksup module that replaces it;
``attributes`` replaces single names of a real peer module; ``tests`` are the default test
files (relative to the checkout); ``deselect`` maps pytest node ids to the reason they are
left out (tests of the peer's private internals); ``only_replaced`` leaves out, too, the tests
that use none of the replaced ``attributes`` (as a parametrization value, the class or an
instance of it, or by name in the test's body): they test the peer's other classes, which
stay the peer's own; ``xfail`` marks (not strictly) the tests that fail against the peer
itself with the installed dependencies, with why. ``--real`` runs the same selection against
the installed peer, no import redirected. To add a peer, add an entry.

The counts are printed as ``<peer>: N passed, N failed, N errors, N skipped, N xfailed,
N deselected``; the exit status is pytest's (0 when nothing failed).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple


@dataclass(frozen=True)
class Peer:
    modules: Dict[str, str]
    tests: Tuple[str, ...]
    deselect: Dict[str, str] = field(default_factory=dict)
    attributes: Dict[Tuple[str, str], str] = field(default_factory=dict)  # (module, name) -> "module:name"
    only_replaced: bool = False
    xfail: Dict[str, str] = field(default_factory=dict)  # node id -> why the peer itself fails it


_LM = "test/labeling/model/test_label_model.py::LabelModelTest::"
_PRIVATE_SETUP = "builds the model through private steps (_set_up_model: _set_constants, _generate_O, " \
                 "_init_params, ...) and reads "

PEERS: Dict[str, Peer] = {
    "snorkel": Peer(
        modules={
            "snorkel.labeling.model": "weaksup.compat.snorkel.labeling.model",
            "snorkel.labeling.model.label_model": "weaksup.compat.snorkel.labeling.model",
            "snorkel.labeling.model.baselines": "weaksup.compat.snorkel.labeling.model",
            "snorkel.labeling.analysis": "weaksup.compat.snorkel.labeling.analysis",
        },
        attributes={("snorkel.labeling", "LFAnalysis"): "weaksup.compat.snorkel.labeling.analysis:LFAnalysis"},
        tests=("test/labeling/model/test_label_model.py", "test/labeling/model/test_baseline.py",
               "test/labeling/test_analysis.py"),
        deselect={
            _LM + "test_L_form": "calls _set_constants and reads the attributes n, m it sets",
            _LM + "test_class_balance": "calls _set_class_balance and reads the attribute p",
            _LM + "test_generate_O": _PRIVATE_SETUP + "O",
            _LM + "test_augmented_L_construction": "calls _set_constants, _create_tree, "
                                                   "_get_augmented_label_matrix and reads c_tree",
            _LM + "test_conditional_probs": _PRIVATE_SETUP + "get_conditional_probs of an unfitted model",
            _LM + "test_build_mask": _PRIVATE_SETUP + "mask",
            _LM + "test_init_params": _PRIVATE_SETUP + "mu_init",
            _LM + "test_predict_proba": _PRIVATE_SETUP + "and sets mu",
            _LM + "test_predict": _PRIVATE_SETUP + "and sets mu",
            _LM + "test_score": _PRIVATE_SETUP + "and sets mu",
            _LM + "test_loss": "sets mu and calls _loss_l2, _loss_mu",
            _LM + "test_model_loss": "calls _loss_mu (the matrix-completion loss)",
            _LM + "test_optimizer_init": "reads the attribute optimizer (a torch optimizer)",
            _LM + "test_scheduler_init": "reads the attribute lr_scheduler (a torch scheduler)",
            _LM + "test_warmup": "reads the attribute warmup_steps",
            _LM + "test_symmetry_breaking": "calls _set_class_balance, _break_col_permutation_symmetry, sets m and mu",
            _LM + "test_symmetry_breaking_multiclass": "calls _set_class_balance, "
                                                       "_break_col_permutation_symmetry, sets m and mu",
        },
    ),
    "crowdkit": Peer(  # crowd-kit 1.4.2 (the checkout's tests; the installed crowd-kit)
        modules={},
        attributes={("crowdkit.aggregation", name): f"weaksup.compat.crowdkit.aggregation:{name}"
                    for name in ("DawidSkene", "MajorityVote")},
        tests=tuple(f"tests/aggregation/test_{name}.py" for name in (
            "ds_aggregation", "majority_vote", "classification_aggregation", "classification_aggregation_edge_cases",
            "binary_relevance_aggregation")),
        only_replaced=True,  # OneCoinDawidSkene, GoldMajorityVote, GLAD, Wawa, MMSR, ... stay crowd-kit's
        xfail={f"tests/aggregation/test_classification_aggregation.py::test_fit_predict_classification_aggregations"
               f"_methods[Majority Vote predict {what} on simple dataset]":
               "crowd-kit fails it too under pandas 3: value_counts orders a tie otherwise, so idxmax picks another "
               "of the tied labels (weaksup gives crowd-kit's)" for what in ("labels", "probabilities")},
    ),
}


def install(peer: Peer) -> None:
    """Point the peer's model modules at weaksup's (sys.modules aliases).

    The aliases go in before any parent package is imported, so that a real package whose
    ``__init__`` imports an aliased submodule (``snorkel.labeling`` imports ``.analysis``)
    binds weaksup's names; then each alias is also set as an attribute of its (real) parent.
    """
    for alias, target in peer.modules.items():
        sys.modules[alias] = importlib.import_module(target)
    for alias in peer.modules:
        parent, _, leaf = alias.rpartition(".")
        if parent and parent not in peer.modules:  # not on a weaksup module standing for a package
            setattr(importlib.import_module(parent), leaf, sys.modules[alias])
    for (module, name), target in peer.attributes.items():
        target_module, _, target_name = target.partition(":")
        setattr(importlib.import_module(module), name, getattr(importlib.import_module(target_module), target_name))


def _uses(item, replaced: Tuple[type, ...]) -> bool:
    """Whether a test uses one of the replaced classes: a parametrization value that is one or
    an instance of one, or (not parametrized over aggregators) its name in the test's body."""
    params = getattr(getattr(item, "callspec", None), "params", {}).values()
    objects = [p for p in params if inspect.isclass(p) or hasattr(p, "fit")]
    if objects:
        return any(p in replaced or isinstance(p, replaced) for p in objects)
    function = getattr(item, "function", None)
    return function is not None and bool({c.__name__ for c in replaced} & set(function.__code__.co_names))


class _Select:
    """A pytest plugin applying a peer's only_replaced and xfail."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    def pytest_collection_modifyitems(self, config, items) -> None:
        import pytest

        if self.peer.only_replaced:  # the classes the tests get under the replaced names (--real: the peer's)
            replaced = tuple(c for c in (getattr(importlib.import_module(m), n) for m, n in self.peer.attributes)
                             if inspect.isclass(c))
            keep = [item for item in items if _uses(item, replaced)]
            config.hook.pytest_deselected(items=[item for item in items if item not in keep])
            items[:] = keep
        for item in items:
            if item.nodeid in self.peer.xfail:
                item.add_marker(pytest.mark.xfail(reason=self.peer.xfail[item.nodeid], strict=False))


class _Counts:
    """A pytest plugin counting outcomes (a test's call, or the setup / teardown that failed)."""

    def __init__(self) -> None:
        self.counts = dict(passed=0, failed=0, errors=0, skipped=0, xfailed=0, deselected=0)
        self.failures: List[str] = []

    def pytest_deselected(self, items) -> None:
        self.counts["deselected"] += len(items)

    def pytest_collectreport(self, report) -> None:
        if report.failed:
            self.counts["errors"] += 1
            self.failures.append(f"{report.nodeid} (collection error)")

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call":
            key = {"passed": "passed", "failed": "failed", "skipped": "skipped"}[report.outcome]
            key = "xfailed" if hasattr(report, "wasxfail") and report.skipped else key
            self.counts[key] += 1
            if report.failed:
                self.failures.append(report.nodeid)
        elif report.failed:
            self.counts["errors"] += 1
            self.failures.append(f"{report.nodeid} ({report.when} error)")
        elif report.skipped and report.when == "setup":
            self.counts["skipped"] += 1


def run(name: str, checkout: str, tests: Sequence[str], pytest_args: Sequence[str], deselect: bool = True,
        real: bool = False) -> int:
    import pytest

    peer = PEERS[name]
    checkout = os.path.abspath(checkout)
    files = [os.path.join(checkout, t) for t in (tests or peer.tests)]
    if real:  # the installed peer, imported before pytest puts the checkout on sys.path
        for module in {*peer.modules, *(m for m, _ in peer.attributes)}:
            importlib.import_module(module)
    else:
        install(peer)
    args = ["-p", "no:cacheprovider", "--rootdir", checkout, "-q", "--continue-on-collection-errors", *files,
            *pytest_args]
    if deselect:
        for node in peer.deselect:
            args += ["--deselect", node]
    counts = _Counts()
    status = pytest.main(args, plugins=[counts, _Select(peer)])
    c = counts.counts
    print(f"\n{name}{' (the peer itself)' if real else ''}: {c['passed']} passed, {c['failed']} failed, "
          f"{c['errors']} errors, {c['skipped']} skipped, {c['xfailed']} xfailed, {c['deselected']} deselected")
    for failure in counts.failures:
        print(f"  not passed: {failure}")
    return int(status)


def main(argv: Sequence[str] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: List[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("peer", choices=sorted(PEERS))
    parser.add_argument("checkout", nargs="?", help="path of the peer's git checkout")
    parser.add_argument("tests", nargs="*", help="test files relative to the checkout (default: the peer's list)")
    parser.add_argument("--excluded", action="store_true", help="list the deselected tests with why, and exit")
    parser.add_argument("--all", action="store_true", help="run the deselected tests too")
    parser.add_argument("--real", action="store_true", help="run against the installed peer (no redirect)")
    args = parser.parse_args(argv)
    if args.excluded:
        peer = PEERS[args.peer]
        for node, why in peer.deselect.items():
            print(f"{node}: {why}")
        if peer.only_replaced:
            print("and the tests that use none of " + ", ".join(n for _, n in peer.attributes) + ": they test the "
                  "peer's other classes")
        for node, why in peer.xfail.items():
            print(f"{node} (xfail): {why}")
        return 0
    if args.checkout is None:
        parser.error("the peer's checkout is needed to run its tests")
    return run(args.peer, args.checkout, args.tests, extra, deselect=not args.all, real=args.real)


if __name__ == "__main__":
    sys.exit(main())
