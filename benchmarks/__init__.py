"""Benchmarks: each module's ``run()`` returns rows (measure, value, unit, target, baseline);
``python -m benchmarks`` runs them all and prints one table. Never part of the test suite."""
