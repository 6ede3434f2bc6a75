-- Indexes behind the read-only dashboard (alphaplus/ui, queries in db/dashboard.py): every page is a
-- bounded index scan, also at 100 models, 10,000 versions and 1,000,000 performance rows.

-- A slot's live windows (overview sparklines, the slot chart) and its shadow windows (candidates'
-- shadow scores), newest first, without reading the other source's rows.
CREATE INDEX model_performance_history_slot_source
    ON model_performance_history (model_name, regime, symbol, source, ts DESC);

-- The children of a version (the lineage graph).
CREATE INDEX model_lineage_parent
    ON model_lineage (parent_model_name, parent_model_version) WHERE parent_model_version IS NOT NULL;

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
