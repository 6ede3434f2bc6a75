"""Typed flow parameters shared by several flows (the Prefect UI renders them as forms)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

RegimeChoice = Literal["all", "trending", "ranging", "volatile"]


class GateSettings(BaseModel):
    """Overrides of the promotion gate for one run; empty fields keep the configured settings."""

    min_f1: float | None = Field(None, ge=0, le=1, description="Lowest F1 a challenger may have.")
    min_roc_auc: float | None = Field(None, ge=0, le=1, description="Lowest ROC AUC a challenger may have.")
    max_degradation: float | None = Field(None, ge=0, le=1, description="Largest metric loss vs the champion.")
    min_improvement: float | None = Field(None, ge=-1, le=10, description="Relative F1 gain needed over the champion.")
    min_samples: int | None = Field(None, ge=1, description="Evaluation bars needed before deciding.")
    alpha: float | None = Field(None, gt=0, lt=1, description="Significance level of McNemar's test.")
    on_insignificant: Literal["configured", "promote", "reject", "needs_review"] = Field(
        "configured", description="What a gain the test cannot tell from noise leads to "
        "(configured: keep the configured default)."
    )

    def overrides(self) -> dict[str, Any]:
        """The fields this run sets, as keyword overrides of the configured gate policy."""
        return {k: v for k, v in self.model_dump().items() if v is not None and v != "configured"}
