-- Inference recording and outcome resolution.
--
-- 1. Outcome resolution reads inference_events by prediction time for all versions at once: a time
--    index, unless one already leads with ts (TimescaleDB creates one for a hypertable).
-- 2. One live or shadow performance row per (version, source, window): resolving a window again
--    adds no copies the rollback policy would count twice. The key holds ts, so it is valid on a
--    hypertable too.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = 'inference_events'::regclass AND a.attname = 'ts'
    ) THEN
        CREATE INDEX inference_events_ts ON inference_events (ts);
    END IF;
END
$$;

CREATE UNIQUE INDEX model_performance_history_window
    ON model_performance_history (model_name, version, source, ts, window_start)
    WHERE source IN ('live', 'shadow');
