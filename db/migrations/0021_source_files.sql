-- Drop folders: the files of candles read from a folder another process drops them into, so the next
-- retrain reads the new ones and refuses a file whose content changed after it was read (a model
-- trained on the earlier content would no longer be reproducible). The candles themselves stay in the
-- files: nothing is copied into `candles`.
CREATE TABLE source_files (
    folder        text NOT NULL CHECK (length(folder) BETWEEN 1 AND 4096),
    path          text NOT NULL CHECK (length(path) BETWEEN 1 AND 4096),   -- relative to the folder
    symbol        text NOT NULL,
    timeframe     text NOT NULL,
    size          bigint NOT NULL CHECK (size >= 0),
    mtime_ns      bigint NOT NULL,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    rows          integer NOT NULL CHECK (rows >= 0),
    first_ts      timestamptz,
    last_ts       timestamptz,
    first_read_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (folder, path)
);
CREATE INDEX source_files_series ON source_files (folder, symbol, timeframe);

GRANT INSERT, UPDATE ON source_files TO alphaplus_trainer;
