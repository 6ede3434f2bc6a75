-- Database roles and the privileges of each. Group roles (NOLOGIN) carry the rights; people and
-- services get LOGIN roles that are members of one group (README: "Security: database roles and
-- logins"):
--
--   alphaplus_reader    read everything; resolve production; record inference events, usage
--                       counters and performance history; LISTEN
--   alphaplus_trainer   reader + import candles, training jobs, register staging versions with
--                       lineage, comparisons, status changes that do not touch production
--   alphaplus_operator  trainer + move the production pointer (promote, roll back, demote),
--                       quarantine, rollback events
--   alphaplus_admin     everything: owns the schema's objects, runs migrations
--
-- Roles are cluster-wide (several databases may share them); grants below are per database.
-- The audit log is written only by SECURITY DEFINER trigger functions: no login needs, or gets,
-- INSERT on lifecycle_audit, so audit rows cannot be forged; the actor is session_user (0002).

-- Roles: idempotent, and safe when two databases of one cluster migrate at the same time --------

DO $$
DECLARE
    r text;
    pair text[];
BEGIN
    FOREACH r IN ARRAY ARRAY['alphaplus_reader', 'alphaplus_trainer', 'alphaplus_operator', 'alphaplus_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created by a concurrent migration of another database
            END;
        END IF;
    END LOOP;
    -- Each role includes the one before it.
    FOREACH pair SLICE 1 IN ARRAY ARRAY[['alphaplus_reader', 'alphaplus_trainer'],
                                        ['alphaplus_trainer', 'alphaplus_operator'],
                                        ['alphaplus_operator', 'alphaplus_admin']] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_auth_members m
                       JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                       WHERE g.rolname = pair[1] AND u.rolname = pair[2]) THEN
            BEGIN
                EXECUTE format('GRANT %I TO %I', pair[1], pair[2]);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$$;

-- Trigger and helper functions: fixed search_path; audit writers run as their owner ----------
--
-- search_path ends with pg_temp explicitly: otherwise pg_temp is searched FIRST for tables, and a
-- session could shadow lifecycle_audit, production_slots or lifecycle_transitions with a temporary
-- table of the same name and make a trigger read or write that one instead.

DO $$
DECLARE
    path text := format('pg_catalog, %I, pg_temp', current_schema());
    f text;
BEGIN
    -- Writers of audit rows: run with the owner's rights, so the invoker needs no INSERT on
    -- lifecycle_audit. Trigger functions cannot be called directly; alphaplus_audit and
    -- alphaplus_notify are callable only by their owner (EXECUTE revoked below).
    FOREACH f IN ARRAY ARRAY[
        'alphaplus_audit(text, text, text, text, integer, text, text, integer, integer, timestamptz)',
        'alphaplus_notify(text, text, text, text, integer, text)',
        'model_versions_audit()', 'production_slots_audit()', 'quarantine_audit()'] LOOP
        EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER SET search_path = %s', f, path);
    END LOOP;
    -- The rest run as the invoker (their checks must see what the invoker may see), with a fixed path.
    FOREACH f IN ARRAY ARRAY[
        'alphaplus_ctx(text)', 'alphaplus_quarantine_reason(text, integer)', 'model_versions_guard()',
        'production_consistency_check()', 'lifecycle_audit_stamp()', 'refuse_change()'] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %s', f, path);
    END LOOP;
END
$$;

-- Entering or leaving production needs the operator's rights, checked where the status changes
-- (the pointer itself is protected by table privileges). Without this, a trainer's attempt would
-- still fail, but later and less clearly (AP004 at commit, or a privilege error on the pointer).
CREATE FUNCTION model_versions_production_rights() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status
       AND 'production' IN (OLD.status, NEW.status)
       AND NOT pg_has_role(current_user, 'alphaplus_operator', 'USAGE')
       AND NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = TG_RELID), 'USAGE') THEN
        RAISE EXCEPTION 'moving version % of % from % to % changes production, which needs the alphaplus_operator role (login %)',
            OLD.version, OLD.model_name, OLD.status, NEW.status, session_user
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER model_versions_production_rights
    BEFORE UPDATE OF status ON model_versions
    FOR EACH ROW EXECUTE FUNCTION model_versions_production_rights();

-- Append-only tables refuse TRUNCATE too (row triggers do not fire on TRUNCATE). Nobody, the
-- admin included, edits them with DML; the owner (alphaplus_admin) can, deliberately, disable a
-- trigger with ALTER TABLE, a logged DDL statement taking an exclusive lock.
CREATE TRIGGER lifecycle_audit_no_truncate
    BEFORE TRUNCATE ON lifecycle_audit FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER rollback_events_no_truncate
    BEFORE TRUNCATE ON rollback_events FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER quarantine_no_truncate
    BEFORE TRUNCATE ON quarantine FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- A stored artifact path is relative to the artifact root and never climbs out of it (the
-- artifact store refuses such paths too; this keeps them out of the registry in the first place).
ALTER TABLE model_versions ADD CONSTRAINT model_versions_path_inside_root
    CHECK (model_path !~ '^[/\\]' AND model_path !~ '(^|[/\\])\.\.([/\\]|$)')
    NOT VALID;

