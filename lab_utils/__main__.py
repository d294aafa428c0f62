"""``python -m lab_utils``: see :mod:`lab_utils.cli`."""

import sys

from lab_utils.cli import main

sys.exit(main())
