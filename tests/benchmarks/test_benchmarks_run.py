"""Every benchmark still runs: its quick sizes, in a process of its own, against the suite's server.

The numbers of a quick run mean nothing; what is tested is that a benchmark was not left behind by a
change of the code it measures (a renamed keyword, a stamped column), which ``make bench`` would
otherwise show as an ERROR row only when someone runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import MODULES

ROOT = Path(__file__).resolve().parents[2]
# Those that start Prefect's temporary API or a Dask cluster are run by the flow and scale tests'
# own paths and cost most of a minute each here.
SLOW = {"bench_retrain", "bench_scale"}


@pytest.mark.parametrize("module", [m for m in MODULES if m not in SLOW])
def test_the_benchmark_runs_to_the_end_with_quick_sizes(module, server_dsn, tmp_path):
    out = tmp_path / "result.json"
    env = {**os.environ, "ALPHAPLUS_DATABASE_URL": server_dsn, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", module, "--json", str(out)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    rows = json.loads(out.read_text())["rows"] if out.exists() else []
    errors = [r["measure"] for r in rows if r["met"] == "ERROR"]
    assert done.returncode == 0 and rows and not errors, errors or done.stderr[-2000:]
