-- Rollback assessment state: what the rollback policy must remember about a slot between runs, and
-- whether a rollback was for cause.

-- One row per slot. ``history`` is alphaplus.rollback_policy.SlotHistory.to_dict(). ``revision`` is a
-- compare-and-set counter: two assessors that read the same state cannot both write, so a live window
-- is never counted twice in a streak. ``last_window_end`` is the end of the newest live window of
-- ``production_version`` already consumed; windows after it are the next assessment's evidence. A new
-- production stint (version or ``production_since`` differ from the pointer's) starts a fresh streak.
CREATE TABLE slot_assessments (
    model_name          text NOT NULL,
    regime              text NOT NULL,
    symbol              text NOT NULL,
    production_version  integer,
    production_since    timestamptz,
    history             jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_window_end     timestamptz,
    last_assessed_at    timestamptz,
    last_status         text,
    last_assessment     jsonb,
    revision            bigint NOT NULL DEFAULT 0 CHECK (revision >= 0),
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (model_name, regime, symbol)
);

-- Whether the version taken out of production was at fault (it then may not return for a while and
-- counts as an incident when ranking rollback targets). A planned switch-back is not for cause.
ALTER TABLE rollback_events ADD COLUMN for_cause boolean NOT NULL DEFAULT true;

-- Candidate lookups ask "was this version ever rolled back, and when" per version.
CREATE INDEX rollback_events_from_version ON rollback_events (model_name, from_version, event_time DESC);
-- ... and "when did it serve / stop serving production" from the audit log.
CREATE INDEX lifecycle_audit_moves_to ON lifecycle_audit (model_name, to_version, ts)
    WHERE event = 'production_moved';
CREATE INDEX lifecycle_audit_moves_from ON lifecycle_audit (model_name, from_version, ts)
    WHERE event = 'production_moved';
-- The failure hook finds the pointer moves made by one flow run.
CREATE INDEX lifecycle_audit_flow_run ON lifecycle_audit (flow_run_id) WHERE flow_run_id IS NOT NULL;

-- Assessing and rolling back is the operator's job (0005_roles.sql); the roles are cluster-wide and
-- may be missing where 0005 could not create them, so the grant is conditional.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alphaplus_operator') THEN
        GRANT SELECT, INSERT, UPDATE ON slot_assessments TO alphaplus_operator;
    END IF;
END
$$;
