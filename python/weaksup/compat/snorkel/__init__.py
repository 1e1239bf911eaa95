"""Snorkel (0.10.0) label-model API on weaksup: change only the import.

``from weaksup.compat.snorkel import LabelModel, MajorityLabelVoter, LFAnalysis`` (also
``MajorityClassVoter``, ``RandomVoter``; and
``weaksup.compat.snorkel.labeling`` / ``.labeling.model``, mirroring ``snorkel.labeling`` and
``snorkel.labeling.model``). ``LFAnalysis`` and the baselines give Snorkel's numbers
exactly; ``LabelModel`` keeps Snorkel's signatures, shapes, class prior, prediction rule,
tie-breaking and scoring but is fitted by weaksup's EM label model (see
:mod:`weaksup.compat.snorkel.labeling.model`).
Snorkel, torch and pandas are not needed (pandas only for ``lf_summary``'s DataFrame).
"""

from .labeling import LabelModel, LFAnalysis, MajorityClassVoter, MajorityLabelVoter, RandomVoter
from .utils import probs_to_preds

__all__ = ["LFAnalysis", "LabelModel", "MajorityClassVoter", "MajorityLabelVoter", "RandomVoter", "probs_to_preds"]
