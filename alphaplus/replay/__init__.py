"""Lifecycle replay: retraining, the promotion gate, serving, outcome resolution, assessment and
rollback walked through history on a simulated clock, in a scratch database of its own."""
