-- inference_events is the hottest write path (every prediction) and is read only by prediction
-- time (outcome resolution) and by model/version: the per-slot index cost every COPY a third more
-- index maintenance and served no query, so it goes.
DROP INDEX IF EXISTS inference_events_slot_ts;
