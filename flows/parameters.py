"""Typed flow parameters shared by several flows (the Prefect UI renders them as forms)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

RegimeChoice = Literal["all", "trending", "ranging", "volatile"]
# Where a run reads candles: "configured" follows ALPHAPLUS_CANDLE_SOURCE.
CandleSourceChoice = Literal["configured", "candles", "table", "folder"]


class GateSettings(BaseModel):
    """Overrides of the promotion gate for one run; empty fields keep the configured settings."""

    min_f1: float | None = Field(None, ge=0, le=1, description="Optional floor on F1 (point estimate).")
    min_roc_auc: float | None = Field(None, ge=0, le=1, description="Optional floor on ROC AUC (point estimate).")
    max_degradation: float | None = Field(None, ge=0, le=1, description="Largest metric loss vs the champion.")
    min_improvement: float | None = Field(
        None, ge=-1, le=10, description="Relative gain of the primary metric needed over the champion."
    )
    min_outcomes: int | None = Field(
        None, ge=1, description="Independent outcomes (unseen rows / label horizon) needed before deciding."
    )
    alpha: float | None = Field(None, gt=0, lt=0.5, description="Level of each one-sided bootstrap test.")
    primary_metric: Literal["configured", "accuracy", "balanced_accuracy", "mcc", "roc_auc", "log_loss", "brier"] = Field(
        "configured", description="Metric tested against always-up, the majority class and the champion "
        "(configured: keep the configured default)."
    )
    on_insignificant: Literal["configured", "promote", "reject", "needs_review"] = Field(
        "configured", description="What a gain the test cannot tell from noise leads to "
        "(configured: keep the configured default)."
    )
    walk_forward_folds: int | None = Field(
        None, ge=1, le=20, description="Consecutive folds; > 1 requires beating always-up in most of them."
    )

    def overrides(self) -> dict[str, Any]:
        """The fields this run sets, as keyword overrides of the configured gate policy."""
        return {k: v for k, v in self.model_dump().items() if v is not None and v != "configured"}
