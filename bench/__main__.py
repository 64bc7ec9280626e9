"""`python -m bench`: the benchmark of Mine Action Records (see bench/run.py)."""

import sys

from bench.run import main

sys.exit(main())
