"""``alphaplus models``, ``versions``, ``history`` and ``usage``: reading the registry.

Read commands import only the registry, the catalog queries and Rich: no prefect, lightgbm or great
expectations, so they answer in well under a second.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Optional

import typer

from alphaplus.cli.common import WIDE_HELP, console, print_json, run, shown
from alphaplus.cli.tables import Column, show
from alphaplus.core.validation import check_model_name, check_name, check_slot_names, quoted

# The most versions one listing returns (a number the database's LIMIT takes as is).
_LIST_LIMIT = 100_000

models_app = typer.Typer(help="Registered models: version counts and production slots.", no_args_is_help=True)
versions_app = typer.Typer(help="Model versions: list, inspect, trace lineage, reproduce.", no_args_is_help=True)

def check_filters(model: str | None, regime: str | None, symbol: str | None) -> None:
    """Names given as filters follow the naming rule too: a name that breaks it cannot exist."""
    if model is not None:
        check_model_name(model)
    for kind, value in (("regime", regime), ("symbol", symbol)):
        if value is not None:
            check_name(kind, value)


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


def _metrics_by_set(v, gate) -> None:
    """The version's metrics as a table, one column per set they were measured on, with what each set is."""
    from alphaplus.registry.metric_sets import SET_DESCRIPTIONS, metric_sets

    names, rows = metric_sets(v.training_metrics, v.validation_metrics, v.performance_metrics,
                              gate=(gate or {}).get("metrics"))
    if not rows:
        console.print("metrics: none recorded")
        return
    show([Column("metric"), *(Column(n, 1 + i, justify="right") for i, n in enumerate(names))],
         [(k, *(_num(x) if isinstance(x, float) else ("" if x is None else x) for x in values)) for k, values in rows],
         wide=False, title="metrics by set")
    notes = dict(SET_DESCRIPTIONS)
    if gate:
        notes["gate window"] += f" ({gate['n_samples']:,} rows, {_when(gate['window_start'])} to {_when(gate['window_end'])})"
    if v.performance_metrics:
        notes["live"] += f" (latest window ending {v.performance_metrics.get('window_end')})"
    for n in names:
        console.print(f"  {n}: {notes[n]}")


def _metrics(metrics) -> str:
    parts = [f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(dict(metrics).items())
             if isinstance(v, (int, float, str))]
    return ", ".join(parts) or "–"


