"""``python -m ffnn`` runs the ``ffnn`` command."""

import sys

from ffnn.cli import main

sys.exit(main())
