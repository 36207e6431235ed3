"""``python -m tfpcheck`` is the ``tfpcheck`` command."""

import sys

from tfpcheck._cli import main

sys.exit(main())
