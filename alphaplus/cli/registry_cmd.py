"""``alphaplus models``, ``versions``, ``history``, ``usage`` and ``quarantine``: reading the registry.

Read commands import only the registry, the catalog queries and Rich: no prefect, lightgbm or great
expectations, so they answer in well under a second.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Optional

import typer

from alphaplus.cli.common import console, print_json, run

models_app = typer.Typer(help="Registered models: version counts and production slots.", no_args_is_help=True)
versions_app = typer.Typer(help="Model versions: list, inspect, trace lineage, reproduce.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Quarantine training data or a version: it, and what descends from it, "
                                  "may no longer serve.", no_args_is_help=True)


async def _registry():
    from alphaplus.registry.service import Registry

    return await Registry.open()


def _when(value) -> str:
    return "–" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _count(value) -> str:
    return "?" if value is None else str(value)


def _parent(model: str, parent_model: str | None, parent_version: int | None) -> str:
    if parent_version is None:
        return "root"
    return str(parent_version) if parent_model == model else f"{parent_model} v{parent_version}"


def _live_window(perf) -> str:
    if not perf:
        return "no live window resolved yet"
    return (f"{_metrics({k: perf.get(k) for k in ('accuracy', 'f1', 'n_samples', 'error_rate')})} "
            f"(window ending {perf.get('window_end')})")


def _num(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _drift(drift) -> str:
    if not drift:
        return "not measured yet"
    psi = ", ".join(f"{k}={_num(v)}" for k, v in sorted((drift.get("psi") or {}).items()) if v is not None)
    return f"max PSI {_num(drift.get('max_psi'))} ({drift.get('max_psi_feature')}); {psi or 'no feature measurable'}"


def _rollback(assessment) -> str:
    if not assessment:
        return "not assessed yet"
    triggers = ", ".join(assessment.get("triggers") or []) or "none"
    return (f"{assessment.get('status')} ({assessment.get('source')}, {assessment.get('assessed_at')}): "
            f"triggers {triggers}, degradation {_num(assessment.get('degradation'))}, "
            f"confidence {_num(assessment.get('confidence'))}, risk {_num(assessment.get('risk'))}")


def _metrics(metrics) -> str:
    shown = [f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(dict(metrics).items())
             if isinstance(v, (int, float, str))]
    return ", ".join(shown) or "–"


@models_app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """List models with their version counts (per status) and production slots."""
    from rich.table import Table

    from db.pool import get_pool
    from db.catalog import list_models as query

    async def go():
        return await query(await get_pool())

    models = run(go)
    if as_json:
        print_json(models)
        return
    if not models:
        console.print("no models registered yet; see `alphaplus train`")
        return
    table = Table("model", "versions", "by status", "production slots", title="models")
    for m in models:
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(m["by_status"].items()))
        slots = "\n".join(f"{p['regime']}/{p['symbol']}: v{p['version']}" for p in m["production"]) or "–"
        table.add_row(m["model_name"], str(m["versions"]), statuses or "–", slots)
    console.print(table)


@versions_app.command("list")
def list_versions(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Only this model."),
    regime: Optional[str] = typer.Option(None, "--regime", "-r", help="Only this regime."),
    symbol: Optional[str] = typer.Option(None, "--symbol", "-s", help="Only this symbol."),
    status: Optional[str] = typer.Option(None, "--status", help="Only this status (staging, production, ...)."),
    limit: int = typer.Option(1000, "--limit", help="At most this many versions."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List versions, newest first per model, with status, slot and validation metrics."""
    from rich.table import Table

    from alphaplus.core import lifecycle
    from alphaplus.core.errors import InvalidInput

    if status is not None and status not in lifecycle.STATUSES:
        raise InvalidInput(f"unknown status {status!r}; statuses are {', '.join(lifecycle.STATUSES)}")
    if limit < 1:
        raise InvalidInput(f"--limit must be at least 1, not {limit}")

    async def go():
        registry = await _registry()
        if model is not None:
            from db.catalog import require_model

            await require_model(registry.repo.pool, model)
        return await registry.list_versions(model_name=model, regime=regime, symbol=symbol, status=status,
                                            limit=limit)

    versions = run(go)
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    if not versions:
        console.print("no versions match")
        return
    table = Table("model", "version", "regime", "symbol", "status", "created", "validation metrics",
                  title="versions")
    for v in versions:
        table.add_row(v.model_name, str(v.version), v.regime, v.symbol, v.status, _when(v.created_at),
                      _metrics(v.validation_metrics))
    console.print(table)


