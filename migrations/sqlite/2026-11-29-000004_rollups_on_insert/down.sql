DROP TRIGGER IF EXISTS service_health_metrics_rollup;