@models_app.command("list")
def list_models(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """List models with their version counts (per status) and production slots."""
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
    rows = [(m["model_name"], m["versions"],
             ", ".join(f"{s} {n}" for s, n in sorted(m["by_status"].items())) or "–",
             ", ".join(f"{p['regime']}/{p['symbol']}: v{p['version']}" for p in m["production"]) or "–")
            for m in models]
    show([Column("model", max_width=28), Column("versions", justify="right"), Column("by status", 2, 40),
          Column("production slots", 1, 60)], rows, wide=wide, title="models")


@versions_app.command("list")
def list_versions(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Only this model."),
    regime: Optional[str] = typer.Option(None, "--regime", "-r", help="Only this regime."),
    symbol: Optional[str] = typer.Option(None, "--symbol", "-s", help="Only this symbol."),
    status: Optional[str] = typer.Option(None, "--status", help="Only this status (staging, production, ...)."),
    limit: int = typer.Option(1000, "--limit", help="At most this many versions."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """List versions, newest first per model, with status, slot and validation metrics."""
    from alphaplus.core import lifecycle
    from alphaplus.core.errors import InvalidInput

    if status is not None and status not in lifecycle.STATUSES:
        raise InvalidInput(f"unknown status {quoted(status)}; statuses are {', '.join(lifecycle.STATUSES)}")
    if not 1 <= limit <= _LIST_LIMIT:
        raise InvalidInput(f"--limit must be from 1 to {_LIST_LIMIT:,}, not {quoted(limit, 20)}")
    check_filters(model, regime, symbol)

    async def go():
        registry = await _registry()
        if model is not None:
            await registry.require_model(model)
        return await registry.list_versions(model_name=model, regime=regime, symbol=symbol, status=status,
                                            limit=limit)

    versions = run(go)
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    if not versions:
        console.print("no versions match")
        return
    columns = [Column("model", max_width=20), Column("version", justify="right"), Column("regime"),
               Column("symbol"), Column("status"), Column("created", 1), Column("validation metrics", 2, 48)]
    show(columns, [(v.model_name, v.version, v.regime, v.symbol, v.status, _when(v.created_at),
                    _metrics(v.validation_metrics)) for v in versions], wide=wide, title="versions")


@versions_app.command("show")
def show_version(
    model: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version number."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Show one version: status, slot, metrics, artifact, usage and any quarantine."""
    from alphaplus.cli.lookup import parse_version

    number = parse_version(version)
    check_model_name(model)

    async def go():
        registry = await _registry()
        await registry.require_version(model, number)
        v = await registry.get_version(model, number)
        gate = await registry.latest_gate(model, number)
        return v, await registry.quarantine_reason(model, number), gate

    v, quarantined, gate = run(go)
    if as_json:
        print_json({**v.to_dict(), "gate_window": gate, "quarantine_reason": quarantined})
        return
    console.print(f"[bold]{shown(v.model_name)} v{v.version}[/bold]  {v.status}  "
                  f"slot {shown(v.regime)}/{shown(v.symbol)}")
    console.print(f"created {_when(v.created_at)}  promoted {_when(v.promoted_at)}  updated {_when(v.updated_at)}  "
                  f"last deployed {_when(v.deployment_timestamp)}")
    _metrics_by_set(v, gate)
    console.print(f"latest live window:  {shown(_live_window(v.performance_metrics), 2000)}")
    console.print(f"drift metrics:       {shown(_drift(v.drift_metrics), 2000)}")
    console.print(f"rollback metrics:    {shown(_rollback(v.rollback_metrics), 2000)}")
    console.print(f"artifact: {shown(v.artifact.path)}  {v.model_artifact_size_mb} MB ({v.artifact.size} bytes)  "
                  f"sha256 {shown(v.artifact.sha256)}")
    u = v.usage
    console.print(f"usage: {u.total_inferences} inferences, {u.error_count} errors ({u.error_rate:.2%}), "
                  f"{u.avg_inference_time_ms:.3f} ms mean, last used {_when(u.last_used_timestamp)}")
    console.print(f"quarantined: {shown(quarantined)}" if quarantined else "not quarantined")


@versions_app.command("lineage")
def lineage(
    model: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version number."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """Show where a version came from: hashes, data window, environment, and its parents up to the root."""
    from alphaplus.cli.lookup import parse_version
    from db.catalog import lineage_chain
    from db.pool import get_pool

    number = parse_version(version)
    check_model_name(model)

    async def go():
        await (await _registry()).require_version(model, number)
        return await lineage_chain(await get_pool(), model, number)

    chain = run(go)
    if as_json:
        print_json({"model_name": model, "version": number, "chain": chain})
        return
    head = chain[0]
    console.print(f"[bold]{shown(model)} v{number}[/bold]  {head['status']}  "
                  f"slot {shown(head['regime'])}/{shown(head['symbol'])}")
    console.print(f"training data: {shown(head['training_data_hash'])}  ({head['n_samples']} samples: "
                  f"{_count(head['training_samples'])} fitted, {_count(head['validation_samples'])} validation; "
                  f"{head['n_features']} features, {shown(head['timeframe'])}, "
                  f"{_when(head['training_data_start'])} – {_when(head['training_data_end'])})")
    console.print(f"feature set:     {shown(head['feature_set_hash'])}")
    console.print(f"hyperparameters: {shown(head['hyperparameters_hash'])}")
    console.print(f"lineage key:     {shown(head['lineage_key'])}")
    console.print(f"artifact sha256: {shown(head['model_artifact_hash'])}")
    run_note = f" in flow run {shown(head['flow_run_id'])}" if head["flow_run_id"] else ""
    console.print(f"trained by {shown(head['created_by'])}{run_note}")
    env = ", ".join(f"{k} {v}" for k, v in sorted(dict(head["training_environment"]).items())) or "not recorded"
    console.print(f"environment: {shown(env, 2000)}")
    rows = [(link["depth"], link["version"] if link["model_name"] == model else f"{link['model_name']} v{link['version']}",
             link["status"], _parent(model, link["parent_model_name"], link["parent_model_version"]),
             link["training_data_hash"], _when(link["created_at"]), link["quarantine_reason"] or "")
            for link in chain]
    show([Column("depth", 3), Column("version"), Column("status"), Column("parent"),
          Column("training data", 1, 24), Column("created", 4), Column("quarantined", 2, 40)],
         rows, wide=wide, title="ancestry (this version first)")


def history(
    model: str = typer.Argument(..., help="Model name."),
    regime: str = typer.Option(..., "--regime", "-r", help="Regime of the slot."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Symbol of the slot."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
    url: bool = typer.Option(False, "--url", help="Print the slot's dashboard page (under ALPHAPLUS_UI_URL) instead."),
) -> None:
    """Show a slot's timeline: which version served when, who moved it and why, and status changes."""
    from alphaplus.core.entities import Slot
    from alphaplus.monitoring.report import move_kind

    check_slot_names(model, regime, symbol)
    slot = Slot(model, regime, symbol)
    if url:
        _print_slot_url(slot)
        return

    async def go():
        registry = await _registry()
        await registry.require_slot(slot)
        return await registry.slot_history(slot), await registry.audit_events(model, regime=regime, symbol=symbol)

    periods, events = run(go)
    if as_json:
        print_json({"slot": asdict(slot), "served": [asdict(p) for p in periods],
                    "events": [{**asdict(e), "kind": move_kind(e.to_version, e.metadata)
                                if e.event == "production_moved" else e.event} for e in events]})
        return
    if periods:
        show([Column("version"), Column("from"), Column("to"), Column("moved by", 2, 20), Column("reason", 1, 60)],
             [("none" if p.version is None else f"v{p.version}", _when(p.start),
               "now" if p.end is None else _when(p.end), p.actor, p.reason) for p in periods],
             wide=wide, title=f"who served {shown(slot)}")
    else:
        console.print(f"no version of {shown(slot)} has served production yet")
    rows = []
    for e in events:
        if e.event == "production_moved":
            what, change = move_kind(e.to_version, e.metadata), f"v{e.from_version or '–'} → v{e.to_version or '–'}"
        else:
            what, change = e.event, f"{e.from_status or '–'} → {e.to_status or '–'}" if e.to_status else ""
        actor = e.actor + (f" for {e.on_behalf_of}" if e.on_behalf_of else "")
        rows.append((_when(e.ts), what, "" if e.version is None else e.version, change, actor, e.reason))
    show([Column("time"), Column("event", max_width=18), Column("version", 2), Column("change"),
          Column("actor", 3, 20), Column("reason", 1, 60)], rows, wide=wide, title="lifecycle events")


def _print_slot_url(slot) -> None:
    """The slot's stable dashboard URL, once the slot is known to exist."""
    from alphaplus.core.settings import get_settings
    from alphaplus.ui.links import absolute, slot_path

    async def go():
        await (await _registry()).require_slot(slot)

    run(go)
    print(absolute(get_settings().ui_url, slot_path(slot.model_name, slot.regime, slot.symbol)))


def usage(
    model: str = typer.Argument(..., help="Model name."),
    version: Optional[str] = typer.Option(None, "--version", "-v", help="Only this version."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """Show usage per version: inferences, errors, error rate, mean latency, last use."""
    from alphaplus.cli.lookup import parse_version

    number = None if version is None else parse_version(version)
    check_model_name(model)

    async def go():
        registry = await _registry()
        if number is None:
            await registry.require_model(model)
            return await registry.list_versions(model_name=model)
        await registry.require_version(model, number)
        return [await registry.get_version(model, number)]

    versions = run(go)
    rows = [{"model_name": v.model_name, "version": v.version, "regime": v.regime, "symbol": v.symbol,
             "status": v.status, **asdict(v.usage), "error_rate": v.usage.error_rate} for v in versions]
    if as_json:
        print_json(rows)
        return
    show([Column("version"), Column("slot", max_width=24), Column("status", 1), Column("inferences", justify="right"),
          Column("errors", 2, justify="right"), Column("error rate", justify="right"),
          Column("mean ms", 1, justify="right"), Column("last used", 3)],
         [(r["version"], f"{r['regime']}/{r['symbol']}", r["status"], r["total_inferences"], r["error_count"],
           f"{r['error_rate']:.2%}", f"{r['avg_inference_time_ms']:.3f}", _when(r["last_used_timestamp"]))
          for r in rows], wide=wide, title=f"usage of {shown(model)}")


def register(app: typer.Typer) -> None:
    """Add ``models``, ``versions``, ``history`` and ``usage`` to the ``alphaplus`` command.

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
