-- The promotion gate's evidence on overlapping-horizon rows: how many rows, what they are worth as
-- independent outcomes (rows / horizon, and the bootstrap's effective n), the decisive test's
-- interval, and every test of the decision (no-skill references, champion) with its resampling.
ALTER TABLE model_comparison
    ADD COLUMN label_horizon      integer CHECK (label_horizon >= 1),
    ADD COLUMN n_outcomes         integer CHECK (n_outcomes >= 0),
    ADD COLUMN n_effective        double precision CHECK (n_effective >= 0),
    ADD COLUMN ci_low             double precision,
    ADD COLUMN ci_high            double precision,
    ADD COLUMN confidence         double precision CHECK (confidence > 0 AND confidence < 1),
    ADD COLUMN evidence           jsonb NOT NULL DEFAULT '{}'::jsonb;

COMMENT ON COLUMN model_comparison.n_samples IS 'Evaluation rows (overlapping labels: not independent).';
COMMENT ON COLUMN model_comparison.n_outcomes IS 'Independent outcomes: rows // label_horizon.';
COMMENT ON COLUMN model_comparison.n_effective IS 'Effective sample size of the decisive test (block bootstrap).';
COMMENT ON COLUMN model_comparison.test_name IS 'The decisive test; evidence.tests holds every test of the decision.';
