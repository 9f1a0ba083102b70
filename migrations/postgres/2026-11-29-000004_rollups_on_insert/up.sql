-- Hourly and daily rollups kept current as probe results are inserted, by every process and
-- every insert path, in the inserting transaction, so the retention job can delete raw results
-- without recomputing anything; `compute_rollups` recomputes the same figures from the raw rows.

-- Results recorded before this migration: rollups for the periods that have none yet (a period
-- the retention job already rolled up keeps its row: some of its raw results may be gone).
INSERT INTO service_health_rollups_hourly
    (service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms)
SELECT service, date_trunc('hour', checked_at), count(*),
       count(*) FILTER (WHERE status = 'healthy'),
       count(*) FILTER (WHERE status = 'degraded'),
       count(*) FILTER (WHERE status = 'unhealthy'),
       coalesce(sum(latency_ms), 0), max(latency_ms)
FROM service_health_metrics
GROUP BY 1, 2
ON CONFLICT (service, bucket) DO NOTHING;
INSERT INTO service_health_rollups_daily
    (service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms)
SELECT service, date_trunc('day', checked_at), count(*),
       count(*) FILTER (WHERE status = 'healthy'),
       count(*) FILTER (WHERE status = 'degraded'),
       count(*) FILTER (WHERE status = 'unhealthy'),
       coalesce(sum(latency_ms), 0), max(latency_ms)
FROM service_health_metrics
GROUP BY 1, 2
ON CONFLICT (service, bucket) DO NOTHING;

-- The rollups are derived data: the function runs as its owner (the role that ran the
-- migrations), so a role that may insert results (Row Level Security checks that insert) needs no
-- grant on the rollup tables. `search_path` is pinned to the one the migration ran with.
CREATE FUNCTION wedsync_rollup_inserted_results() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO service_health_rollups_hourly AS r
        (service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms)
    SELECT service, date_trunc('hour', checked_at), count(*),
           count(*) FILTER (WHERE status = 'healthy'),
           count(*) FILTER (WHERE status = 'degraded'),
           count(*) FILTER (WHERE status = 'unhealthy'),
           coalesce(sum(latency_ms), 0), max(latency_ms)
    FROM inserted
    GROUP BY 1, 2
    -- one lock order for every statement: concurrent inserts cannot deadlock on the rollup rows
    ORDER BY 1, 2
    ON CONFLICT (service, bucket) DO UPDATE SET
        checks = r.checks + EXCLUDED.checks,
        healthy = r.healthy + EXCLUDED.healthy,
        degraded = r.degraded + EXCLUDED.degraded,
        down = r.down + EXCLUDED.down,
        latency_sum_ms = r.latency_sum_ms + EXCLUDED.latency_sum_ms,
        latency_max_ms = greatest(r.latency_max_ms, EXCLUDED.latency_max_ms);
    INSERT INTO service_health_rollups_daily AS r
        (service, bucket, checks, healthy, degraded, down, latency_sum_ms, latency_max_ms)
    SELECT service, date_trunc('day', checked_at), count(*),
           count(*) FILTER (WHERE status = 'healthy'),
           count(*) FILTER (WHERE status = 'degraded'),
           count(*) FILTER (WHERE status = 'unhealthy'),
           coalesce(sum(latency_ms), 0), max(latency_ms)
    FROM inserted
    GROUP BY 1, 2
    ORDER BY 1, 2
    ON CONFLICT (service, bucket) DO UPDATE SET
        checks = r.checks + EXCLUDED.checks,
        healthy = r.healthy + EXCLUDED.healthy,
        degraded = r.degraded + EXCLUDED.degraded,
        down = r.down + EXCLUDED.down,
        latency_sum_ms = r.latency_sum_ms + EXCLUDED.latency_sum_ms,
        latency_max_ms = greatest(r.latency_max_ms, EXCLUDED.latency_max_ms);
    RETURN NULL;
END
$$;

CREATE TRIGGER service_health_metrics_rollup
    AFTER INSERT ON service_health_metrics
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION wedsync_rollup_inserted_results();
