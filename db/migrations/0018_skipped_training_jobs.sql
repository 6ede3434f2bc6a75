-- A slot with too little usable data to train is skipped, not failed: its job ends 'skipped', and the
-- run's failure hook leaves slots whose job ended well alone.
ALTER TABLE ml_training_jobs DROP CONSTRAINT ml_training_jobs_status_check;
ALTER TABLE ml_training_jobs DROP CONSTRAINT ml_training_jobs_check;
ALTER TABLE ml_training_jobs
    ADD CONSTRAINT ml_training_jobs_status_check
        CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
    ADD CONSTRAINT ml_training_jobs_finished_check
        CHECK ((status IN ('succeeded', 'failed', 'skipped')) = (finished_at IS NOT NULL));
-- The failure hook looks up a run's jobs by flow run.
CREATE INDEX ml_training_jobs_flow_run ON ml_training_jobs (flow_run_id) WHERE flow_run_id IS NOT NULL;
