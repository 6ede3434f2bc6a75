-- Lifecycle rules enforced by the database: legal transitions, immutable artifacts, quarantine,
-- pointer/status agreement at commit, audit rows and NOTIFY for every change, append-only audit.
--
-- Callers describe *why* through transaction-local settings (set_config(..., true)):
--   alphaplus.reason, alphaplus.on_behalf_of, alphaplus.flow_run_id, alphaplus.metadata (JSON).
-- The actor is always session_user: a client cannot claim to be someone else.
--
-- Custom SQLSTATEs (class AP) let the Python layer translate errors precisely:
--   AP001 illegal transition, AP002 quarantined, AP003 immutable field, AP004 pointer and statuses
--   disagree, AP005 append-only table.

CREATE FUNCTION alphaplus_ctx(name text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('alphaplus.' || name, true), '')
$$;

CREATE FUNCTION alphaplus_quarantine_reason(p_model text, p_version integer) RETURNS text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE chain AS (
        SELECT v.model_name, v.version, l.parent_version, l.training_data_hash, 0 AS depth
        FROM model_versions v JOIN model_lineage l ON l.lineage_id = v.lineage_id
        WHERE v.model_name = p_model AND v.version = p_version
        UNION ALL
        SELECT v.model_name, v.version, l.parent_version, l.training_data_hash, c.depth + 1
        FROM chain c
        JOIN model_versions v ON v.model_name = c.model_name AND v.version = c.parent_version
        JOIN model_lineage l ON l.lineage_id = v.lineage_id
        WHERE c.depth < 10000
    )
    SELECT CASE q.kind
               WHEN 'version' THEN format('version %s is quarantined: %s', c.version, q.reason)
               ELSE format('training data %s is quarantined: %s', left(q.training_data_hash, 12), q.reason)
           END
    FROM chain c
    JOIN quarantine q
      ON (q.kind = 'version' AND q.model_name = c.model_name AND q.version = c.version)
      OR (q.kind = 'training_data' AND q.training_data_hash = c.training_data_hash)
    ORDER BY c.depth
    LIMIT 1
$$;

CREATE FUNCTION alphaplus_notify(p_event text, p_model text, p_regime text, p_symbol text,
                                 p_version integer, p_status text) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('alphaplus_slots', json_build_object(
        'event', p_event, 'model_name', p_model, 'regime', p_regime, 'symbol', p_symbol,
        'version', p_version, 'status', p_status)::text)
$$;

CREATE FUNCTION alphaplus_audit(p_event text, p_model text, p_regime text, p_symbol text,
                                p_version integer, p_from_status text, p_to_status text,
                                p_from_version integer, p_to_version integer,
                                p_ts timestamptz DEFAULT clock_timestamp()) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO lifecycle_audit (ts, event, model_name, regime, symbol, version, from_status, to_status,
                                 from_version, to_version, on_behalf_of, reason, flow_run_id, metadata)
    VALUES (p_ts, p_event, p_model, p_regime, p_symbol, p_version, p_from_status, p_to_status,
            p_from_version, p_to_version, alphaplus_ctx('on_behalf_of'),
            coalesce(alphaplus_ctx('reason'), ''), alphaplus_ctx('flow_run_id'),
            coalesce(alphaplus_ctx('metadata')::jsonb, '{}'::jsonb))
$$;

-- model_versions: what may change, and how ----------------------------------------------------

CREATE FUNCTION model_versions_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    why text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'staging' THEN
            RAISE EXCEPTION 'a new version starts as staging, not %', NEW.status
                USING ERRCODE = 'AP001';
        END IF;
        RETURN NEW;
    END IF;

    IF (NEW.model_name, NEW.version, NEW.regime, NEW.symbol, NEW.lineage_id, NEW.model_path,
        NEW.model_size_bytes, NEW.model_hash, NEW.created_at)
       IS DISTINCT FROM
       (OLD.model_name, OLD.version, OLD.regime, OLD.symbol, OLD.lineage_id, OLD.model_path,
        OLD.model_size_bytes, OLD.model_hash, OLD.created_at) THEN
        RAISE EXCEPTION 'version % of % is registered and immutable (identity, slot and artifact)',
            OLD.version, OLD.model_name USING ERRCODE = 'AP003';
    END IF;

    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (SELECT 1 FROM lifecycle_transitions
                       WHERE from_status = OLD.status AND to_status = NEW.status) THEN
            RAISE EXCEPTION 'version % of % is ''%''; it cannot become ''%''',
                OLD.version, OLD.model_name, OLD.status, NEW.status USING ERRCODE = 'AP001';
        END IF;
        IF NEW.status = 'production' THEN
            why := alphaplus_quarantine_reason(NEW.model_name, NEW.version);
            IF why IS NOT NULL THEN
                RAISE EXCEPTION 'version % of % cannot serve production: %',
                    NEW.version, NEW.model_name, why USING ERRCODE = 'AP002';
            END IF;
            NEW.promoted_at := clock_timestamp();
        ELSIF NEW.status IN ('archived', 'failed') THEN
            NEW.deprecated_at := clock_timestamp();
        END IF;
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER model_versions_guard
    BEFORE INSERT OR UPDATE ON model_versions
    FOR EACH ROW EXECUTE FUNCTION model_versions_guard();

