DROP TRIGGER IF EXISTS service_health_metrics_rollup ON service_health_metrics;
DROP FUNCTION IF EXISTS wedsync_rollup_inserted_results();
