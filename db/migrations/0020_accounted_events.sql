-- Outcome resolution accounts for each inference event once: when its bar's horizon has elapsed on the
-- symbol's trading calendar (and the candles of its outcome are in), or at once for an event that
-- can have no outcome (no bar, no horizon). A resolution run picks up every event without a row here,
-- whenever it was predicted or written, writes the performance history of what it accounted and
-- these rows in one transaction: running it again finds nothing new. inference_events stays
-- append-only (and compressible under TimescaleDB): nothing marks its rows.
CREATE TABLE accounted_events (
    event_id    bigint PRIMARY KEY,            -- inference_events.id
    event_ts    timestamptz NOT NULL,          -- inference_events.ts (when the prediction was made)
    model_name  text NOT NULL,
    version     integer NOT NULL,
    shadow      boolean NOT NULL,
    bar_ts      timestamptz,
    -- The first successful prediction of its (version, source, bar): the one whose outcome and input
    -- vector were counted; later predictions of that bar count as repeats.
    counted_bar boolean NOT NULL,
    resolved_at timestamptz NOT NULL           -- the resolution's clock: ts of the history row it fed
);
CREATE INDEX accounted_events_bar ON accounted_events (model_name, version, shadow, bar_ts) WHERE counted_bar;
CREATE INDEX accounted_events_ts ON accounted_events (event_ts);

GRANT SELECT ON accounted_events TO alphaplus_reader;
GRANT INSERT ON accounted_events TO alphaplus_resolver;
