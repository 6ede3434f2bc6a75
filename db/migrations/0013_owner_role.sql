-- Nobody who logs in owns the schema.
--
-- Until now alphaplus_admin owned every table and function: it could rewrite a trigger function that
-- later ran inside a superuser's session (cluster takeover), give itself back the rights 0005 took
-- (INSERT into the audit log), drop or truncate audit chunks, and disable any trigger. Now:
--
--   alphaplus_owner     NOLOGIN, and no login is a member: owns every table, sequence and function
--                       of the schema, so the SECURITY DEFINER audit writers run as it. Only a
--                       superuser can act as it, so this migration (and every later one) runs as a
--                       superuser: set-up is a superuser's job, day-to-day work never is.
--   alphaplus_resolver  reader + records model_performance_history (outcome resolution). Readers,
--                       the inference processes, no longer may: forged live windows could force a
--                       rollback. Operators are members (the worker resolves and assesses).
--   alphaplus_admin     every row a person may change, and nothing more: no INSERT into the audit
--                       log, no UPDATE or DELETE of the append-only and immutable tables, no TRUNCATE,
--                       TRIGGER or REFERENCES anywhere, no CREATE in the schema (no function or
--                       operator of its own that a privileged session could be made to call).
--
-- Roles are cluster-wide and shared by every database of the cluster: they are created only when
-- missing and memberships only added, never removed. Grants are per database.

DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'migration 0013 must run as a superuser (it hands the schema to the NOLOGIN role alphaplus_owner, which only a superuser can act as); run `alphaplus db migrate` with a superuser login';
    END IF;
END
$$;

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['alphaplus_owner', 'alphaplus_resolver'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created by a concurrent migration of another database
            END;
        END IF;
    END LOOP;
    FOREACH r IN ARRAY ARRAY['alphaplus_reader:alphaplus_resolver', 'alphaplus_resolver:alphaplus_operator'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_auth_members m
                       JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                       WHERE g.rolname = split_part(r, ':', 1) AND u.rolname = split_part(r, ':', 2)) THEN
            BEGIN
                EXECUTE format('GRANT %I TO %I', split_part(r, ':', 1), split_part(r, ':', 2));
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
    -- The owner role must stay out of reach of every login, directly or through a group.
    IF EXISTS (WITH RECURSIVE members AS (
                   SELECT m.member FROM pg_auth_members m WHERE m.roleid = 'alphaplus_owner'::regrole
                   UNION
                   SELECT m.member FROM pg_auth_members m JOIN members s ON m.roleid = s.member)
               SELECT 1 FROM members s JOIN pg_roles u ON u.oid = s.member WHERE u.rolcanlogin) THEN
        RAISE EXCEPTION 'a login is a member of alphaplus_owner; revoke that membership first: no login may act as the schema''s owner';
    END IF;
END
$$;

-- Hand every table, sequence and function of the schema (not an extension's) to alphaplus_owner.
-- Later migrations call this again for what they create; it runs as the migrating superuser.
CREATE FUNCTION alphaplus_hand_over_to_owner() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    obj record;
    schema_oid oid := (SELECT oid FROM pg_namespace WHERE nspname = current_schema());
    owner_oid oid := 'alphaplus_owner'::regrole;
BEGIN
    FOR obj IN
        SELECT c.relname, c.relkind FROM pg_class c
        WHERE c.relnamespace = schema_oid AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relowner <> owner_oid
          AND c.relname <> 'schema_migrations'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER TABLE %I OWNER TO alphaplus_owner', obj.relname);
    END LOOP;
    FOR obj IN
        SELECT p.oid::regprocedure AS sig FROM pg_proc p
        WHERE p.pronamespace = schema_oid AND p.proowner <> owner_oid
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                            AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO alphaplus_owner', obj.sig);
    END LOOP;
    -- TimescaleDB chunks carry their hypertable's owner and grants; where the extension is present,
    -- make sure every chunk of this schema's hypertables has been handed over too.
    IF to_regclass('_timescaledb_catalog.chunk') IS NOT NULL THEN
        FOR obj IN EXECUTE $q$
            SELECT format('%I.%I', c.schema_name, c.table_name) AS chunk
            FROM _timescaledb_catalog.chunk c JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id
            WHERE h.schema_name = current_schema()$q$
        LOOP
            EXECUTE format('ALTER TABLE %s OWNER TO alphaplus_owner', obj.chunk);
            EXECUTE format('REVOKE TRUNCATE, TRIGGER, REFERENCES ON %s FROM alphaplus_admin', obj.chunk);
        END LOOP;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION alphaplus_hand_over_to_owner() FROM PUBLIC;

SELECT alphaplus_hand_over_to_owner();

-- Privileges ------------------------------------------------------------------------------------------

DO $$
DECLARE
    s name := current_schema();
BEGIN
    -- alphaplus_admin: rows, not structure.
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM alphaplus_admin', s);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO alphaplus_admin', s);
    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM alphaplus_admin', s);
    -- Tables a later migration creates get the same baseline (the migrating superuser creates them).
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I REVOKE TRUNCATE, TRIGGER, REFERENCES ON TABLES FROM alphaplus_admin',
                   current_user, s);
END
$$;
REVOKE INSERT, UPDATE, DELETE ON lifecycle_audit, schema_migrations FROM alphaplus_admin;
REVOKE UPDATE, DELETE ON rollback_events, quarantine, model_lineage, model_comparison, model_performance_history
    FROM alphaplus_admin;
REVOKE DELETE ON model_versions, ml_models FROM alphaplus_admin;

-- Readers record inference, not outcomes: performance history is the resolver's.
REVOKE INSERT ON model_performance_history FROM alphaplus_reader;
GRANT INSERT ON model_performance_history TO alphaplus_resolver;

-- Registered metrics and metadata are immutable (0011): nobody is granted UPDATE of them.
REVOKE UPDATE (validation_metrics, version_metadata) ON model_versions FROM alphaplus_trainer;

-- Slot locks: whoever changes statuses or moves pointers takes one (trainer and above). Readers can
-- select the table (the schema-wide default) but not lock its rows: FOR UPDATE needs UPDATE.
GRANT INSERT, UPDATE ON slot_locks TO alphaplus_trainer;
