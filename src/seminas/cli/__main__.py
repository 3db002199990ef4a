"""``python -m seminas.cli``: the same as the ``seminas`` command (also under ``torchrun``)."""

import sys

from seminas.cli import main

sys.exit(main())
