"""``alphaplus assess``, ``alphaplus rollback`` and ``alphaplus rollbacks list``: rollback from the shell.

They call the rollback service directly (no Prefect), so they answer in about a second.
"""

from __future__ import annotations

from typing import Optional

import typer

from alphaplus.cli.common import console, print_json, run

rollbacks_app = typer.Typer(help="Rollback history: what was rolled back, when, why and by whom.",
                            no_args_is_help=True)


def _operator() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


async def _service():
    from alphaplus.rollback.service import RollbackService

    return await RollbackService.open()


def assess(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Only this model's slots."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Decide and report; store and change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Assess production slots from live evidence and roll back those that degraded."""
    from rich.table import Table

    from alphaplus.rollback.service import SlotFilter

    async def go():
        service = await _service()
        return await service.assess_slots(SlotFilter(model_name=model), dry_run=dry_run, on_behalf_of=_operator())

    results = run(go)
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    table = Table("model", "regime", "symbol", "version", "status", "outcome", "target", "evidence", "summary",
                  title=f"rollback assessment{' (dry run)' if dry_run else ''}")
    for r in results:
        row = r.to_row()
        table.add_row(row["model_name"], row["regime"], row["symbol"], str(row["version"]), row["status"],
                      row["outcome"], "" if row["target_version"] is None else str(row["target_version"]),
                      evidence_text(row), row["summary"])
    console.print(table if results else "no production slots to assess")
    for r in results:
        if r.status == "market_shift":
            console.print(f"[bold yellow]market shift[/bold yellow] {r.slot}: rollback of version "
                          f"{r.production_version} withheld; {r.assessment.reasons[-3]}; {r.assessment.reasons[-2]}")


def evidence_text(row: dict) -> str:
    """'n outcomes (~n_eff independent), p=...' of an assessment row's decisive test (inference calls
    for the error-rate test), or ''."""
    if row.get("n") is None:
        return ""
    p = "" if row.get("p_value") is None else f", p={row['p_value']:.2g}"
    if str(row.get("test") or "").startswith("error_rate"):
        return f"{row['n']:,} calls{p}"
    n_eff = "" if row.get("n_effective") is None else f" (~{row['n_effective']:.0f} independent)"
    return f"{row['n']:,} outcomes{n_eff}{p}"


def rollback(
    model: str = typer.Argument(..., help="Model name."),
    regime: str = typer.Option(..., "--regime", "-r", help="Regime of the slot."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Symbol of the slot."),
    to: Optional[int] = typer.Option(None, "--to", help="Version to restore (default: the safest)."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Roll a slot back to its safest previous version (or --to VERSION), audited."""
    from alphaplus.rollback.service import NoSafeCandidate

    async def go():
        service = await _service()
        return await service.request_rollback(model, regime, symbol, to_version=to, reason=reason,
                                              dry_run=dry_run, on_behalf_of=_operator())

    out = run(go)
    if as_json:
        print_json(out.to_dict())
    if out.outcome == "no_safe_candidate":
        raise NoSafeCandidate(f"no version of {out.slot} is safe to restore (recorded); see `alphaplus rollbacks list`")
    if as_json:
        return
    if out.outcome == "aborted":
        console.print(f"nothing changed: {out.reason}")
    elif out.outcome == "dry_run":
        console.print(f"dry run: would restore version {out.to_version} (now {out.from_version})")
        console.print(out.choice.reason if out.choice else "")
    else:
        console.print(f"rolled back {out.slot}: version {out.from_version} -> {out.to_version}")
        console.print(out.choice.reason if out.choice else "")


@rollbacks_app.command("list")
def list_rollbacks(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Only this model."),
    limit: int = typer.Option(50, min=1, max=10_000, help="Most recent N events."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List rollback events, newest first, with their reasons."""
    from dataclasses import asdict

    from rich.table import Table

    async def go():
        return await (await _service()).list_events(model_name=model, limit=limit)

    events = run(go)
    if as_json:
        print_json([asdict(e) for e in events])
        return
    table = Table("time", "model", "regime", "symbol", "from", "to", "type", "outcome", "actor", "reason",
                  title="rollbacks")
    for e in events:
        table.add_row(f"{e.event_time:%Y-%m-%d %H:%M:%S}", e.model_name, e.regime, e.symbol,
                      str(e.from_version or ""), str(e.to_version or ""), e.rollback_type, e.outcome,
                      e.actor + (f" for {e.on_behalf_of}" if e.on_behalf_of else ""), e.rollback_reason)
    console.print(table if events else "no rollbacks recorded")


def register(app: typer.Typer) -> None:
    """Add ``assess``, ``rollback`` and ``rollbacks list`` to the ``alphaplus`` command."""
    app.command("assess")(assess)
    app.command("rollback")(rollback)
    app.add_typer(rollbacks_app, name="rollbacks")
