"""Run every benchmark and print one table; write the numbers and the machine's facts as JSON.

    python -m benchmarks [--quick] [--json FILE] [--only NAME ...]

``--quick`` uses small sizes (a smoke run: the numbers are not comparable with a full run). A module
that fails shows up as an ERROR row; the others still run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

# Before any module imports prefect: no telemetry, no network.
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"

MODULES = ("bench_registry", "bench_retrain", "bench_inference", "bench_assess", "bench_decisions",
           "bench_rollback_oc", "bench_ui", "bench_scale", "bench_replay")
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"
TIME_UNITS = {"ns", "us", "ms", "s"}

# Modules whose run() takes no size: their module-level sizes, made small for --quick.
QUICK_CONSTANTS: dict[str, dict[str, Any]] = {}
QUICK_ARGS = {"bench_assess": {"sizes": (100,)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write results ({DEFAULT_JSON})")
    parser.add_argument("--only", nargs="+", choices=MODULES, help="run only these modules")
    args = parser.parse_args(argv)

    from benchmarks.common import machine_facts

    facts = machine_facts()
    started_at = datetime.now(timezone.utc)
    rows: list[dict[str, Any]] = []
    durations: dict[str, float] = {}
    for name in args.only or MODULES:
        print(f"running {name}{' (quick)' if args.quick else ''} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        for r in _run_module(name, args.quick):
            rows.append({"bench": name, **r})
        durations[name] = round(time.perf_counter() - started, 2)
    with contextlib.suppress(OSError):
        facts["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    for r in rows:
        r["met"] = verdict(r)

    print_table(rows, facts)
    result = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "quick": args.quick,
        "git_commit": _git_commit(),
        "machine": facts,
        "module_seconds": durations,
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwritten to {args.json}")
    return 1 if any(r["met"] == "ERROR" for r in rows) else 0


def _run_module(name: str, quick: bool) -> list[dict[str, Any]]:
    """The rows of one module's run(); an exception becomes one ERROR row."""
    try:
        module = importlib.import_module(f"benchmarks.{name}")
        params = inspect.signature(module.run).parameters
        kwargs: dict[str, Any] = {}
        if quick and "quick" in params:
            kwargs["quick"] = True
        elif quick:
            kwargs = {k: v for k, v in QUICK_ARGS.get(name, {}).items() if k in params}
        with _constants(module, QUICK_CONSTANTS.get(name, {}) if quick else {}):
            return list(module.run(**kwargs))
    except Exception as e:  # noqa: BLE001 - one module's failure must not hide the others' numbers
        traceback.print_exc(file=sys.stderr)
        message = (str(e).strip().splitlines() or [""])[0][:160]
        return [{"measure": f"ERROR {e.__class__.__name__}: {message}", "value": None, "unit": "",
                 "target": None, "baseline": None}]


@contextlib.contextmanager
def _constants(module: Any, values: dict[str, Any]) -> Iterator[None]:
    saved = {k: getattr(module, k) for k in values if hasattr(module, k)}
    for k in saved:
        setattr(module, k, values[k])
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(module, k, v)


def verdict(r: dict[str, Any]) -> str:
    """"yes"/"no" against the row's target, "" without one, "?" for a target that is not a bound."""
    value, target = r.get("value"), r.get("target")
    if value is None:
        return "ERROR"
    if target is None or target == "":
        return ""
    if isinstance(target, (int, float)):
        # A bare number is a ceiling for a time and a floor for a rate.
        op, bound = ("<=" if r.get("unit") in TIME_UNITS else ">="), float(target)
    else:
        m = re.fullmatch(r"\s*(>=|<=|>|<)\s*([-+0-9.eE_,]+)\s*", str(target))
        if not m:
            return "n/a"
        op, bound = m.group(1), float(m.group(2).replace(",", "").replace("_", ""))
    ok = {">=": value >= bound, "<=": value <= bound, ">": value > bound, "<": value < bound}[op]
    return "yes" if ok else "NO"


def target_text(r: dict[str, Any]) -> str:
    target = r.get("target")
    if target is None:
        return ""
    if isinstance(target, (int, float)):
        return f"{'<=' if r.get('unit') in TIME_UNITS else '>='} {fmt(target)}"
    return str(target)


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, (int, float)):
        return str(value)
    v = float(value)
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def print_table(rows: list[dict[str, Any]], facts: dict[str, Any] | None = None) -> None:
    """One table: measure, value, unit, target, baseline measured in the same run, met?, what the
    baseline is."""
    if facts:
        print(f"machine: {facts.get('cores')} cores, {facts.get('cpu_model')}, {facts.get('memory_gb')} GB, "
              f"Python {facts.get('python')}, PostgreSQL {facts.get('postgresql')} ({facts.get('database')}), "
              f"load {facts.get('load_average')} -> {facts.get('load_average_after')}")
    header = ("bench", "measure", "value", "unit", "target", "baseline", "met?", "baseline is / note")
    table = [header] + [
        (str(r.get("bench", "")).removeprefix("bench_"), r["measure"], fmt(r["value"]), r["unit"], target_text(r),
         fmt(r.get("baseline")), r.get("met", verdict(r)), str(r.get("note", "")).removeprefix("baseline: "))
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    right = {2, 5}
    for n, line in enumerate(table):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parents[1], check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


if __name__ == "__main__":
    sys.exit(main())
