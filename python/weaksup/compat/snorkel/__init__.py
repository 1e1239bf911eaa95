"""Snorkel (0.10.0) label-model API on weaksup: change only the import.

``from weaksup.compat.snorkel import LabelModel, MajorityLabelVoter, LFAnalysis`` (also
``weaksup.compat.snorkel.labeling`` / ``.labeling.model``, mirroring ``snorkel.labeling`` and
``snorkel.labeling.model``). ``LFAnalysis`` and ``MajorityLabelVoter`` give Snorkel's numbers
exactly; ``LabelModel`` keeps Snorkel's signatures, shapes, tie-breaking and scoring but is
fitted by weaksup's EM label model (see :mod:`weaksup.compat.snorkel.labeling.model`).
Snorkel, torch and pandas are not needed (pandas only for ``lf_summary``'s DataFrame).
"""

from .labeling import LabelModel, LFAnalysis, MajorityLabelVoter
from .utils import probs_to_preds

__all__ = ["LFAnalysis", "LabelModel", "MajorityLabelVoter", "probs_to_preds"]
