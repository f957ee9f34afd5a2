"""``python -m jaxmlp.cli ARGS``: the same as the ``jaxmlp`` program."""

import sys

from jaxmlp.cli import main

sys.exit(main())
