"""``python -m bench``: see :mod:`bench.measure`."""

import sys

from bench.measure import main

sys.exit(main())
