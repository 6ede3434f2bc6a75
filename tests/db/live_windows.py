"""Live performance windows and a holdout baseline for rollback tests on a real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from alphaplus.rollback.statistics import Confusion

HOUR = timedelta(hours=1)
H = 12
LOOK = 10 * H  # outcome rows of one look at the default settings
# Holdout of every version here: accuracy 0.60 on 4,000 balanced outcomes, worth 4,000 / 7 independent.
HOLDOUT = {**Confusion(1_200, 800, 800, 1_200).to_dict(), "n_effective": 4_000 / 7, "label_horizon": H,
           "reference_class": 1}


async def write_window(pool, version, *, start, n=LOOK, acc=0.60, errors=0, source="live"):
    """One window of ``version``: ``n`` outcomes on balanced labels with exact accuracy, confusion counts."""
    correct = round(acc * n)
    tp, fp = correct // 2, (n - correct) // 2
    fn = n - correct - fp
    await pool.execute(
        """
        INSERT INTO model_performance_history (ts, window_start, model_name, version, regime, symbol, source,
            n_samples, n_correct, accuracy, f1, total_inferences, error_count, error_rate, metrics)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        """,
        start + HOUR, start, version.model_name, version.version, version.regime, version.symbol, source,
        n, correct, correct / n, acc, n + errors, errors, errors / (n + errors),
        {"true_positives": tp, "false_positives": fp, "false_negatives": fn, "label_horizon": H},
    )
    return start + HOUR
