-- The specification's column contract, part 2: what a version is doing now, on the version row.
--
--   performance_metrics   the latest live window of model_performance_history (by window end, then
--                         window start): counts, accuracy, F1, precision, recall, errors, latency
--   drift_metrics         the same window's input drift: per-feature PSI, the largest and where
--   rollback_metrics      the latest rollback assessment of the version (triggers, degradation,
--                         confidence, risk, severity, reasons): a stored slot assessment while it
--                         served, or the rollback_events row written when it was rolled back
--   deployment_timestamp  when it last became production: the production pointer's ``since``, equal
--                         to the ts of its production_moved audit row; NULL if it never served
--
-- Each is written by a trigger on the row it reflects (history, slot assessment, rollback event,
-- pointer), so in the same transaction: nothing else writes them. The triggers run as the schema's
-- owner (SECURITY DEFINER, like the audit writers of 0002/0005): the logins that write history,
-- assessments, rollbacks and pointer moves need, and get, no UPDATE on model_versions for it. Nobody
-- writes these columns directly: no role is granted them, and the owner is refused (AP003).
--
-- Row values are passed to the JSON builders as to_jsonb(row): on a TimescaleDB hypertable a row
-- trigger fires on the chunk, whose row type is not the hypertable's.

ALTER TABLE model_versions
    ADD COLUMN performance_metrics  jsonb,
    ADD COLUMN drift_metrics        jsonb,
    ADD COLUMN rollback_metrics     jsonb,
    ADD COLUMN deployment_timestamp timestamptz;

-- JSON builders (one definition each, used by the triggers and by the backfill below) --------------
-- PL/pgSQL rather than SQL: a SQL function that cannot be inlined is planned anew at every call, which
-- tripled the cost of a history INSERT; PL/pgSQL keeps its plans for the session. They name only
-- built-in functions and run inside the triggers' fixed search_path, so they set none themselves.

