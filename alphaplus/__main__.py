"""``python -m alphaplus`` runs the CLI."""

import sys

from alphaplus.cli.main import main

sys.exit(main())
