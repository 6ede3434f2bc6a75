"""Inference inside a trading process: the engine that serves each slot's production model and the
recorder that writes every prediction to PostgreSQL without making the prediction wait.

Import from the submodules: ``engine`` (InferenceEngine, Bar, Prediction), ``sync`` (SyncInferenceEngine),
``state`` (each symbol's streaming state), ``versions`` (which version serves a slot, kept current by
LISTEN/NOTIFY), ``models`` and ``scoring`` (loaded artifacts, LightGBM's Booster), ``shadow``,
``recorder`` and ``events``. This package file stays empty so that db/ can import the event shape
without pulling the engine in.
"""
