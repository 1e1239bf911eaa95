"""``snorkel.labeling`` on weaksup: ``LFAnalysis`` (and the label models, also importable from
``weaksup.compat.snorkel.labeling.model`` as from ``snorkel.labeling.model``)."""

from .analysis import LFAnalysis
from .model import LabelModel, MajorityClassVoter, MajorityLabelVoter, RandomVoter

__all__ = ["LFAnalysis", "LabelModel", "MajorityClassVoter", "MajorityLabelVoter", "RandomVoter"]
