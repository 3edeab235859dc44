"""``python -m bench [--quick]``: see :mod:`bench.runner`."""

import sys

from bench.runner import main

if __name__ == "__main__":
    sys.exit(main())
