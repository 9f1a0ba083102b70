-- Hourly and daily rollups kept current as probe results are inserted (in the inserting
-- transaction), so the retention job can delete raw results without recomputing anything;
-- `compute_rollups` recomputes the same figures from the raw rows. Buckets are microseconds since
-- the epoch, truncated to the hour and to the UTC day.

-- Results recorded before this migration: rollups for the periods that have none yet (a period
-- the retention job already rolled up keeps its row: some of its raw results may be gone).
INSERT INTO service_health_rollups_hourly
    (service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms)
SELECT service, checked_at - (checked_at % 3600000000), count(*),
       sum(status = 'healthy'), sum(status = 'degraded'), sum(status = 'unhealthy'),
       coalesce(sum(latency_ms), 0), max(latency_ms)
FROM service_health_metrics
WHERE true
GROUP BY 1, 2
ON CONFLICT (service, bucket) DO NOTHING;
INSERT INTO service_health_rollups_daily
    (service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms)
SELECT service, checked_at - (checked_at % 86400000000), count(*),
       sum(status = 'healthy'), sum(status = 'degraded'), sum(status = 'unhealthy'),
       coalesce(sum(latency_ms), 0), max(latency_ms)
FROM service_health_metrics
WHERE true
GROUP BY 1, 2
ON CONFLICT (service, bucket) DO NOTHING;

CREATE TRIGGER service_health_metrics_rollup
AFTER INSERT ON service_health_metrics
BEGIN
    INSERT INTO service_health_rollups_hourly
        (service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms)
    VALUES (NEW.service, NEW.checked_at - (NEW.checked_at % 3600000000), 1,
            NEW.status = 'healthy', NEW.status = 'degraded', NEW.status = 'unhealthy',
            coalesce(NEW.latency_ms, 0), NEW.latency_ms)
    ON CONFLICT (service, bucket) DO UPDATE SET
        checks = checks + 1,
        healthy = healthy + excluded.healthy,
        degraded = degraded + excluded.degraded,
        down = down + excluded.down,
        latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms,
        latency_max_ms = CASE
            WHEN latency_max_ms IS NULL THEN excluded.latency_max_ms
            WHEN excluded.latency_max_ms IS NULL THEN latency_max_ms
            ELSE max(latency_max_ms, excluded.latency_max_ms)
        END;
    INSERT INTO service_health_rollups_daily
        (service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms)
    VALUES (NEW.service, NEW.checked_at - (NEW.checked_at % 86400000000), 1,
            NEW.status = 'healthy', NEW.status = 'degraded', NEW.status = 'unhealthy',
            coalesce(NEW.latency_ms, 0), NEW.latency_ms)
    ON CONFLICT (service, bucket) DO UPDATE SET
        checks = checks + 1,
        healthy = healthy + excluded.healthy,
        degraded = degraded + excluded.degraded,
        down = down + excluded.down,
        latency_sum_ms = latency_sum_ms + excluded.latency_sum_ms,
        latency_max_ms = CASE
            WHEN latency_max_ms IS NULL THEN excluded.latency_max_ms
            WHEN excluded.latency_max_ms IS NULL THEN latency_max_ms
            ELSE max(latency_max_ms, excluded.latency_max_ms)
        END;
END;
