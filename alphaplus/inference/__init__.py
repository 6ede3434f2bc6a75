"""Inference inside a trading process: the engine that serves each slot's production model and the
recorder that writes every prediction to PostgreSQL without making the prediction wait.

Import from the submodules (``alphaplus.inference.engine``, ``.recorder``, ``.events``); this package
file stays empty so that db/ can import the event shape without pulling the engine in.
"""
