"""Drop-in replacements for peer libraries: change only the import.

- ``weaksup.compat.pydensecrf``: ``import weaksup.compat.pydensecrf.densecrf as dcrf``
  and ``weaksup.compat.pydensecrf.utils`` for ``pydensecrf``.
"""