CREATE FUNCTION model_versions_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM alphaplus_audit('registered', NEW.model_name, NEW.regime, NEW.symbol, NEW.version,
                                NULL, NEW.status, NULL, NULL);
        PERFORM alphaplus_notify('registered', NEW.model_name, NEW.regime, NEW.symbol, NEW.version,
                                 NEW.status);
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM alphaplus_audit('status_changed', NEW.model_name, NEW.regime, NEW.symbol,
                                NEW.version, OLD.status, NEW.status, NULL, NULL);
        PERFORM alphaplus_notify('status_changed', NEW.model_name, NEW.regime, NEW.symbol,
                                 NEW.version, NEW.status);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER model_versions_audit
    AFTER INSERT OR UPDATE OF status ON model_versions
    FOR EACH ROW EXECUTE FUNCTION model_versions_audit();

-- production_slots: every move audited and announced -------------------------------------------

CREATE FUNCTION production_slots_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM alphaplus_audit('production_moved', OLD.model_name, OLD.regime, OLD.symbol, NULL,
                                NULL, NULL, OLD.version, NULL);
        PERFORM alphaplus_notify('production_moved', OLD.model_name, OLD.regime, OLD.symbol, NULL, NULL);
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN
        RETURN NULL;
    END IF;
    -- The audit row carries the pointer's own timestamp, so "what served the slot at t" agrees
    -- with production_slots.since to the microsecond.
    PERFORM alphaplus_audit('production_moved', NEW.model_name, NEW.regime, NEW.symbol, NEW.version,
                            NULL, NULL, CASE WHEN TG_OP = 'UPDATE' THEN OLD.version END, NEW.version,
                            NEW.since);
    PERFORM alphaplus_notify('production_moved', NEW.model_name, NEW.regime, NEW.symbol, NEW.version,
                             'production');
    RETURN NULL;
END
$$;

CREATE TRIGGER production_slots_audit
    AFTER INSERT OR UPDATE OR DELETE ON production_slots
    FOR EACH ROW EXECUTE FUNCTION production_slots_audit();

-- At commit, the pointer and the statuses of a slot agree: the pointer names a version of that
-- slot whose status is production, and no production version lacks the pointer.
CREATE FUNCTION production_consistency_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    pointed integer;
    bad integer;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    SELECT p.version INTO pointed FROM production_slots p
     WHERE p.model_name = r.model_name AND p.regime = r.regime AND p.symbol = r.symbol;
    IF pointed IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM model_versions v
         WHERE v.model_name = r.model_name AND v.version = pointed AND v.regime = r.regime
           AND v.symbol = r.symbol AND v.status = 'production') THEN
        RAISE EXCEPTION 'production pointer of (%, %, %) names version %, which is not its production version',
            r.model_name, r.regime, r.symbol, pointed USING ERRCODE = 'AP004';
    END IF;
    SELECT v.version INTO bad FROM model_versions v
     WHERE v.model_name = r.model_name AND v.regime = r.regime AND v.symbol = r.symbol
       AND v.status = 'production' AND v.version IS DISTINCT FROM pointed
     LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'version % of % is production but the pointer of (%, %) does not name it',
            bad, r.model_name, r.regime, r.symbol USING ERRCODE = 'AP004';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER production_slots_consistent
    AFTER INSERT OR UPDATE OR DELETE ON production_slots
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION production_consistency_check();

CREATE CONSTRAINT TRIGGER model_versions_production_consistent
    AFTER INSERT OR UPDATE OF status ON model_versions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION production_consistency_check();

-- The audit log: actor from the database, rows never edited --------------------------------------

CREATE FUNCTION lifecycle_audit_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.actor := session_user;
    RETURN NEW;
END
$$;

CREATE TRIGGER lifecycle_audit_stamp
    BEFORE INSERT ON lifecycle_audit
    FOR EACH ROW EXECUTE FUNCTION lifecycle_audit_stamp();

CREATE FUNCTION refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'AP005';
END
$$;

CREATE TRIGGER lifecycle_audit_append_only
    BEFORE UPDATE OR DELETE ON lifecycle_audit
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

CREATE FUNCTION quarantine_audit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_by := session_user;
    PERFORM set_config('alphaplus.reason', NEW.reason, true);
    PERFORM alphaplus_audit('quarantined', coalesce(NEW.model_name, '*'), NULL, NULL, NEW.version,
                            NULL, NULL, NULL, NULL);
    RETURN NEW;
END
$$;

CREATE TRIGGER quarantine_audit
    BEFORE INSERT ON quarantine
    FOR EACH ROW EXECUTE FUNCTION quarantine_audit();

CREATE TRIGGER quarantine_append_only
    BEFORE UPDATE OR DELETE ON quarantine
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
