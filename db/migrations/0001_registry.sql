-- Registry tables: models, lineage, versions, the production pointer, the lifecycle state machine,
-- quarantine and the append-only audit log. The invariants live here so that no client (this
-- package, psql, a future service) can break them.

CREATE TABLE ml_models (
    model_name      text PRIMARY KEY
                    CHECK (length(model_name) BETWEEN 1 AND 200 AND model_name !~ '[[:cntrl:]]'),
    model_type      text NOT NULL DEFAULT 'lightgbm',
    description     text NOT NULL DEFAULT '',
    -- Version counter: locked and bumped by UPDATE ... RETURNING inside the registering
    -- transaction, so numbers are race-free and a rolled-back registration leaves no gap.
    latest_version  integer NOT NULL DEFAULT 0 CHECK (latest_version >= 0),
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_lineage (
    lineage_id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    model_name                text NOT NULL REFERENCES ml_models (model_name),
    regime                    text NOT NULL CHECK (length(regime) BETWEEN 1 AND 64 AND regime !~ '[[:cntrl:]]'),
    symbol                    text NOT NULL CHECK (length(symbol) BETWEEN 1 AND 64 AND symbol !~ '[[:cntrl:]]'),
    parent_version            integer CHECK (parent_version > 0),
    training_data_hash        text NOT NULL,
    feature_set_hash          text NOT NULL,
    hyperparameters_hash      text NOT NULL,
    -- Idempotency key: the same slot trained on the same data, features and hyperparameters is
    -- the same version.
    lineage_key               text NOT NULL,
    timeframe                 text,
    training_data_start       timestamptz,
    training_data_end         timestamptz,
    n_samples                 integer CHECK (n_samples >= 0),
    n_features                integer CHECK (n_features >= 0),
    feature_set               jsonb NOT NULL DEFAULT '{}'::jsonb,
    hyperparameters           jsonb NOT NULL DEFAULT '{}'::jsonb,
    training_config           jsonb NOT NULL DEFAULT '{}'::jsonb,
    environment               jsonb NOT NULL DEFAULT '{}'::jsonb,
    training_duration_seconds double precision CHECK (training_duration_seconds >= 0),
    flow_run_id               text,
    created_by                text NOT NULL DEFAULT session_user,
    created_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model_name, regime, symbol, lineage_key)
);
CREATE INDEX model_lineage_data_hash ON model_lineage (training_data_hash);

CREATE TABLE model_versions (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_name             text NOT NULL REFERENCES ml_models (model_name),
    version                integer NOT NULL CHECK (version > 0),
    regime                 text NOT NULL,
    symbol                 text NOT NULL,
    status                 text NOT NULL DEFAULT 'staging'
                           CHECK (status IN ('staging', 'canary', 'production', 'rollback_candidate',
                                             'archived', 'failed')),
    -- NOT NULL + UNIQUE: no version exists without its lineage, and a lineage names one version.
    lineage_id             uuid NOT NULL UNIQUE REFERENCES model_lineage (lineage_id),
    model_path             text NOT NULL CHECK (length(model_path) > 0),
    model_size_bytes       bigint NOT NULL CHECK (model_size_bytes > 0),
    model_hash             text NOT NULL CHECK (model_hash ~ '^[0-9a-f]{64}$'),
    training_metrics       jsonb NOT NULL DEFAULT '{}'::jsonb,
    validation_metrics     jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata               jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    promoted_at            timestamptz,
    deprecated_at          timestamptz,
    -- Usage statistics, maintained from flushed aggregates (never one UPDATE per prediction).
    usage_count            bigint NOT NULL DEFAULT 0 CHECK (usage_count >= 0),
    total_inferences       bigint NOT NULL DEFAULT 0 CHECK (total_inferences >= 0),
    error_count            bigint NOT NULL DEFAULT 0 CHECK (error_count >= 0),
    avg_inference_time_ms  double precision NOT NULL DEFAULT 0 CHECK (avg_inference_time_ms >= 0),
    last_used_timestamp    timestamptz,
    UNIQUE (model_name, version)
);
-- Invariant 2, second line of defence: one production version per slot, by the database itself.
CREATE UNIQUE INDEX model_versions_one_production_per_slot
    ON model_versions (model_name, regime, symbol) WHERE status = 'production';
