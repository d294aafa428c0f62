"""``python -m lab_utils``: see :mod:`lab_utils.cli`."""

import sys

from .cli import main

sys.exit(main())
