-- Where TimescaleDB is installed AND loaded (shared_preload_libraries), the time-series tables
-- become hypertables; elsewhere nothing happens and they stay plain tables with time indexes.
-- Every TimescaleDB call goes through EXECUTE so this file parses without the extension.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
       OR current_setting('shared_preload_libraries') NOT LIKE '%timescaledb%' THEN
        RAISE NOTICE 'timescaledb not available: time-series tables stay plain tables';
        RETURN;
    END IF;
    EXECUTE 'CREATE EXTENSION IF NOT EXISTS timescaledb';
    EXECUTE $q$SELECT create_hypertable('candles', by_range('ts', INTERVAL '30 days'))$q$;
    EXECUTE $q$SELECT create_hypertable('inference_events', by_range('ts', INTERVAL '1 day'))$q$;
    EXECUTE $q$SELECT create_hypertable('model_performance_history', by_range('ts', INTERVAL '30 days'))$q$;
    EXECUTE $q$SELECT create_hypertable('rollback_events', by_range('event_time', INTERVAL '90 days'))$q$;
    EXECUTE $q$SELECT create_hypertable('lifecycle_audit', by_range('ts', INTERVAL '90 days'))$q$;
    EXECUTE $q$ALTER TABLE inference_events SET (timescaledb.compress,
                 timescaledb.compress_segmentby = 'model_name, version',
                 timescaledb.compress_orderby = 'ts DESC, id DESC')$q$;
    EXECUTE $q$SELECT add_compression_policy('inference_events', INTERVAL '7 days')$q$;
    EXECUTE $q$SELECT add_retention_policy('inference_events', INTERVAL '180 days')$q$;
    EXECUTE $q$ALTER TABLE candles SET (timescaledb.compress,
                 timescaledb.compress_segmentby = 'symbol, timeframe',
                 timescaledb.compress_orderby = 'ts DESC')$q$;
    EXECUTE $q$SELECT add_compression_policy('candles', INTERVAL '90 days')$q$;
END
$$;
