-- What clients may no longer claim or rewrite:
--
-- 1. Times and actors are the database's: a pointer move stamps production_slots.since (clock) and
--    moved_by (session_user) itself; rollback_events.event_time must be the time of the insert;
--    model_lineage and model_comparison rows are stamped with their creator and time; performance
--    history rows with the login that recorded them.
-- 2. What a version was registered with is immutable, for every login (the admin included): its
--    training and validation metrics and its metadata join its identity and artifact (0002, 0009), and
--    lineage and comparison rows are never updated or deleted. They are the rollback baseline, the
--    ranking score and the quarantine's ancestry.
-- 3. Slot locks are rows of slot_locks, locked FOR UPDATE: a login needs UPDATE on the table to take
--    one (readers have none), where anyone could take the advisory lock used before.
-- 4. A quarantined version never serves production: checked at commit of every quarantine and every
--    pointer move (a quarantine covering a serving version must roll it back in the same transaction).
--    A quarantine is audited once, after it is really written (a repeated one writes nothing).
-- 5. Performance history is append-only, like the other evidence rollbacks are decided on.
--
-- Custom SQLSTATEs as in 0002: AP002 quarantined, AP003 immutable, AP005 append-only.

-- 1. Stamps ---------------------------------------------------------------------------------------------

CREATE FUNCTION production_slots_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (NEW.model_name, NEW.regime, NEW.symbol) IS DISTINCT FROM
                            (OLD.model_name, OLD.regime, OLD.symbol) THEN
        RAISE EXCEPTION 'the production pointer of (%, %, %) cannot be moved to another slot',
            OLD.model_name, OLD.regime, OLD.symbol USING ERRCODE = 'AP003';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN
        -- Not a move: nothing about the stint may change.
        NEW.since := OLD.since;
        NEW.moved_by := OLD.moved_by;
    ELSE
        NEW.since := clock_timestamp();
        NEW.moved_by := session_user;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER production_slots_stamp
    BEFORE INSERT OR UPDATE ON production_slots
    FOR EACH ROW EXECUTE FUNCTION production_slots_stamp();

-- event_time partitions rollback_events when it is a TimescaleDB hypertable, where a row trigger must
-- not move a row to another time: a value that is not the time of the insert is refused instead.
CREATE FUNCTION rollback_events_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_time IS NULL OR NEW.event_time > clock_timestamp()
       OR NEW.event_time < clock_timestamp() - interval '5 seconds' THEN
        RAISE EXCEPTION 'rollback_events.event_time is the time of the insert, stamped by the database; leave it out'
            USING ERRCODE = 'AP003';
    END IF;
    NEW.actor := session_user;
    RETURN NEW;
END
$$;

DROP TRIGGER rollback_events_stamp ON rollback_events;
CREATE TRIGGER rollback_events_stamp
    BEFORE INSERT ON rollback_events
    FOR EACH ROW EXECUTE FUNCTION rollback_events_stamp();

CREATE FUNCTION creation_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_by := session_user;
    NEW.created_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER model_lineage_stamp
    BEFORE INSERT ON model_lineage
    FOR EACH ROW EXECUTE FUNCTION creation_stamp();
CREATE TRIGGER model_comparison_stamp
    BEFORE INSERT ON model_comparison
    FOR EACH ROW EXECUTE FUNCTION creation_stamp();

ALTER TABLE model_performance_history ADD COLUMN recorded_by text NOT NULL DEFAULT session_user;

CREATE FUNCTION recorded_by_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.recorded_by := session_user;
    RETURN NEW;
END
$$;

CREATE TRIGGER model_performance_history_stamp
    BEFORE INSERT ON model_performance_history
    FOR EACH ROW EXECUTE FUNCTION recorded_by_stamp();

-- 2. Registered means immutable -------------------------------------------------------------------------

-- Beside the lifecycle guard of 0002/0009 (identity, slot, artifact): the registration time is the
-- database's, and what the version was registered with stays as it was.
CREATE FUNCTION model_versions_frozen() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := now();
    ELSIF (NEW.training_metrics, NEW.validation_metrics, NEW.version_metadata)
          IS DISTINCT FROM (OLD.training_metrics, OLD.validation_metrics, OLD.version_metadata) THEN
        RAISE EXCEPTION 'version % of % is registered: its training and validation metrics and its metadata are immutable (register a new version instead)',
            OLD.version, OLD.model_name USING ERRCODE = 'AP003';
    END IF;
    RETURN NEW;
END
$$;

-- UPDATE OF: the frequent usage updates do not fire it.
CREATE TRIGGER model_versions_frozen
    BEFORE INSERT OR UPDATE OF training_metrics, validation_metrics, version_metadata ON model_versions
    FOR EACH ROW EXECUTE FUNCTION model_versions_frozen();

CREATE FUNCTION refuse_rewrite() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are a record of what happened: % refused (they are immutable)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'AP003';
END
$$;

