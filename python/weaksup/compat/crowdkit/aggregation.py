"""``crowdkit.aggregation`` on weaksup: ``DawidSkene``, ``MajorityVote``."""

from . import DawidSkene, MajorityVote

__all__ = ["DawidSkene", "MajorityVote"]