-- h: to_jsonb(model_performance_history row)
CREATE FUNCTION version_performance_metrics(h jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN jsonb_build_object(
        'window_start', h -> 'window_start', 'window_end', h -> 'ts',
        'n_samples', h -> 'n_samples', 'n_correct', h -> 'n_correct', 'accuracy', h -> 'accuracy',
        'f1', h -> 'f1', 'precision', h -> 'precision', 'recall', h -> 'recall',
        'total_inferences', h -> 'total_inferences', 'error_count', h -> 'error_count',
        'error_rate', h -> 'error_rate', 'latency_p50_ms', h -> 'latency_p50_ms',
        'latency_p95_ms', h -> 'latency_p95_ms', 'latency_p99_ms', h -> 'latency_p99_ms',
        'metrics', h -> 'metrics');
END
$$;

-- h: to_jsonb(model_performance_history row). ``psi`` maps feature -> PSI (null: not measurable in
-- that window); ``features`` keeps the full per-feature results (PSI, counts, reason).
CREATE FUNCTION version_drift_metrics(h jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN jsonb_build_object(
        'window_start', h -> 'window_start', 'window_end', h -> 'ts',
        'max_psi', h -> 'max_psi', 'max_psi_feature', h -> 'metrics' -> 'max_psi_feature',
        'psi', CASE WHEN jsonb_typeof(h -> 'drift_metrics') = 'object' THEN
                   coalesce((SELECT jsonb_object_agg(f.key, CASE WHEN jsonb_typeof(f.value) = 'object'
                                                                 THEN f.value -> 'value' ELSE f.value END)
                             FROM jsonb_each(h -> 'drift_metrics') AS f), '{}'::jsonb)
               ELSE '{}'::jsonb END,
        'features', h -> 'drift_metrics');
END
$$;

-- s: to_jsonb(slot_assessments row). NULL when the row holds no assessment of its production
-- version: after a rollback (last_status 'rollback') the stored assessment is of the version rolled
-- back, which its rollback_events row reports.
CREATE FUNCTION version_rollback_metrics_from_assessment(s jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN CASE WHEN jsonb_typeof(s -> 'last_assessment') = 'object'
                 AND jsonb_typeof(s -> 'production_version') = 'number'
                 AND s ->> 'last_status' IS DISTINCT FROM 'rollback' THEN
        jsonb_build_object(
            'source', 'assessment', 'assessed_at', s -> 'last_assessed_at',
            'status', s -> 'last_assessment' -> 'status',
            'triggers', coalesce(s -> 'last_assessment' -> 'triggers', '[]'::jsonb),
            'degradation', s -> 'last_assessment' -> 'degradation',
            'confidence', s -> 'last_assessment' -> 'confidence',
            'risk', s -> 'last_assessment' -> 'risk',
            'severity', s -> 'last_assessment' -> 'severity',
            'reasons', coalesce(s -> 'last_assessment' -> 'reasons', '[]'::jsonb),
            'rollback', NULL)
    END;
END
$$;

-- e: to_jsonb(rollback_events row), about its from_version. rollback_events.risk holds the
-- severity word; the 0..1 risk score of an automatic rollback is in its metrics snapshot.
CREATE FUNCTION version_rollback_metrics_from_event(e jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN jsonb_build_object(
        'source', 'rollback_event', 'assessed_at', e -> 'event_time', 'status', 'rollback',
        'triggers', coalesce(e -> 'triggers', '[]'::jsonb),
        'degradation', e -> 'degradation', 'confidence', e -> 'confidence',
        'risk', coalesce(e -> 'metrics_snapshot' -> 'risk_score', e -> 'metrics_snapshot' -> 'assessment' -> 'risk'),
        'severity', e -> 'risk',
        'reasons', jsonb_build_array(e -> 'rollback_reason'),
        'rollback', jsonb_build_object(
            'event_id', e -> 'id', 'outcome', e -> 'outcome', 'rollback_type', e -> 'rollback_type',
            'to_version', e -> 'to_version', 'for_cause', e -> 'for_cause'));
END
$$;

-- Existing rows: the same values the triggers below would have written ------------------------------

UPDATE model_versions v
SET performance_metrics = version_performance_metrics(h.row), drift_metrics = version_drift_metrics(h.row)
FROM (SELECT DISTINCT ON (h.model_name, h.version) h.model_name, h.version, to_jsonb(h) AS row
      FROM model_performance_history h
      WHERE h.source = 'live'
      ORDER BY h.model_name, h.version, h.ts DESC, h.window_start DESC NULLS LAST, h.id DESC) h
WHERE v.model_name = h.model_name AND v.version = h.version;

UPDATE model_versions v SET rollback_metrics = r.metrics
FROM (SELECT DISTINCT ON (c.model_name, c.version) c.model_name, c.version, c.metrics
      FROM (SELECT e.model_name, e.from_version AS version, e.event_time AS at, e.id AS seq,
                   version_rollback_metrics_from_event(to_jsonb(e)) AS metrics
            FROM rollback_events e
            WHERE e.from_version IS NOT NULL
            UNION ALL
            SELECT s.model_name, s.production_version, s.last_assessed_at, 0,
                   version_rollback_metrics_from_assessment(to_jsonb(s))
            FROM slot_assessments s
            WHERE version_rollback_metrics_from_assessment(to_jsonb(s)) IS NOT NULL) c
      ORDER BY c.model_name, c.version, c.at DESC NULLS LAST, c.seq DESC) r
WHERE v.model_name = r.model_name AND v.version = r.version;

UPDATE model_versions v SET deployment_timestamp = d.at
FROM (SELECT a.model_name, a.to_version, max(a.ts) AS at
      FROM lifecycle_audit a
      WHERE a.event = 'production_moved' AND a.to_version IS NOT NULL
      GROUP BY a.model_name, a.to_version) d
WHERE v.model_name = d.model_name AND v.version = d.to_version;
-- The pointer's own time wins should its audit row be missing (the two are written together).
UPDATE model_versions v SET deployment_timestamp = greatest(v.deployment_timestamp, p.since)
FROM production_slots p
WHERE v.model_name = p.model_name AND v.version = p.version;

-- Triggers that keep the columns true ---------------------------------------------------------------

-- A later live window replaces the stored one; an earlier one (resolved late) does not. The
-- condition is re-checked on the newest row version, so concurrent writers keep the latest.
CREATE FUNCTION model_performance_history_to_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    h jsonb;
BEGIN
    h := to_jsonb(NEW);
    UPDATE model_versions v
       SET performance_metrics = version_performance_metrics(h), drift_metrics = version_drift_metrics(h)
     WHERE v.model_name = NEW.model_name AND v.version = NEW.version
       AND (v.performance_metrics IS NULL
            OR (NEW.ts, coalesce(NEW.window_start, '-infinity'::timestamptz))
               >= ((v.performance_metrics ->> 'window_end')::timestamptz,
                   coalesce((v.performance_metrics ->> 'window_start')::timestamptz, '-infinity'::timestamptz)));
    RETURN NULL;
END
$$;

CREATE TRIGGER model_performance_history_to_version
    AFTER INSERT ON model_performance_history
    FOR EACH ROW WHEN (NEW.source = 'live') EXECUTE FUNCTION model_performance_history_to_version();

-- Assessments of one slot are serialised (compare-and-set on revision, or the slot lock): the
-- assessment stored last is the latest. An assessment run stores every slot in one statement, so
-- this is a statement trigger over the written rows (slot_assessments is never a hypertable, which
-- could not have transition tables): one UPDATE per run, not one per slot.
CREATE FUNCTION slot_assessments_to_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE model_versions v SET rollback_metrics = w.metrics
    FROM (SELECT s.model_name, s.production_version,
                 version_rollback_metrics_from_assessment(to_jsonb(s)) AS metrics
          FROM written s) w
    WHERE w.metrics IS NOT NULL AND v.model_name = w.model_name AND v.version = w.production_version;
    RETURN NULL;
END
$$;

-- A trigger with transition tables serves one event: one for inserts, one for updates (an upsert
-- fires both, each with its own rows).
CREATE TRIGGER slot_assessments_inserted_to_version
    AFTER INSERT ON slot_assessments REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION slot_assessments_to_version();
CREATE TRIGGER slot_assessments_updated_to_version
    AFTER UPDATE ON slot_assessments REFERENCING NEW TABLE AS written
    FOR EACH STATEMENT EXECUTE FUNCTION slot_assessments_to_version();

CREATE FUNCTION rollback_events_to_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.from_version IS NOT NULL THEN
        UPDATE model_versions SET rollback_metrics = version_rollback_metrics_from_event(to_jsonb(NEW))
         WHERE model_name = NEW.model_name AND version = NEW.from_version;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER rollback_events_to_version
    AFTER INSERT ON rollback_events
    FOR EACH ROW EXECUTE FUNCTION rollback_events_to_version();

-- Only a move to another version is a deployment (the audit trigger of 0002 draws the same line).
CREATE FUNCTION production_slots_to_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN
        RETURN NULL;
    END IF;
    UPDATE model_versions SET deployment_timestamp = NEW.since
     WHERE model_name = NEW.model_name AND version = NEW.version;
    RETURN NULL;
END
$$;

CREATE TRIGGER production_slots_to_version
    AFTER INSERT OR UPDATE ON production_slots
    FOR EACH ROW EXECUTE FUNCTION production_slots_to_version();

-- Nobody writes these columns directly: not at registration, and afterwards only the triggers above
-- (an UPDATE issued from inside a trigger runs at trigger depth 2 or more).
CREATE FUNCTION model_versions_derived_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF num_nonnulls(NEW.performance_metrics, NEW.drift_metrics, NEW.rollback_metrics,
                        NEW.deployment_timestamp) = 0 THEN
            RETURN NEW;
        END IF;
    ELSIF pg_trigger_depth() > 1
          OR (NEW.performance_metrics, NEW.drift_metrics, NEW.rollback_metrics, NEW.deployment_timestamp)
             IS NOT DISTINCT FROM
             (OLD.performance_metrics, OLD.drift_metrics, OLD.rollback_metrics, OLD.deployment_timestamp) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'performance_metrics, drift_metrics, rollback_metrics and deployment_timestamp of version % of % are kept by the database from its performance history, assessments, rollbacks and production pointer; they cannot be written directly',
        NEW.version, NEW.model_name USING ERRCODE = 'AP003';
END
$$;

CREATE TRIGGER model_versions_derived_guard
    BEFORE INSERT OR UPDATE OF performance_metrics, drift_metrics, rollback_metrics, deployment_timestamp
    ON model_versions
    FOR EACH ROW EXECUTE FUNCTION model_versions_derived_guard();

-- Rights, as in 0005: writers run as the owner with a fixed search_path (the builders and the guard
-- read no table: a search_path setting would only cost a configuration change per row); nothing here
-- is callable by PUBLIC; alphaplus_admin owns what this migration created when the migrating login may hand it over.

DO $$
DECLARE
    path text := format('pg_catalog, %I, pg_temp', current_schema());
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'model_performance_history_to_version()', 'slot_assessments_to_version()',
        'rollback_events_to_version()', 'production_slots_to_version()'] LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %s', f, path);
    END LOOP;
    FOREACH f IN ARRAY ARRAY[
        'version_performance_metrics(jsonb)', 'version_drift_metrics(jsonb)',
        'version_rollback_metrics_from_assessment(jsonb)', 'version_rollback_metrics_from_event(jsonb)',
        'model_performance_history_to_version()', 'slot_assessments_to_version()',
        'rollback_events_to_version()', 'production_slots_to_version()', 'model_versions_derived_guard()'] LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alphaplus_admin')
           AND pg_has_role(current_user, 'alphaplus_admin', 'MEMBER') THEN
            EXECUTE format('ALTER FUNCTION %s OWNER TO alphaplus_admin', f);
        END IF;
    END LOOP;
END
$$;