CREATE TRIGGER model_lineage_immutable
    BEFORE UPDATE OR DELETE ON model_lineage
    FOR EACH ROW EXECUTE FUNCTION refuse_rewrite();
CREATE TRIGGER model_lineage_no_truncate
    BEFORE TRUNCATE ON model_lineage
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewrite();
CREATE TRIGGER model_comparison_immutable
    BEFORE UPDATE OR DELETE ON model_comparison
    FOR EACH ROW EXECUTE FUNCTION refuse_rewrite();
CREATE TRIGGER model_comparison_no_truncate
    BEFORE TRUNCATE ON model_comparison
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewrite();
CREATE TRIGGER model_versions_no_truncate
    BEFORE TRUNCATE ON model_versions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewrite();

-- 5. Performance history is evidence: append-only (0002's refuse_change, SQLSTATE AP005).
CREATE TRIGGER model_performance_history_append_only
    BEFORE UPDATE OR DELETE ON model_performance_history
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER model_performance_history_no_truncate
    BEFORE TRUNCATE ON model_performance_history
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- 3. Slot locks -----------------------------------------------------------------------------------------

CREATE TABLE slot_locks (
    model_name  text NOT NULL,
    regime      text NOT NULL,
    symbol      text NOT NULL,
    PRIMARY KEY (model_name, regime, symbol)
);

-- 4. Quarantine: audited once, never covering a serving version -------------------------------------

-- Before the insert only the creator and time are stamped; the audit row is written after it, so
-- a quarantine skipped by ON CONFLICT DO NOTHING writes none.
DROP TRIGGER quarantine_audit ON quarantine;
DROP FUNCTION quarantine_audit();

CREATE TRIGGER quarantine_stamp
    BEFORE INSERT ON quarantine
    FOR EACH ROW EXECUTE FUNCTION creation_stamp();

CREATE FUNCTION quarantine_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('alphaplus.reason', NEW.reason, true);
    PERFORM alphaplus_audit('quarantined', coalesce(NEW.model_name, '*'), NULL, NULL, NEW.version,
                            NULL, NULL, NULL, NULL);
    RETURN NULL;
END
$$;

CREATE TRIGGER quarantine_audit
    AFTER INSERT ON quarantine
    FOR EACH ROW EXECUTE FUNCTION quarantine_audit();

-- At commit: no production pointer names a quarantined version. Fired by a quarantine (which slots
-- does it take out of service?) and by a pointer move (is the new version clean?).
CREATE FUNCTION quarantined_never_serves() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    IF TG_TABLE_NAME = 'production_slots' THEN
        SELECT p.model_name, p.regime, p.symbol, p.version,
               alphaplus_quarantine_reason(p.model_name, p.version) AS why
          INTO bad
          FROM production_slots p
         WHERE p.model_name = NEW.model_name AND p.regime = NEW.regime AND p.symbol = NEW.symbol
           AND alphaplus_quarantine_reason(p.model_name, p.version) IS NOT NULL;
    ELSE
        SELECT p.model_name, p.regime, p.symbol, p.version,
               alphaplus_quarantine_reason(p.model_name, p.version) AS why
          INTO bad
          FROM production_slots p
         WHERE (NEW.kind = 'training_data' OR p.model_name = NEW.model_name)
           AND alphaplus_quarantine_reason(p.model_name, p.version) IS NOT NULL
         ORDER BY p.model_name, p.regime, p.symbol
         LIMIT 1;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'version % of % serves (%, %, %) but % : roll the slot back in the same transaction, or before quarantining',
            bad.version, bad.model_name, bad.model_name, bad.regime, bad.symbol, bad.why
            USING ERRCODE = 'AP002';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER quarantine_never_serves
    AFTER INSERT ON quarantine
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION quarantined_never_serves();
CREATE CONSTRAINT TRIGGER production_slots_never_quarantined
    AFTER INSERT OR UPDATE ON production_slots
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION quarantined_never_serves();

-- Settings, as in 0005: audit writers run as their owner, everything with a fixed search_path, nothing
-- callable by PUBLIC. Ownership and grants are settled for every object by 0013.
DO $$
DECLARE
    path text := format('pg_catalog, %I, pg_temp', current_schema());
    f text;
BEGIN
    EXECUTE format('ALTER FUNCTION quarantine_audit() SECURITY DEFINER SET search_path = %s', path);
    FOREACH f IN ARRAY ARRAY[
        'production_slots_stamp()', 'rollback_events_stamp()', 'creation_stamp()', 'recorded_by_stamp()',
        'model_versions_frozen()', 'refuse_rewrite()', 'quarantined_never_serves()'] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %s', f, path);
    END LOOP;
    FOREACH f IN ARRAY ARRAY[
        'production_slots_stamp()', 'rollback_events_stamp()', 'creation_stamp()', 'recorded_by_stamp()',
        'model_versions_frozen()', 'refuse_rewrite()', 'quarantine_audit()', 'quarantined_never_serves()'] LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