-- Privileges -----------------------------------------------------------------------------------

-- Functions are executable by PUBLIC by default: not these. (alphaplus_audit above all: it runs
-- as its owner, so whoever may call it could write audit rows.)
REVOKE ALL ON FUNCTION
    alphaplus_audit(text, text, text, text, integer, text, text, integer, integer, timestamptz),
    alphaplus_notify(text, text, text, text, integer, text),
    alphaplus_ctx(text),
    alphaplus_quarantine_reason(text, integer),
    model_versions_guard(), model_versions_audit(), production_slots_audit(),
    production_consistency_check(), lifecycle_audit_stamp(), refuse_change(), quarantine_audit(),
    model_versions_production_rights()
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION alphaplus_ctx(text), alphaplus_quarantine_reason(text, integer) TO alphaplus_reader;

-- reader: read everything (granted per schema below), record what inference did.
GRANT INSERT ON inference_events, model_performance_history TO alphaplus_reader;
GRANT UPDATE (usage_count, total_inferences, error_count, avg_inference_time_ms, last_used_timestamp)
    ON model_versions TO alphaplus_reader;

-- trainer: data, training, registration as staging, status changes away from production.
GRANT INSERT, UPDATE ON candles TO alphaplus_trainer;
GRANT INSERT, UPDATE ON ml_training_jobs TO alphaplus_trainer;
GRANT INSERT ON ml_models TO alphaplus_trainer;
GRANT UPDATE (latest_version, updated_at, description, metadata) ON ml_models TO alphaplus_trainer;
GRANT INSERT ON model_lineage, model_comparison TO alphaplus_trainer;
GRANT INSERT ON model_versions TO alphaplus_trainer;
GRANT UPDATE (status, validation_metrics, metadata) ON model_versions TO alphaplus_trainer;

-- operator: the production pointer, quarantine, rollback records.
GRANT INSERT, UPDATE, DELETE ON production_slots TO alphaplus_operator;
GRANT INSERT ON quarantine, rollback_events TO alphaplus_operator;

-- Nobody is granted INSERT on lifecycle_audit (the SECURITY DEFINER functions write it), nor
-- UPDATE, DELETE or TRUNCATE on the append-only tables; their triggers refuse those for everyone.

DO $$
DECLARE
    me name := current_user;
    me_oid oid := (SELECT oid FROM pg_roles WHERE rolname = current_user);
    is_super boolean := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
    db_owner oid := (SELECT datdba FROM pg_database WHERE datname = current_database());
    schema_oid oid := (SELECT oid FROM pg_namespace WHERE nspname = current_schema());
    obj record;
BEGIN
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM PUBLIC', current_schema());
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO alphaplus_reader', current_schema());
    EXECUTE format('GRANT ALL ON ALL TABLES IN SCHEMA %I TO alphaplus_admin', current_schema());
    EXECUTE format('GRANT ALL ON ALL SEQUENCES IN SCHEMA %I TO alphaplus_admin', current_schema());
    EXECUTE 'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON lifecycle_audit FROM alphaplus_admin';
    EXECUTE 'REVOKE UPDATE, DELETE, TRUNCATE ON rollback_events, quarantine FROM alphaplus_admin';
    BEGIN
        -- PostgreSQL 15 no longer grants CREATE on schema public to PUBLIC; older clusters did.
        EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', current_schema());
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO alphaplus_reader', current_schema());
        EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO alphaplus_admin', current_schema());
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'not the owner of schema %: schema privileges left as they are', current_schema();
    END;

    -- Only members of the roles may connect or create temporary tables in this database.
    IF is_super OR pg_has_role(me, db_owner, 'USAGE') THEN
        EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO alphaplus_reader, %I',
                       current_database(), me);
    ELSE
        RAISE NOTICE 'not the owner of database %: CONNECT stays open to PUBLIC', current_database();
    END IF;

    -- Tables created later by this role get the baseline grants; writers are granted per table
    -- by the migration that creates it.
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT SELECT ON TABLES TO alphaplus_reader',
                   me, current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT ALL ON TABLES TO alphaplus_admin',
                   me, current_schema());

    -- alphaplus_admin owns the schema's objects: it can run migrations, and the SECURITY DEFINER
    -- functions above run with its rights rather than a superuser's.
    IF NOT pg_has_role(me, 'alphaplus_admin', 'MEMBER') THEN
        RAISE NOTICE '% is not a member of alphaplus_admin: objects keep their owner', me;
        RETURN;
    END IF;
    FOR obj IN
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = schema_oid AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relowner = me_oid
    LOOP
        EXECUTE format('ALTER TABLE %I OWNER TO alphaplus_admin', obj.relname);
    END LOOP;
    FOR obj IN
        SELECT p.oid::regprocedure AS sig FROM pg_proc p
        WHERE p.pronamespace = schema_oid AND p.proowner = me_oid
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO alphaplus_admin', obj.sig);
    END LOOP;
END
$$;
