"""``alphaplus assess``, ``alphaplus rollback`` and ``alphaplus rollbacks list``: rollback from the shell.

They call the rollback service directly (no Prefect), so they answer in about a second.
"""

from __future__ import annotations

from typing import Optional

import typer

from alphaplus.cli.common import WIDE_HELP, console, print_json, run, shown

rollbacks_app = typer.Typer(help="Rollback history: what was rolled back, when, why and by whom.",
                            no_args_is_help=True)


def operator_name() -> str | None:
    """The operating-system user running the command (recorded as on_behalf_of), if known."""
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
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """Assess production slots from live evidence and roll back those that degraded."""
    from alphaplus.cli.tables import Column, show

    from alphaplus.core.validation import check_model_name
    from alphaplus.rollback.service import SlotFilter

    if model is not None:
        check_model_name(model)

    async def go():
        service = await _service()
        return await service.assess_slots(SlotFilter(model_name=model), dry_run=dry_run, on_behalf_of=operator_name())

    results = run(go)
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    if not results:
        console.print("no production slots to assess")
        return
    rows = [r.to_row() for r in results]
    show([Column("model", 2, 20), Column("regime"), Column("symbol"), Column("version"), Column("status", 1),
          Column("outcome", max_width=18), Column("target", 3), Column("evidence", 4, 40), Column("summary", 2, 60)],
         [(r["model_name"], r["regime"], r["symbol"], r["version"], r["status"], r["outcome"],
           "" if r["target_version"] is None else r["target_version"], evidence_text(r), r["summary"]) for r in rows],
         wide=wide, title=f"rollback assessment{' (dry run)' if dry_run else ''}")
    for r in results:
        if r.status == "market_shift":
            console.print(f"[bold yellow]market shift[/bold yellow] {shown(r.slot)}: rollback of version "
                          f"{r.production_version} withheld; {shown(r.assessment.reasons[-3])}; "
                          f"{shown(r.assessment.reasons[-2])}")


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
                                              dry_run=dry_run, on_behalf_of=operator_name())

    out = run(go)
    if as_json:
        print_json(out.to_dict())
    if out.outcome == "no_safe_candidate":
        why = out.choice.reason if out.choice else "no version qualifies"
        raise NoSafeCandidate(f"no version of {out.slot} is safe to restore (recorded in `alphaplus rollbacks list`): "
                              f"{why}")
    if as_json:
        return
    if out.outcome == "aborted":
        console.print(f"nothing changed: {shown(out.reason)}")
    elif out.outcome == "dry_run":
        console.print(f"dry run: would restore version {out.to_version} (now {out.from_version})")
        console.print(shown(out.choice.reason, 2000) if out.choice else "")
    else:
        console.print(f"rolled back {shown(out.slot)}: version {out.from_version} -> {out.to_version}")
        console.print(shown(out.choice.reason, 2000) if out.choice else "")


@rollbacks_app.command("list")
def list_rollbacks(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Only this model."),
    limit: int = typer.Option(50, min=1, max=10_000, help="Most recent N events."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """List rollback events, newest first, with their reasons."""
    from dataclasses import asdict

    from alphaplus.cli.tables import Column, show

    if model is not None:
        from alphaplus.core.validation import check_model_name

        check_model_name(model)

    async def go():
        return await (await _service()).list_events(model_name=model, limit=limit)

    events = run(go)
    if as_json:
        print_json([asdict(e) for e in events])
        return
    if not events:
        console.print("no rollbacks recorded")
        return
    columns = [Column("time", 1), Column("model", 2, 20), Column("regime"), Column("symbol"), Column("from"),
               Column("to"), Column("type", 3), Column("outcome", max_width=18), Column("actor", 4, 20),
               Column("reason", 2, 60)]
    show(columns, [(f"{e.event_time:%Y-%m-%d %H:%M:%S}", e.model_name, e.regime, e.symbol, e.from_version or "",
                    to_text(e), e.rollback_type, e.outcome,
                    e.actor + (f" for {e.on_behalf_of}" if e.on_behalf_of else ""), e.rollback_reason)
                   for e in events], wide=wide, title="rollbacks")


def to_text(e) -> str:
    """The 'to' cell of an event: the restored version, 'none' when an executed rollback left the slot
    without a production version (undoing its first), blank when nothing was restored."""
    if e.to_version is not None:
        return str(e.to_version)
    return "none" if e.outcome == "executed" else ""


def register(app: typer.Typer) -> None:
    """Add ``assess``, ``rollback`` and ``rollbacks list`` to the ``alphaplus`` command."""
    app.command("assess")(assess)
    app.command("rollback")(rollback)
    app.add_typer(rollbacks_app, name="rollbacks")
