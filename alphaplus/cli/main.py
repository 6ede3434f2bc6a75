"""Entry point of the ``alphaplus`` command: sub-commands, and one-line errors for user mistakes."""

from __future__ import annotations

import sys

import typer

from alphaplus.cli import db_cmd, demo_cmd, pipeline_cmd, rollback_cmd

app = typer.Typer(
    help="AlphaPlus: model registry, gated promotion and audited rollback for retrained LightGBM models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_cmd.app, name="db")
demo_cmd.register(app)
pipeline_cmd.register(app)
rollback_cmd.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors a user can cause end as one line on stderr and exit code 1."""
    from alphaplus.errors import AlphaPlusError
    from alphaplus.redaction import mask_secrets

    try:
        app(args=argv, prog_name="alphaplus", standalone_mode=True)
    except SystemExit as e:
        return int(e.code or 0) if isinstance(e.code, int) or e.code is None else 1
    except AlphaPlusError as e:
        print(f"error: {mask_secrets(str(e))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
