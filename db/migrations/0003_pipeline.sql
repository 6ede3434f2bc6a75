-- Pipeline tables: market data, training jobs, comparisons, rollbacks, performance and inference
-- events. Time-series tables carry their time column in every unique key so that they can become
-- TimescaleDB hypertables (0004) without changing shape.

CREATE TABLE candles (
    symbol     text NOT NULL CHECK (length(symbol) BETWEEN 1 AND 64 AND symbol !~ '[[:cntrl:]]'),
    timeframe  text NOT NULL CHECK (timeframe ~ '^[0-9]{1,4}[mhdw]$'),
    ts         timestamptz NOT NULL,
    open       double precision NOT NULL,
    high       double precision NOT NULL,
    low        double precision NOT NULL,
    close      double precision NOT NULL,
    volume     double precision NOT NULL,
    PRIMARY KEY (symbol, timeframe, ts),
    -- In PostgreSQL NaN sorts above every number, so "< 'Infinity'" rejects both NaN and +inf.
    CONSTRAINT candles_finite CHECK (open < 'Infinity' AND high < 'Infinity' AND low < 'Infinity'
                                     AND close < 'Infinity' AND volume < 'Infinity'),
    CONSTRAINT candles_positive_prices CHECK (low > 0),
    CONSTRAINT candles_range CHECK (high >= low AND open BETWEEN low AND high
                                    AND close BETWEEN low AND high),
    CONSTRAINT candles_volume CHECK (volume >= 0)
);

CREATE TABLE ml_training_jobs (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_name           text NOT NULL DEFAULT 'retrain',
    model_name         text NOT NULL,
    regime             text NOT NULL,
    symbol             text NOT NULL,
    timeframe          text,
    status             text NOT NULL DEFAULT 'running'
                       CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    version            integer,
    error              text,
    flow_run_id        text,
    validation_result  jsonb,
    metadata           jsonb NOT NULL DEFAULT '{}'::jsonb,
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    last_run           timestamptz NOT NULL DEFAULT now(),
    CHECK ((status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL))
);
CREATE INDEX ml_training_jobs_slot ON ml_training_jobs (model_name, regime, symbol, started_at DESC);

CREATE TABLE model_comparison (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_name          text NOT NULL,
    regime              text NOT NULL,
    symbol              text NOT NULL,
    challenger_version  integer NOT NULL,
    champion_version    integer,
    window_start        timestamptz,
    window_end          timestamptz,
    n_samples           integer NOT NULL CHECK (n_samples >= 0),
    challenger_metrics  jsonb NOT NULL DEFAULT '{}'::jsonb,
    champion_metrics    jsonb,
    metric_deltas       jsonb NOT NULL DEFAULT '{}'::jsonb,
    test_name           text,
    statistic           double precision,
    p_value             double precision CHECK (p_value BETWEEN 0 AND 1),
    decision            text NOT NULL CHECK (decision IN ('promote', 'reject', 'needs_review', 'forced')),
    reasons             jsonb NOT NULL DEFAULT '[]'::jsonb,
    flow_run_id         text,
    created_by          text NOT NULL DEFAULT session_user,
    created_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (model_name, challenger_version) REFERENCES model_versions (model_name, version),
    FOREIGN KEY (model_name, champion_version) REFERENCES model_versions (model_name, version)
);
CREATE INDEX model_comparison_slot ON model_comparison (model_name, regime, symbol, created_at DESC);

CREATE TABLE rollback_events (
    id                 bigint GENERATED ALWAYS AS IDENTITY,
    event_time         timestamptz NOT NULL DEFAULT clock_timestamp(),
    model_name         text NOT NULL,
    regime             text NOT NULL,
    symbol             text NOT NULL,
    from_version       integer,
    to_version         integer,
    rollback_type      text NOT NULL CHECK (rollback_type IN ('automatic', 'manual', 'on_failure')),
    outcome            text NOT NULL DEFAULT 'executed'
                       CHECK (outcome IN ('executed', 'no_safe_candidate', 'aborted', 'dry_run')),
    rollback_reason    text NOT NULL,
    triggers           jsonb NOT NULL DEFAULT '[]'::jsonb,
    metrics_snapshot   jsonb NOT NULL DEFAULT '{}'::jsonb,
    degradation        double precision,
    confidence         double precision CHECK (confidence BETWEEN 0 AND 1),
    risk               text,
    actor              text NOT NULL DEFAULT session_user,
    on_behalf_of       text,
    flow_run_id        text,
    PRIMARY KEY (id, event_time)
);
CREATE INDEX rollback_events_slot ON rollback_events (model_name, regime, symbol, event_time DESC);

CREATE TRIGGER rollback_events_stamp
    BEFORE INSERT ON rollback_events
    FOR EACH ROW EXECUTE FUNCTION lifecycle_audit_stamp();
CREATE TRIGGER rollback_events_append_only
    BEFORE UPDATE OR DELETE ON rollback_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

CREATE TABLE model_performance_history (
    id                bigint GENERATED ALWAYS AS IDENTITY,
    ts                timestamptz NOT NULL,            -- end of the measured window
    window_start      timestamptz,
    model_name        text NOT NULL,
    version           integer NOT NULL,
    regime            text NOT NULL,
    symbol            text NOT NULL,
    source            text NOT NULL DEFAULT 'live' CHECK (source IN ('live', 'shadow', 'validation')),
    n_samples         integer NOT NULL DEFAULT 0 CHECK (n_samples >= 0),
    n_correct         integer CHECK (n_correct >= 0),
    accuracy          double precision,
    f1                double precision,
    precision         double precision,
    recall            double precision,
    total_inferences  bigint NOT NULL DEFAULT 0,
    error_count       bigint NOT NULL DEFAULT 0,
    error_rate        double precision,
    latency_p50_ms    double precision,
    latency_p95_ms    double precision,
    latency_p99_ms    double precision,
    drift_metrics     jsonb NOT NULL DEFAULT '{}'::jsonb,
    max_psi           double precision,
    metrics           jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (id, ts)
);
CREATE INDEX model_performance_history_version ON model_performance_history (model_name, version, ts DESC);
CREATE INDEX model_performance_history_slot ON model_performance_history (model_name, regime, symbol, ts DESC);

CREATE TABLE inference_events (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    ts           timestamptz NOT NULL,                 -- when the prediction was made
    bar_ts       timestamptz,                          -- the candle the prediction is about
    model_name   text NOT NULL,
    version      integer NOT NULL,
    regime       text NOT NULL,
    symbol       text NOT NULL,
    shadow       boolean NOT NULL DEFAULT false,
    success      boolean NOT NULL,
    error        text,
    latency_ms   double precision NOT NULL CHECK (latency_ms >= 0),
    prediction   smallint,
    probability  double precision CHECK (probability BETWEEN 0 AND 1),
    features     real[],                               -- the input vector, for drift checks
    PRIMARY KEY (id, ts)
);
CREATE INDEX inference_events_version_ts ON inference_events (model_name, version, ts);
CREATE INDEX inference_events_slot_ts ON inference_events (model_name, regime, symbol, ts);
