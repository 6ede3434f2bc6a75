"""Entry point of the ``alphaplus`` command: sub-commands, and one-line errors for user mistakes."""

from __future__ import annotations

import sys

import typer

from alphaplus.cli import (
    artifacts_cmd,
    data_cmd,
    db_cmd,
    demo_cmd,
    outcomes_cmd,
    pipeline_cmd,
    quarantine_cmd,
    registry_cmd,
    replay_cmd,
    report_cmd,
    rollback_cmd,
    symbols_cmd,
    ui_cmd,
)

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
data_cmd.register(app)
symbols_cmd.register(app)
registry_cmd.register(app)
quarantine_cmd.register(app)
report_cmd.register(app)
replay_cmd.register(app)
outcomes_cmd.register(app)
artifacts_cmd.register(app)
ui_cmd.register(app)


# Longer error lines are cut: a message quoting a 100 KB name helps nobody.
_ERROR_LINE_LIMIT = 1000


def _error(message: str) -> None:
    """One line on stderr: secrets masked, control characters escaped, length bounded."""
    from alphaplus.cli.common import printable
    from alphaplus.core.redaction import mask_secrets

    print(f"error: {printable(mask_secrets(message), _ERROR_LINE_LIMIT)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors a user can cause end as one line on stderr and exit code 1."""
    import os

    from alphaplus.core.errors import AlphaPlusError

    from typer._click.exceptions import ClickException, NoArgsIsHelpError
    from typer.exceptions import Abort, Exit

    try:
        # standalone_mode=False: usage errors come back as exceptions, printed below as one line
        # instead of click's boxed multi-line message.
        result = app(args=argv, prog_name="alphaplus", standalone_mode=False)
    except Exit as e:
        return e.exit_code
    except SystemExit as e:
        return int(e.code or 0) if isinstance(e.code, int) or e.code is None else 1
    except NoArgsIsHelpError as e:
        e.show()
        return e.exit_code
    except ClickException as e:
        _error(e.format_message())
        return e.exit_code
    except Abort:
        print("aborted", file=sys.stderr)
        return 1
    except AlphaPlusError as e:
        _error(str(e))
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - a bug still ends in one line; ALPHAPLUS_DEBUG=1 shows the traceback
        if os.environ.get("ALPHAPLUS_DEBUG"):
            raise
        where = ("its traceback is above" if getattr(e, "alphaplus_traceback_shown", False)
                 else "rerun with ALPHAPLUS_DEBUG=1 for the traceback")
        _error(f"unexpected {e.__class__.__name__}: {e} (this is a bug; {where})")
        return 1
    return result if isinstance(result, int) else 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
