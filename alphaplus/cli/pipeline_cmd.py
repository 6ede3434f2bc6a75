"""``alphaplus train``, ``alphaplus promote`` and ``alphaplus versions reproduce``: write paths."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable, List, Optional, TypeVar

import typer

from alphaplus.cli.common import console, print_json, run, shown

T = TypeVar("T")
VERBOSE_HELP = "Show the flow runs' logs and tracebacks (or set ALPHAPLUS_LOG_LEVEL)."
# Set on an exception whose traceback run_flow printed, so the CLI's last line says where it is.
TRACEBACK_SHOWN = "alphaplus_traceback_shown"


def prefect_environment(verbose: bool = False) -> None:
    """Prefect defaults for a CLI process: no telemetry, a private home, quiet logs (a failed run ends
    in the CLI's one-line reason; ``verbose`` or ALPHAPLUS_LOG_LEVEL show Prefect's logs and
    tracebacks), and (unless PREFECT_API_URL is set) a temporary API that dies with this process
    (alphaplus.cli.temporary_api)."""
    from alphaplus.core.settings import get_settings

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_HOME", str((get_settings().home / "prefect").resolve()))
    # Set, not defaulted: a level inherited from a parent (make exports WARNING for its own runs)
    # would print the run's error logs and traceback above the one-line reason.
    chosen = "INFO" if verbose else get_settings().log_level
    os.environ["PREFECT_LOGGING_LEVEL"] = (chosen or "CRITICAL").upper()
    if chosen is None:
        # Prefect's background services log through loggers outside "prefect" (EventsWorker: "still
        # processing items" while a failed run shuts down), which reach the root logger's console.
        os.environ["PREFECT_LOGGING_ROOT_LEVEL"] = "CRITICAL"
    # The temporary server's own services log cancellation tracebacks at exit: not the user's concern.
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_SERVER_LEVEL", "CRITICAL")
    # Prefect creates its home without parents: make it, or it warns and falls back.
    home = Path(os.environ["PREFECT_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    from alphaplus.cli import temporary_api

    temporary_api.start(home, float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))


def run_flow(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine that runs flows (after ``prefect_environment``). A user-level failure (an
    AlphaPlus error: bad data, no candles, too few rows) propagates as is and ends in its one-line
    reason; an unexpected one, of the run or of a slot of it, has its traceback printed on stderr
    first, whatever the log level."""
    import traceback

    from alphaplus.core.errors import AlphaPlusError, RunFailed

    try:
        return run(make)
    except RunFailed as e:
        print_slot_tracebacks(e.results)
        raise
    except AlphaPlusError:
        raise
    except Exception as e:
        traceback.print_exception(e, file=sys.stderr)
        try:
            setattr(e, TRACEBACK_SHOWN, True)
        except AttributeError:  # an exception type without a __dict__
            pass
        raise


def print_slot_tracebacks(results: list[dict[str, Any]]) -> None:
    """On stderr, the traceback of each slot that failed for an unexpected reason (a bug)."""
    for r in results:
        if r.get("traceback"):
            print(f"slot {r['symbol']}/{r['regime']} failed unexpectedly:\n{r['traceback']}", end="", file=sys.stderr)


