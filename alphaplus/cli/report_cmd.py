"""``alphaplus report``: a slot's live metrics per version over time, with its promotions and rollbacks."""

from __future__ import annotations

from pathlib import Path

import typer

from alphaplus.cli.common import console, run, shown


def report(
    model: str = typer.Argument(..., help="Model name."),
    regime: str = typer.Option(..., "--regime", "-r", help="Regime of the slot."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Symbol of the slot."),
    out: Path = typer.Option(..., "--out", "-o", help="File to write: .png (the plot) or .html (plot and timeline)."),
) -> None:
    """Plot a slot's live accuracy, F1, error rate and drift per version, with promotions and rollbacks."""
    from datetime import datetime, timezone

    from alphaplus.core.entities import Slot
    from alphaplus.core.settings import get_settings
    from alphaplus.core.validation import check_slot_names
    from alphaplus.monitoring.report import SlotReport, moves_from_rows, points_from_rows, report_format, write_report
    from alphaplus.registry.service import Registry
    from db.pool import get_pool
    from db.report import live_history, pointer_moves

    check_slot_names(model, regime, symbol)
    report_format(out)
    slot = Slot(model, regime, symbol)

    async def go():
        await (await Registry.open()).require_slot(slot)
        pool = await get_pool()
        return await live_history(pool, slot), await pointer_moves(pool, slot)

    history, moves = run(go)
    settings = get_settings()
    data = SlotReport(
        slot=slot, points=points_from_rows(history), moves=moves_from_rows(moves),
        generated_at=datetime.now(timezone.utc),
        thresholds={"error_rate": settings.rollback_error_rate, "max_psi": settings.rollback_psi},
    )
    path = write_report(data, out)
    versions = len({p.version for p in data.points})
    console.print(f"wrote {shown(path)}: {len(data.points)} live windows of {versions} version(s), "
                  f"{len(data.moves)} production move(s)")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the ``alphaplus`` command."""
    app.command("report")(report)
