"""Drop-in replacements for peer libraries: change only the import.

- ``weaksup.compat.pydensecrf``: ``import weaksup.compat.pydensecrf.densecrf as dcrf``
  and ``weaksup.compat.pydensecrf.utils`` for ``pydensecrf``.
- ``weaksup.compat.snorkel``: ``LabelModel``, ``MajorityLabelVoter``, ``LFAnalysis`` for
  ``snorkel.labeling`` / ``snorkel.labeling.model`` (0.10.0).
- ``weaksup.compat.crowdkit``: ``DawidSkene``, ``MajorityVote`` for ``crowdkit.aggregation``
  (1.4.2).
"""