CREATE INDEX model_versions_slot_created ON model_versions (model_name, regime, symbol, created_at DESC);
CREATE INDEX model_versions_status ON model_versions (status) WHERE status IN ('production', 'canary');

-- The production pointer: one row per slot. Promotion and rollback move it.
CREATE TABLE production_slots (
    model_name  text NOT NULL,
    regime      text NOT NULL,
    symbol      text NOT NULL,
    version     integer NOT NULL,
    since       timestamptz NOT NULL DEFAULT clock_timestamp(),
    moved_by    text NOT NULL DEFAULT session_user,
    PRIMARY KEY (model_name, regime, symbol),
    FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version)
);

-- The lifecycle state machine as data; alphaplus.lifecycle holds the same table and a test keeps
-- the two equal.
CREATE TABLE lifecycle_transitions (
    from_status text NOT NULL,
    to_status   text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO lifecycle_transitions (from_status, to_status) VALUES
    ('staging', 'canary'), ('staging', 'production'), ('staging', 'failed'), ('staging', 'archived'),
    ('canary', 'production'), ('canary', 'failed'), ('canary', 'archived'),
    ('production', 'rollback_candidate'), ('production', 'failed'), ('production', 'archived'),
    ('rollback_candidate', 'production'), ('rollback_candidate', 'archived'),
    ('rollback_candidate', 'failed'),
    ('archived', 'production'), ('archived', 'rollback_candidate'), ('archived', 'failed'),
    ('failed', 'archived');

-- Quarantine of bad training data or a bad version; descendants inherit it (see is_quarantined).
CREATE TABLE quarantine (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                text NOT NULL CHECK (kind IN ('training_data', 'version')),
    training_data_hash  text,
    model_name          text,
    version             integer,
    reason              text NOT NULL CHECK (length(reason) > 0),
    created_by          text NOT NULL DEFAULT session_user,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'training_data' AND training_data_hash IS NOT NULL AND model_name IS NULL)
        OR (kind = 'version' AND model_name IS NOT NULL AND version IS NOT NULL
            AND training_data_hash IS NULL)),
    FOREIGN KEY (model_name, version) REFERENCES model_versions (model_name, version)
);
CREATE UNIQUE INDEX quarantine_data_once ON quarantine (training_data_hash) WHERE kind = 'training_data';
CREATE UNIQUE INDEX quarantine_version_once ON quarantine (model_name, version) WHERE kind = 'version';

-- Append-only audit log of every registration, status change and pointer move. Rows are written
-- by triggers, so no code path can change the lifecycle without leaving one.
CREATE TABLE lifecycle_audit (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    -- clock_timestamp(), not now(): rows are written after the slot lock is taken, so ordering by
    -- (ts, id) is the order in which changes really happened.
    ts            timestamptz NOT NULL DEFAULT clock_timestamp(),
    event         text NOT NULL CHECK (event IN ('registered', 'status_changed', 'production_moved',
                                                  'quarantined')),
    model_name    text NOT NULL,
    regime        text,
    symbol        text,
    version       integer,
    from_status   text,
    to_status     text,
    from_version  integer,
    to_version    integer,
    actor         text NOT NULL DEFAULT session_user,
    on_behalf_of  text,
    reason        text NOT NULL DEFAULT '',
    flow_run_id   text,
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (id, ts)
);
CREATE INDEX lifecycle_audit_slot_ts ON lifecycle_audit (model_name, regime, symbol, ts);
CREATE INDEX lifecycle_audit_version ON lifecycle_audit (model_name, version, ts);
