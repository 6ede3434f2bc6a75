-- The limits of alphaplus.core.validation, held by the database too, so raw SQL cannot store forever
-- what the code refuses: names (model, regime, symbol) from ASCII letters, digits and . _ - : = ^;
-- training-data hashes as algorithm:hexdigest; reasons up to 2,000 characters and the person a change
-- is made for up to 200, neither holding control characters nor the invisible characters that reorder
-- or hide text; JSON documents up to 256 KiB.
--
-- Rows written before this migration are kept as they are (the audit log is append-only): the
-- constraints are NOT VALID, the triggers check new rows only. Either way every new row is checked.

-- PL/pgSQL, so each session plans them once (a SQL function with a fixed search_path is planned at
-- every call).
CREATE FUNCTION alphaplus_valid_name(value text, max_length integer) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN length(value) BETWEEN 1 AND max_length AND value ~ '^[A-Za-z0-9^][A-Za-z0-9._:=^-]*$';
END
$$;

CREATE FUNCTION alphaplus_valid_text(value text, max_length integer) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN value IS NULL OR (length(value) <= max_length
        AND value !~ '[\x01-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]');
END
$$;

CREATE FUNCTION alphaplus_valid_document(value jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN value IS NULL OR octet_length(value::text) <= 262144;
END
$$;

ALTER TABLE ml_models
    ADD CONSTRAINT ml_models_name_rule CHECK (alphaplus_valid_name(model_name, 200)) NOT VALID;
ALTER TABLE model_versions
    ADD CONSTRAINT model_versions_name_rule
        CHECK (alphaplus_valid_name(regime, 64) AND alphaplus_valid_name(symbol, 64)) NOT VALID,
    ADD CONSTRAINT model_versions_document_size
        CHECK (alphaplus_valid_document(training_metrics) AND alphaplus_valid_document(validation_metrics)
               AND alphaplus_valid_document(version_metadata)) NOT VALID;
ALTER TABLE model_lineage
    ADD CONSTRAINT model_lineage_name_rule
        CHECK (alphaplus_valid_name(regime, 64) AND alphaplus_valid_name(symbol, 64)) NOT VALID,
    ADD CONSTRAINT model_lineage_document_size
        CHECK (alphaplus_valid_document(feature_set) AND alphaplus_valid_document(hyperparameters)
               AND alphaplus_valid_document(training_config) AND alphaplus_valid_document(training_environment)
               AND alphaplus_valid_document(lineage_metadata)) NOT VALID;
ALTER TABLE quarantine
    ADD CONSTRAINT quarantine_hash_rule
        CHECK (training_data_hash ~ '^[a-z0-9_]{1,16}:[0-9a-f]{16,128}$') NOT VALID,
    ADD CONSTRAINT quarantine_reason_rule
        CHECK (alphaplus_valid_text(reason, 2000) AND btrim(reason) <> '') NOT VALID;
-- lifecycle_audit and rollback_events may be TimescaleDB hypertables, where a trigger is the
-- portable way to check new rows only.
CREATE FUNCTION audit_input_limits() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r jsonb := to_jsonb(NEW);
    reason text := coalesce(r ->> 'reason', r ->> 'rollback_reason');
BEGIN
    IF NOT (alphaplus_valid_text(reason, 2000) AND alphaplus_valid_text(r ->> 'on_behalf_of', 200)
            AND alphaplus_valid_text(r ->> 'flow_run_id', 200)) THEN
        RAISE EXCEPTION '% refused: a reason holds at most 2000 characters and who it is for 200, without control or invisible characters',
            TG_TABLE_NAME USING ERRCODE = 'check_violation';
    END IF;
    IF NOT (alphaplus_valid_document(r -> 'metadata') AND alphaplus_valid_document(r -> 'metrics_snapshot')
            AND alphaplus_valid_document(r -> 'triggers')) THEN
        RAISE EXCEPTION '% refused: a JSON document holds at most 256 KiB', TG_TABLE_NAME
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER lifecycle_audit_input_limits
    BEFORE INSERT ON lifecycle_audit
    FOR EACH ROW EXECUTE FUNCTION audit_input_limits();
CREATE TRIGGER rollback_events_input_limits
    BEFORE INSERT ON rollback_events
    FOR EACH ROW EXECUTE FUNCTION audit_input_limits();

DO $$
DECLARE
    path text := format('pg_catalog, %I, pg_temp', current_schema());
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['alphaplus_valid_name(text, integer)', 'alphaplus_valid_text(text, integer)',
                             'alphaplus_valid_document(jsonb)', 'audit_input_limits()'] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %s', f, path);
    END LOOP;
    EXECUTE 'REVOKE ALL ON FUNCTION audit_input_limits() FROM PUBLIC';
END
$$;
