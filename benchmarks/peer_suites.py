"""Run a peer library's own tests against weaksup's drop-in, with only the imports redirected.

    python benchmarks/peer_suites.py crowdkit [--real] [--peers DIR] [-- PYTEST ARGS...]

The peer's checkout (``DIR/<checkout>``, default /work/peers) is read in place and never
copied; the peer library itself stays the installed one. An import hook loads each mapped peer
module as usual and then puts weaksup's classes over the peer's under the same names (the
names in the weaksup module's ``__all__``), so the tests' ``from peer.module import Class``
get weaksup's class while everything else (fixtures, data sets, the peer's other classes)
stays the peer's own. A test is in scope when it uses a redirected class: as a
parametrization value (the class or an instance of it) or by name in its body; the other
tests of the listed files exercise only the peer's own classes and are deselected.
``--real`` runs the same selection against the peer itself (no redirect), to check that
the peer passes its own tests with the installed dependencies. Prints the counts.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.machinery
import inspect
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS_DIR = os.environ.get("WEAKSUP_PEERS", "/work/peers")


@dataclass
class Peer:
    checkout: str                      # folder under the peers directory
    packages: List[str]                # top-level packages, imported from site-packages first
    modules: Dict[str, str]            # peer module -> weaksup module whose __all__ is put over it
    tests: List[str]                   # test files, relative to the checkout
    deselect: Dict[str, str] = field(default_factory=dict)  # node id (its end) -> why
    xfail: Dict[str, str] = field(default_factory=dict)     # node id (its end) -> why the peer fails it too


PEERS: Dict[str, Peer] = {
    "crowdkit": Peer(
        checkout="crowd-kit",
        packages=["crowdkit"],
        modules={"crowdkit.aggregation": "weaksup.compat.crowdkit.aggregation"},
        tests=["tests/aggregation/test_ds_aggregation.py",
               "tests/aggregation/test_majority_vote.py",
               "tests/aggregation/test_classification_aggregation.py",
               "tests/aggregation/test_classification_aggregation_edge_cases.py",
               "tests/aggregation/test_binary_relevance_aggregation.py"],
        xfail={f"[Majority Vote predict {what} on simple dataset]":
               "crowd-kit fails it too under pandas 3: value_counts orders a tie differently, so idxmax picks "
               "another of the tied labels (weaksup gives crowd-kit's labels)" for what in ("labels", "probabilities")},
    ),
}


class _Overlay(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds a mapped peer module as Python would, runs it, then sets weaksup's names on it."""

    def __init__(self, modules: Dict[str, str]):
        self.modules = modules

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        self.real = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: Any) -> Any:
        return self.real.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.real.exec_module(module)
        ours = importlib.import_module(self.modules[module.__name__])
        for name in ours.__all__:
            setattr(module, name, getattr(ours, name))


def _redirected(peer: Peer) -> Tuple[Any, ...]:
    """The objects the tests get under the redirected names (weaksup's, or with --real the peer's)."""
    objects = []
    for module, ours in peer.modules.items():
        for name in importlib.import_module(ours).__all__:
            obj = getattr(importlib.import_module(module), name, None)
            if inspect.isclass(obj):
                objects.append(obj)
    return tuple(objects)


def _uses(item: Any, classes: Tuple[Any, ...]) -> Optional[bool]:
    """Whether a test uses one of `classes`; None when it is parametrized over no class at all
    and only its body can tell."""
    params = list(getattr(getattr(item, "callspec", None), "params", {}).values())
    aggregators = [p for p in params if inspect.isclass(p) or hasattr(p, "fit")]
    if aggregators:
        return any(p in classes or isinstance(p, classes) for p in aggregators)
    return None


class _Select:
    """Pytest plugin: keeps the tests that use a redirected class and counts outcomes."""

    def __init__(self, peer: Peer):
        self.peer = peer
        self.counts: Dict[str, int] = {}
        self.failed: List[str] = []

    def pytest_collection_modifyitems(self, config: Any, items: List[Any]) -> None:
        classes = _redirected(self.peer)
        names = {c.__name__ for c in classes}
        keep, drop = [], []
        for item in items:
            uses = _uses(item, classes)
            if uses is None:
                code = getattr(item, "function", None)
                uses = code is not None and bool(names & set(code.__code__.co_names))
            listed = any(item.nodeid.endswith(d) for d in self.peer.deselect)
            (keep if uses and not listed else drop).append(item)
            for end, why in self.peer.xfail.items():
                if item.nodeid.endswith(end):
                    item.add_marker(pytest.mark.xfail(reason=why, strict=False))
        items[:] = keep
        config.hook.pytest_deselected(items=drop)
        self.counts["deselected"] = len(drop)

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when != "call" and report.outcome == "passed":
            return
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.outcome == "skipped" else "xpassed"
        else:
            outcome = report.outcome if report.when == "call" or report.outcome == "skipped" else "error"
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if outcome in ("failed", "error"):
            self.failed.append(report.nodeid)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("peer", choices=sorted(PEERS))
    parser.add_argument("--real", action="store_true", help="run against the peer itself (no redirect)")
    parser.add_argument("--peers", default=PEERS_DIR, help="folder holding the peers' checkouts")
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:len(argv) - len(extra) - bool(extra or "--" in argv)])
    peer = PEERS[args.peer]
    checkout = os.path.join(args.peers, peer.checkout)
    if not os.path.isdir(checkout):
        print(f"no checkout of {args.peer} at {checkout}; pass --peers", file=sys.stderr)
        return 2
    sys.dont_write_bytecode = True  # leave the checkout as it is
    sys.path.insert(0, os.path.join(ROOT, "python"))
    if not args.real:
        sys.meta_path.insert(0, _Overlay(peer.modules))
    for package in peer.packages:  # the installed peer, before pytest puts the checkout on sys.path
        importlib.import_module(package)

    select = _Select(peer)
    files = [os.path.join(checkout, f) for f in peer.tests]
    code = pytest.main(["-q", "-p", "no:cacheprovider", "--rootdir", checkout, *files, *extra],
                       plugins=[select])
    c = select.counts
    against = "the installed peer" if args.real else "weaksup (redirected)"
    print(f"{args.peer} against {against}:")
    for nodeid in select.failed:
        print(f"  FAILED {nodeid}")
    print(f"{c.get('passed', 0)} passed, {c.get('failed', 0) + c.get('error', 0)} failed, "
          f"{c.get('skipped', 0)} skipped, {c.get('xfailed', 0)} xfailed (the peer fails them too), "
          f"{c.get('xpassed', 0)} xpassed, {c.get('deselected', 0)} deselected")
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
