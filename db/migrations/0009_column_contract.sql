-- The specification's column contract, part 1: the documented names of model_versions and
-- model_lineage. Columns that already meant the documented thing are renamed (data, constraints,
-- indexes and column grants follow a rename); the artifact size in MB is derived from the exact
-- byte count, which stays; the lineage gains the version it belongs to, the parent's model, the
-- fitting and validation row counts and free-form metadata.
--
-- Trigger and helper functions name columns inside their bodies, which a rename does not rewrite:
-- the ones that read renamed columns are replaced here, with the settings 0005 gave them.

-- model_lineage: new columns, filled from what the database already knows --------------------------

ALTER TABLE model_lineage
    ADD COLUMN model_version      integer,
    ADD COLUMN parent_model_name  text,
    ADD COLUMN training_samples   integer CHECK (training_samples >= 0),
    ADD COLUMN validation_samples integer CHECK (validation_samples >= 0),
    ADD COLUMN lineage_metadata   jsonb NOT NULL DEFAULT '{}'::jsonb;

-- A lineage row without a version was never possible through registration (one transaction writes
-- both); one made by hand cannot be attributed to a version, so the upgrade stops and says so.
DO $$
DECLARE
    orphans bigint;
BEGIN
    SELECT count(*) INTO orphans FROM model_lineage l
    WHERE NOT EXISTS (SELECT 1 FROM model_versions v WHERE v.lineage_id = l.lineage_id);
    IF orphans > 0 THEN
        RAISE EXCEPTION '% model_lineage rows belong to no version; every lineage row must belong to exactly one version (delete or attach them, then migrate again)', orphans;
    END IF;
END
$$;

-- n_samples was, and stays, every usable row of the training frame (fit + validation + holdout,
-- purge gaps excluded). The fit and validation counts were recorded only in the version's metadata
-- ("split_sizes": [train, validation, holdout]); where that is absent they are unknown (NULL).
UPDATE model_lineage l SET
    model_version = v.version,
    parent_model_name = CASE WHEN l.parent_version IS NOT NULL THEN l.model_name END,
    training_samples = CASE WHEN jsonb_typeof(v.metadata -> 'split_sizes') = 'array'
                             AND jsonb_typeof(v.metadata -> 'split_sizes' -> 0) = 'number'
                            THEN (v.metadata -> 'split_sizes' ->> 0)::integer END,
    validation_samples = CASE WHEN jsonb_typeof(v.metadata -> 'split_sizes') = 'array'
                               AND jsonb_typeof(v.metadata -> 'split_sizes' -> 1) = 'number'
                              THEN (v.metadata -> 'split_sizes' ->> 1)::integer END
FROM model_versions v
WHERE v.lineage_id = l.lineage_id;

ALTER TABLE model_lineage RENAME COLUMN environment TO training_environment;
ALTER TABLE model_lineage RENAME COLUMN parent_version TO parent_model_version;
ALTER TABLE model_lineage RENAME CONSTRAINT model_lineage_parent_version_check TO model_lineage_parent_model_version_check;
ALTER TABLE model_lineage
    ALTER COLUMN model_version SET NOT NULL,
    ADD CONSTRAINT model_lineage_model_version_positive CHECK (model_version > 0),
    ADD CONSTRAINT model_lineage_parent_named CHECK ((parent_model_name IS NULL) = (parent_model_version IS NULL)),
    ADD CONSTRAINT model_lineage_parent_model_name_check
        CHECK (length(parent_model_name) BETWEEN 1 AND 200 AND parent_model_name !~ '[[:cntrl:]]'),
    -- A lineage row belongs to exactly one version ...
    ADD CONSTRAINT model_lineage_one_version UNIQUE (model_name, model_version),
    ADD CONSTRAINT model_lineage_identity UNIQUE (lineage_id, model_name, model_version);
-- ... which exists by the end of the registering transaction (the lineage is written first) ...
ALTER TABLE model_lineage ADD CONSTRAINT model_lineage_version_exists
    FOREIGN KEY (model_name, model_version) REFERENCES model_versions (model_name, version)
    DEFERRABLE INITIALLY DEFERRED;
-- ... and points back at it: a version's lineage names that very version.
ALTER TABLE model_versions ADD CONSTRAINT model_versions_lineage_names_this_version
    FOREIGN KEY (lineage_id, model_name, version) REFERENCES model_lineage (lineage_id, model_name, model_version);

-- model_versions: documented names; the size in MB derived from the bytes ---------------------------

ALTER TABLE model_versions RENAME COLUMN model_path TO model_artifact_path;
ALTER TABLE model_versions RENAME COLUMN model_hash TO model_artifact_hash;
ALTER TABLE model_versions RENAME COLUMN metadata TO version_metadata;
ALTER TABLE model_versions RENAME CONSTRAINT model_versions_model_path_check TO model_versions_model_artifact_path_check;
ALTER TABLE model_versions RENAME CONSTRAINT model_versions_model_hash_check TO model_versions_model_artifact_hash_check;
-- A version row is updated in place often (usage flushes; the live columns of 0010): free room on
-- each page lets PostgreSQL do that without new index entries (HOT). Takes effect with the rewrite
-- the stored generated column below makes.
ALTER TABLE model_versions SET (fillfactor = 70);
-- MB = 2^20 bytes, rounded to 2 decimals (a model under 5 KiB shows 0.00; model_size_bytes is exact).
ALTER TABLE model_versions ADD COLUMN model_artifact_size_mb numeric(10, 2)
    GENERATED ALWAYS AS (round(model_size_bytes / 1048576.0, 2)) STORED;

-- Functions that read renamed columns -----------------------------------------------------------------

CREATE OR REPLACE FUNCTION model_versions_guard() RETURNS trigger
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

    IF (NEW.model_name, NEW.version, NEW.regime, NEW.symbol, NEW.lineage_id, NEW.model_artifact_path,
        NEW.model_size_bytes, NEW.model_artifact_hash, NEW.created_at)
       IS DISTINCT FROM
       (OLD.model_name, OLD.version, OLD.regime, OLD.symbol, OLD.lineage_id, OLD.model_artifact_path,
        OLD.model_size_bytes, OLD.model_artifact_hash, OLD.created_at) THEN
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

-- The quarantine of an ancestor reaches its descendants; the parent is named by model and version.
CREATE OR REPLACE FUNCTION alphaplus_quarantine_reason(p_model text, p_version integer) RETURNS text
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE chain AS (
        SELECT v.model_name, v.version, l.parent_model_name, l.parent_model_version, l.training_data_hash,
               0 AS depth
        FROM model_versions v JOIN model_lineage l ON l.lineage_id = v.lineage_id
        WHERE v.model_name = p_model AND v.version = p_version
        UNION ALL
        SELECT v.model_name, v.version, l.parent_model_name, l.parent_model_version, l.training_data_hash,
               c.depth + 1
        FROM chain c
        JOIN model_versions v ON v.model_name = c.parent_model_name AND v.version = c.parent_model_version
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

-- CREATE OR REPLACE resets a function's settings: give back the fixed search_path of 0005 (owner,
-- grants and EXECUTE revocations are kept by the replacement).
DO $$
DECLARE
    path text := format('pg_catalog, %I, pg_temp', current_schema());
BEGIN
    EXECUTE format('ALTER FUNCTION model_versions_guard() SET search_path = %s', path);
    EXECUTE format('ALTER FUNCTION alphaplus_quarantine_reason(text, integer) SET search_path = %s', path);
END
$$;
