-- What a rollback assessment rested on, as columns a person can query: how many outcomes (rows) and
-- what they are worth as independent outcomes, which test decided, its statistic and its p-value
-- (Holm-adjusted within the metrics tested together). The full assessment stays in the jsonb columns.
-- A rollback withheld because the whole market shifted is recorded too (outcome 'market_shift').

ALTER TABLE slot_assessments
    ADD COLUMN last_n            bigint CHECK (last_n >= 0),
    ADD COLUMN last_n_effective  double precision CHECK (last_n_effective >= 0),
    ADD COLUMN last_test         text,
    ADD COLUMN last_statistic    double precision,
    ADD COLUMN last_p_value      double precision CHECK (last_p_value BETWEEN 0 AND 1);

ALTER TABLE rollback_events
    ADD COLUMN n_outcomes   bigint CHECK (n_outcomes >= 0),
    ADD COLUMN n_effective  double precision CHECK (n_effective >= 0),
    ADD COLUMN test_name    text,
    ADD COLUMN statistic    double precision,
    ADD COLUMN p_value      double precision CHECK (p_value BETWEEN 0 AND 1);

ALTER TABLE rollback_events DROP CONSTRAINT rollback_events_outcome_check;
ALTER TABLE rollback_events ADD CONSTRAINT rollback_events_outcome_check
    CHECK (outcome IN ('executed', 'no_safe_candidate', 'aborted', 'dry_run', 'market_shift'));
