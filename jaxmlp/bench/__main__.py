"""``python -m jaxmlp.bench ARGS``: the same as ``jaxmlp bench ARGS``."""

import sys

from jaxmlp.bench import main

sys.exit(main())
