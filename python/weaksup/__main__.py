"""``python -m weaksup``: the ``weaksup`` command."""

import sys

from .cli import main

sys.exit(main())
