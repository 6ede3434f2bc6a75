"""``alphaplus quarantine data`` and ``quarantine version``: keep bad data, or a bad version, and what
descends from it out of production."""

from __future__ import annotations

from typing import Any

import typer

from alphaplus.cli.common import console, print_json, run, shown

app = typer.Typer(help="Quarantine training data or a version: it, and what descends from it, may no longer serve.",
                  no_args_is_help=True)

_ROLL_BACK_HELP = ("Roll back every slot serving a version this quarantine covers (audited), in the same "
                   "transaction. Without it, such a quarantine is refused.")


def _operator() -> str | None:
    from alphaplus.cli.rollback_cmd import operator_name

    return operator_name()


async def _quarantine(roll_back: bool, **target: Any):
    """(quarantine, rollbacks): through the rollback service with --roll-back, else refused if serving."""
    if roll_back:
        from alphaplus.rollback.quarantine import quarantine_and_roll_back
        from alphaplus.rollback.service import RollbackService

        return await quarantine_and_roll_back(await RollbackService.open(), on_behalf_of=_operator(), **target)
    from alphaplus.registry.service import Registry

    registry = await Registry.open()
    if "training_data_hash" in target:
        return await registry.quarantine_training_data(**target), []
    return await registry.quarantine_version(**target), []


def _report(what: str, record, rollbacks: list, as_json: bool, extra: dict | None = None) -> None:
    from dataclasses import asdict

    if as_json:
        print_json({"quarantine": asdict(record), "rolled_back": [r.to_dict() for r in rollbacks], **(extra or {})})
        return
    if record.created:
        console.print(f"quarantined {shown(what)}")
    else:
        console.print(f"{shown(what)} was already quarantined by {shown(record.created_by)} at "
                      f"{record.created_at:%Y-%m-%d %H:%M:%S}: {shown(record.reason)} (nothing changed)")
    for r in rollbacks:
        console.print(f"rolled back {shown(r.slot)}: version {r.from_version} -> {r.to_version}")


@app.command("data")
def quarantine_data(
    data_hash: str = typer.Argument(..., metavar="HASH", help="Training-data hash, as `versions lineage` shows it."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
    roll_back: bool = typer.Option(False, "--roll-back", help=_ROLL_BACK_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Quarantine training data: no version trained on it, or descending from one, may serve."""
    from alphaplus.core.errors import InvalidInput
    from alphaplus.core.validation import check_hash, check_reason
    from db.catalog import versions_trained_on
    from db.pool import get_pool

    if not reason.strip():
        raise InvalidInput("a quarantine needs a reason (--reason)")
    check_hash(data_hash)
    check_reason(reason)

    async def go():
        record, rollbacks = await _quarantine(roll_back, training_data_hash=data_hash, reason=reason)
        return record, rollbacks, await versions_trained_on(await get_pool(), data_hash)

    record, rollbacks, affected = run(go)
    _report(f"training data {data_hash}", record, rollbacks, as_json,
            {"trained_on_it": [{"model_name": m, "version": v} for m, v in affected]})
    if not as_json:
        named = ", ".join(f"{m} v{v}" for m, v in affected)
        console.print(f"trained on it: {shown(named)}" if affected else "no version was trained on it yet")


@app.command("version")
def quarantine_version(
    model: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version number."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
    roll_back: bool = typer.Option(False, "--roll-back", help=_ROLL_BACK_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Quarantine a version: it, and every version descending from it, may no longer serve."""
    from alphaplus.cli.lookup import parse_version
    from alphaplus.core.errors import InvalidInput
    from alphaplus.core.validation import check_model_name, check_reason
    from alphaplus.registry.service import Registry

    number = parse_version(version)
    check_model_name(model)
    if not reason.strip():
        raise InvalidInput("a quarantine needs a reason (--reason)")
    check_reason(reason)

    async def go():
        await (await Registry.open()).require_version(model, number)
        return await _quarantine(roll_back, model_name=model, version=number, reason=reason)

    record, rollbacks = run(go)
    _report(f"{model} v{number}", record, rollbacks, as_json)


def register(root: typer.Typer) -> None:
    """Add the ``quarantine`` group to the ``alphaplus`` command."""
    root.add_typer(app, name="quarantine")
