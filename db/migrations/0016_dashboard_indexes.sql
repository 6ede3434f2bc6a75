-- Indexes behind the read-only dashboard (alphaplus/ui, queries in db/dashboard.py): every page is a
-- bounded index scan, also at 100 models, 10,000 versions and 1,000,000 performance rows.

-- A slot's live windows (overview sparklines, the slot chart) and its shadow windows (candidates'
-- shadow scores), newest first, without reading the other source's rows.
CREATE INDEX IF NOT EXISTS model_performance_history_slot_source
    ON model_performance_history (model_name, regime, symbol, source, ts DESC);

-- The children of a version (lineage graph). The parent column has another name once the
-- specification's column names are in place: index whichever this schema has.
DO $$
DECLARE
    parent text;
BEGIN
    SELECT column_name INTO parent FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'model_lineage'
      AND column_name IN ('parent_model_version', 'parent_version')
    ORDER BY column_name = 'parent_model_version' DESC
    LIMIT 1;
    IF parent IS NOT NULL THEN
        EXECUTE format('CREATE INDEX IF NOT EXISTS model_lineage_parent ON model_lineage (model_name, %I) '
                       'WHERE %I IS NOT NULL', parent, parent);
    END IF;
END
$$;

-- Rollback events and the audit log, newest first across every slot (the Rollbacks and Audit
-- pages, paginated by a (time, id) cursor). A hypertable already has an index leading with its time
-- column; a plain table gets one here.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('rollback_events', 'event_time'), ('lifecycle_audit', 'ts')) AS x(tbl, col)
    LOOP
        IF NOT EXISTS (
            SELECT 1 FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
            WHERE i.indrelid = t.tbl::regclass AND a.attname = t.col
        ) THEN
            EXECUTE format('CREATE INDEX %I ON %I (%I DESC, id DESC)', t.tbl || '_newest', t.tbl, t.col);
        END IF;
    END LOOP;
END
$$;