def train(
    symbol: List[str] = typer.Option(..., "--symbol", "-s", help="Symbol to retrain (repeat for several)."),
    regime: str = typer.Option("all", help="Regime: all, trending, ranging or volatile."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name (default from settings)."),
    timeframe: str = typer.Option("1h", help="Candle timeframe."),
    horizon: int = typer.Option(12, min=1, max=1000, help="Label horizon in bars."),
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Run the promotion gate after training."),
    canary: bool = typer.Option(False, help="On a passed gate, start a canary instead of promoting."),
    source: Optional[str] = typer.Option(
        None, "--source", help="Read candles from: candles (imported), table (ALPHAPLUS_CANDLE_TABLE) or folder "
                               "(ALPHAPLUS_CANDLE_FOLDER). Default: ALPHAPLUS_CANDLE_SOURCE."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP),
) -> None:
    """Retrain slots with the retrain flow (quality gate, LightGBM, lineage, staging, promotion gate)."""
    from alphaplus.cli.data_cmd import canonical_timeframe
    from alphaplus.core.errors import InvalidInput, RunFailed
    from alphaplus.core.settings import get_settings
    from alphaplus.core.validation import check_model_name, check_name, quoted
    from alphaplus.ml.regimes import REGIMES

    if regime != "all" and regime not in REGIMES:
        raise InvalidInput(f"unknown regime {quoted(regime)}; choose all or one of {', '.join(REGIMES)}")
    for s in symbol:
        check_name("symbol", s)
    model = check_model_name(model or get_settings().default_model_name)
    timeframe = canonical_timeframe(timeframe)
    if source is not None and source not in ("candles", "table", "folder"):
        raise InvalidInput(f"unknown candle source {quoted(source)}; choose candles, table or folder")
    prefect_environment(verbose)
    from flows.retrain import retrain

    try:
        with console.status("retraining…"):
            results = run_flow(lambda: retrain(
                symbols=symbol, regime=regime, model_name=model,
                timeframe=timeframe, horizon=horizon, promote=promote, canary=canary,
                candle_source=source or "configured",
            ))
    except RunFailed as e:
        # Every slot's result is shown, the failed ones included, before the one-line error.
        show_results(e.results, as_json)
        raise
    show_results(results, as_json)


def show_results(results: list[dict[str, Any]], as_json: bool) -> None:
    """One row per retrained slot (JSON with ``--json``); a skipped or failed slot says why (an
    unexpected failure's traceback goes to stderr, from run_flow)."""
    results = [{k: v for k, v in r.items() if k != "traceback"} for r in results]
    if as_json:
        print_json(results)
        return
    from alphaplus.cli.tables import Column, show

    rows = [(r["symbol"], r["regime"], r.get("version", "–"), r.get("created", "–"), r.get("decision", r["status"]),
             "; ".join(r.get("reasons") or [r[k] for k in ("reason", "error") if r.get(k)]))
            for r in results]
    show([Column("symbol"), Column("regime"), Column("version"), Column("new", 2), Column("decision"),
          Column("why", 1, 60, wrap=True)], rows, wide=False)


def promote(
    model: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version number to promote."),
    regime: str = typer.Option(..., help="Regime of the slot (must match the version)."),
    symbol: str = typer.Option(..., help="Symbol of the slot (must match the version)."),
    force: bool = typer.Option(False, help="Skip the gate (audited as forced; needs --reason)."),
    reason: str = typer.Option("", help="Why; recorded in the audit log."),
    canary: bool = typer.Option(False, help="On a passed gate, start a canary instead."),
    on_behalf_of: Optional[str] = typer.Option(None, help="Person this change is made for."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Promote a version through the gate (or --force it) to its slot's production."""
    from alphaplus.cli.lookup import parse_version
    from alphaplus.core.errors import InvalidInput
    from alphaplus.core.validation import check_on_behalf_of, check_reason, check_slot_names
    from alphaplus.promotion.service import PromotionService
    from alphaplus.registry.service import Registry

    version = parse_version(version)
    check_slot_names(model, regime, symbol)
    check_reason(reason, required=False)
    check_on_behalf_of(on_behalf_of)

    async def go() -> dict:
        registry = await Registry.open()
        target = await registry.get_version(model, version)
        if (target.regime, target.symbol) != (regime, symbol):
            raise InvalidInput(
                f"version {version} of {model} serves ({target.regime}, {target.symbol}), not ({regime}, {symbol})"
            )
        if force:
            return await PromotionService(registry).force_promote(
                model, version, reason=reason, on_behalf_of=on_behalf_of, flow_run_id=None
            )
        outcome, _ = await PromotionService(registry).promote_with_gate(
            model, version, on_behalf_of=on_behalf_of, canary=canary
        )
        return {"decision": outcome.decision.outcome, "reasons": list(outcome.decision.reasons),
                "champion_version": outcome.champion_version, "challenger_version": version}

    result = run(go)
    if as_json:
        print_json(result)
        return
    console.print(f"{shown(model)} v{version}: {result['decision']}")
    for r in result.get("reasons", []):
        console.print(f"  - {shown(r, 2000)}")


def reproduce(
    model: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version number."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Retrain a version from its recorded lineage and compare data and artifact hashes."""
    from alphaplus.cli.lookup import parse_version
    from alphaplus.core.validation import check_model_name
    from alphaplus.registry.reproduce import reproduce_version
    from alphaplus.registry.service import Registry

    number = parse_version(version)
    check_model_name(model)

    async def go():
        registry = await Registry.open()
        await registry.require_version(model, number)
        return await reproduce_version(registry, model, number)

    outcome = run(go)
    if as_json:
        print_json(outcome.to_dict())
    else:
        verdict = lambda ok: "matches" if ok else "DIFFERS"  # noqa: E731
        stored = "MISSING" if outcome.stored_artifact_hash is None else verdict(outcome.stored_matches)
        console.print(f"data hash         {verdict(outcome.data_matches)}: {outcome.data_hash}")
        console.print(f"retrained model   {verdict(outcome.artifact_matches)}: {outcome.artifact_hash}")
        console.print(f"stored artifact   {stored}: {shown(outcome.artifact_path)} "
                      f"({outcome.stored_artifact_hash or 'not readable'})")
        if outcome.reference_artifact_hash != outcome.recorded_artifact_hash:
            console.print(f"  (stored as a {outcome.stored_format}, sha256 {outcome.recorded_artifact_hash}: "
                          "compared with its model in the current format)")
    if not outcome.all_match:
        raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    """Add train and promote to the root app."""
    app.command("train")(train)
    app.command("promote")(promote)


def register_versions(versions_app: typer.Typer) -> None:
    """Add ``reproduce`` to the ``versions`` group."""
    versions_app.command("reproduce")(reproduce)