@versions_app.command("show")
def show_version(
    model: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version number."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Show one version: status, slot, metrics, artifact, usage and any quarantine."""
    from alphaplus.cli.lookup import parse_version, require_version

    number = parse_version(version)

    async def go():
        registry = await _registry()
        await require_version(registry.repo.pool, model, number)
        v = await registry.get_version(model, number)
        return v, await registry.quarantine_reason(model, number)

    v, quarantined = run(go)
    if as_json:
        print_json({**v.to_dict(), "quarantine_reason": quarantined})
        return
    console.print(f"[bold]{v.model_name} v{v.version}[/bold]  {v.status}  slot {v.regime}/{v.symbol}")
    console.print(f"created {_when(v.created_at)}  promoted {_when(v.promoted_at)}  updated {_when(v.updated_at)}  "
                  f"last deployed {_when(v.deployment_timestamp)}")
    console.print(f"training metrics:    {_metrics(v.training_metrics)}")
    console.print(f"validation metrics:  {_metrics(v.validation_metrics)}")
    console.print(f"performance metrics: {_live_window(v.performance_metrics)}")
    console.print(f"drift metrics:       {_drift(v.drift_metrics)}")
    console.print(f"rollback metrics:    {_rollback(v.rollback_metrics)}")
    console.print(f"artifact: {v.artifact.path}  {v.model_artifact_size_mb} MB ({v.artifact.size} bytes)  "
                  f"sha256 {v.artifact.sha256}")
    u = v.usage
    console.print(f"usage: {u.total_inferences} inferences, {u.error_count} errors ({u.error_rate:.2%}), "
                  f"{u.avg_inference_time_ms:.3f} ms mean, last used {_when(u.last_used_timestamp)}")
    console.print(f"quarantined: {quarantined}" if quarantined else "not quarantined")


@versions_app.command("lineage")
def lineage(
    model: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version number."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Show where a version came from: hashes, data window, environment, and its parents up to the root."""
    from rich.table import Table

    from alphaplus.cli.lookup import parse_version, require_version
    from db.pool import get_pool
    from db.catalog import lineage_chain

    number = parse_version(version)

    async def go():
        pool = await get_pool()
        await require_version(pool, model, number)
        return await lineage_chain(pool, model, number)

    chain = run(go)
    if as_json:
        print_json({"model_name": model, "version": number, "chain": chain})
        return
    head = chain[0]
    console.print(f"[bold]{model} v{number}[/bold]  {head['status']}  slot {head['regime']}/{head['symbol']}")
    console.print(f"training data: {head['training_data_hash']}  ({head['n_samples']} samples: "
                  f"{_count(head['training_samples'])} fitted, {_count(head['validation_samples'])} validation; "
                  f"{head['n_features']} features, {head['timeframe']}, "
                  f"{_when(head['training_data_start'])} – {_when(head['training_data_end'])})")
    console.print(f"feature set:     {head['feature_set_hash']}")
    console.print(f"hyperparameters: {head['hyperparameters_hash']}")
    console.print(f"lineage key:     {head['lineage_key']}")
    console.print(f"artifact sha256: {head['model_artifact_hash']}")
    run_note = f" in flow run {head['flow_run_id']}" if head["flow_run_id"] else ""
    console.print(f"trained by {head['created_by']}{run_note}")
    env = ", ".join(f"{k} {v}" for k, v in sorted(dict(head["training_environment"]).items())) or "not recorded"
    console.print(f"environment: {env}")
    table = Table("depth", "version", "status", "parent", "training data", "created", "quarantined",
                  title="ancestry (this version first)")
    for link in chain:
        own = link["model_name"] == model
        table.add_row(str(link["depth"]), str(link["version"]) if own else f"{link['model_name']} v{link['version']}",
                      link["status"],
                      _parent(model, link["parent_model_name"], link["parent_model_version"]),
                      link["training_data_hash"], _when(link["created_at"]), link["quarantine_reason"] or "")
    console.print(table)


def history(
    model: str = typer.Argument(..., help="Model name."),
    regime: str = typer.Option(..., "--regime", "-r", help="Regime of the slot."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Symbol of the slot."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    url: bool = typer.Option(False, "--url", help="Print the slot's dashboard page (under ALPHAPLUS_UI_URL) instead."),
) -> None:
    """Show a slot's timeline: which version served when, who moved it and why, and status changes."""
    from rich.table import Table

    from alphaplus.cli.lookup import require_slot
    from alphaplus.core.entities import Slot
    from alphaplus.monitoring.report import move_kind

    slot = Slot(model, regime, symbol)
    if url:
        _print_slot_url(slot)
        return

    async def go():
        registry = await _registry()
        await require_slot(registry.repo.pool, model, regime, symbol)
        return await registry.slot_history(slot), await registry.audit_events(model, regime=regime, symbol=symbol)

    periods, events = run(go)
    if as_json:
        print_json({"slot": asdict(slot), "served": [asdict(p) for p in periods],
                    "events": [{**asdict(e), "kind": move_kind(e.to_version, e.metadata)
                                if e.event == "production_moved" else e.event} for e in events]})
        return
    served = Table("version", "from", "to", "moved by", "reason", title=f"who served {slot}")
    for p in periods:
        served.add_row("none" if p.version is None else f"v{p.version}", _when(p.start),
                       "now" if p.end is None else _when(p.end), p.actor, p.reason)
    console.print(served if periods else f"no version of {slot} has served production yet")
    log = Table("time", "event", "version", "change", "actor", "reason", title="lifecycle events")
    for e in events:
        if e.event == "production_moved":
            what, change = move_kind(e.to_version, e.metadata), f"v{e.from_version or '–'} → v{e.to_version or '–'}"
        else:
            what, change = e.event, f"{e.from_status or '–'} → {e.to_status or '–'}" if e.to_status else ""
        actor = e.actor + (f" for {e.on_behalf_of}" if e.on_behalf_of else "")
        log.add_row(_when(e.ts), what, "" if e.version is None else str(e.version), change, actor, e.reason)
    console.print(log)


def _print_slot_url(slot) -> None:
    """The slot's stable dashboard URL, once the slot is known to exist."""
    from alphaplus.cli.lookup import require_slot
    from alphaplus.core.settings import get_settings
    from alphaplus.ui.links import absolute, slot_path

    async def go():
        from db.pool import get_pool

        await require_slot(await get_pool(), slot.model_name, slot.regime, slot.symbol)

    run(go)
    print(absolute(get_settings().ui_url, slot_path(slot.model_name, slot.regime, slot.symbol)))


def usage(
    model: str = typer.Argument(..., help="Model name."),
    version: Optional[str] = typer.Option(None, "--version", "-v", help="Only this version."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show usage per version: inferences, errors, error rate, mean latency, last use."""
    from rich.table import Table

    from alphaplus.cli.lookup import parse_version, require_version
    from db.catalog import require_model

    number = None if version is None else parse_version(version)

    async def go():
        registry = await _registry()
        if number is None:
            await require_model(registry.repo.pool, model)
            return await registry.list_versions(model_name=model)
        await require_version(registry.repo.pool, model, number)
        return [await registry.get_version(model, number)]

    versions = run(go)
    rows = [{"model_name": v.model_name, "version": v.version, "regime": v.regime, "symbol": v.symbol,
             "status": v.status, **asdict(v.usage), "error_rate": v.usage.error_rate} for v in versions]
    if as_json:
        print_json(rows)
        return
    table = Table("version", "slot", "status", "inferences", "errors", "error rate", "mean ms", "last used",
                  title=f"usage of {model}")
    for r in rows:
        table.add_row(str(r["version"]), f"{r['regime']}/{r['symbol']}", r["status"], str(r["total_inferences"]),
                      str(r["error_count"]), f"{r['error_rate']:.2%}", f"{r['avg_inference_time_ms']:.3f}",
                      _when(r["last_used_timestamp"]))
    console.print(table)


@quarantine_app.command("data")
def quarantine_data(
    data_hash: str = typer.Argument(..., metavar="HASH", help="Training-data hash, as `versions lineage` shows it."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
) -> None:
    """Quarantine training data: no version trained on it, or descending from one, may serve."""
    from db.pool import get_pool
    from alphaplus.core.errors import InvalidInput
    from db.catalog import versions_trained_on

    if not data_hash.strip():
        raise InvalidInput("give the training-data hash to quarantine")
    if not reason.strip():
        raise InvalidInput("a quarantine needs a reason (--reason)")

    async def go():
        registry = await _registry()
        await registry.quarantine_training_data(data_hash, reason=reason)
        return await versions_trained_on(await get_pool(), data_hash)

    affected = run(go)
    named = ", ".join(f"{m} v{v}" for m, v in affected)
    console.print(f"quarantined training data {data_hash}; "
                  + (f"trained on it: {named}" if affected else "no version was trained on it yet"))


@quarantine_app.command("version")
def quarantine_version(
    model: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version number."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit log)."),
) -> None:
    """Quarantine a version: it, and every version descending from it, may no longer serve."""
    from alphaplus.cli.lookup import parse_version, require_version
    from alphaplus.core.errors import InvalidInput

    number = parse_version(version)
    if not reason.strip():
        raise InvalidInput("a quarantine needs a reason (--reason)")

    async def go():
        registry = await _registry()
        await require_version(registry.repo.pool, model, number)
        await registry.quarantine_version(model, number, reason=reason)
        return (await registry.get_version(model, number)).status

    status = run(go)
    # Quarantine blocks future promotions and rollbacks to it; it does not move a slot's pointer.
    note = ("; it is production now and keeps serving until its slot is rolled back (`alphaplus rollback`)"
            if status == "production" else "")
    console.print(f"quarantined {model} v{number}{note}")


def register(app: typer.Typer) -> None:
    """Add ``models``, ``versions``, ``history``, ``usage`` and ``quarantine`` to the ``alphaplus`` command.

    ``versions reproduce`` (a write path, defined with the training commands) joins the ``versions``
    group here, once.
    """
    from alphaplus.cli import pipeline_cmd

    if not any(c.name == "reproduce" for c in versions_app.registered_commands):
        pipeline_cmd.register_versions(versions_app)
    app.add_typer(models_app, name="models")
    app.add_typer(versions_app, name="versions")
    app.command("history")(history)
    app.command("usage")(usage)
    app.add_typer(quarantine_app, name="quarantine")
