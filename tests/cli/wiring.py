"""The ``alphaplus`` app with the operator commands registered exactly once, and a runner for it.

``python -m tests.cli.wiring ARGS`` runs the CLI like ``python -m alphaplus ARGS`` does, whether or not
main.py registers these modules itself.
"""

from __future__ import annotations

import sys

from alphaplus.cli import data_cmd, registry_cmd, report_cmd
from alphaplus.cli.main import app, main


def ensure_registered() -> None:
    """Register the data, registry and report commands unless main.py already did."""
    names = {g.name for g in app.registered_groups} | {c.name for c in app.registered_commands}
    if "data" not in names:
        data_cmd.register(app)
    if "versions" not in names:
        registry_cmd.register(app)
    if "report" not in names:
        report_cmd.register(app)


ensure_registered()

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
