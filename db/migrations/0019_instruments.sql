-- Instruments: what a symbol is traded on. Its trading calendar says when its market is open, so the
-- quality gate expects bars only then (weekends, nights and holidays are not gaps). A symbol without a
-- row trades around the clock ('24/7'), as every symbol did before this table.
CREATE TABLE instruments (
    symbol     text PRIMARY KEY CHECK (length(symbol) BETWEEN 1 AND 64 AND symbol !~ '[[:cntrl:]]'),
    calendar   text NOT NULL DEFAULT '24/7' CHECK (length(calendar) BETWEEN 1 AND 32),
    notes      text CHECK (notes IS NULL OR length(notes) <= 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The database stamps the times: created once, updated at every change.
CREATE FUNCTION instruments_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.created_at := now();
    ELSE
        NEW.created_at := OLD.created_at;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER instruments_stamp
    BEFORE INSERT OR UPDATE ON instruments
    FOR EACH ROW EXECUTE FUNCTION instruments_stamp();

GRANT SELECT ON instruments TO alphaplus_reader;
GRANT INSERT, UPDATE ON instruments TO alphaplus_trainer;
