-- Row Level Security for deployments that share the database with a Supabase app.
--
-- The store itself connects as the tables' owner (or a BYPASSRLS role such as Supabase's
-- `service_role`), so these policies do not restrict it. Every other role, e.g. Supabase's
-- `authenticated`, reads a table only with the `monitoring:read` permission (or
-- `monitoring:admin`) and writes only with `monitoring:admin`. Permissions come from the request's
-- JWT claims as PostgREST/Supabase set them (`request.jwt.claims`): either a top-level
-- `permissions` array or `app_metadata.permissions`.

CREATE FUNCTION wedsync_has_permission(perm TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (claims -> 'permissions') ? perm OR (claims -> 'app_metadata' -> 'permissions') ? perm,
        FALSE)
    FROM (SELECT nullif(current_setting('request.jwt.claims', TRUE), '')::jsonb AS claims) c
$$;

ALTER TABLE service_health_metrics ENABLE ROW LEVEL SECURITY;
CREATE POLICY service_health_metrics_read ON service_health_metrics FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY service_health_metrics_write ON service_health_metrics FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE service_alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY service_alerts_read ON service_alerts FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY service_alerts_write ON service_alerts FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE webhook_delivery_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_delivery_log_read ON webhook_delivery_log FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY webhook_delivery_log_write ON webhook_delivery_log FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE webhook_delivery_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY webhook_delivery_attempts_read ON webhook_delivery_attempts FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY webhook_delivery_attempts_write ON webhook_delivery_attempts FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE circuit_breaker_status ENABLE ROW LEVEL SECURITY;
CREATE POLICY circuit_breaker_status_read ON circuit_breaker_status FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY circuit_breaker_status_write ON circuit_breaker_status FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE monitoring_configuration ENABLE ROW LEVEL SECURITY;
CREATE POLICY monitoring_configuration_read ON monitoring_configuration FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY monitoring_configuration_write ON monitoring_configuration FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
-- key hashes are for administrators only
CREATE POLICY api_keys_read ON api_keys FOR SELECT
    USING (wedsync_has_permission('monitoring:admin'));
CREATE POLICY api_keys_write ON api_keys FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY audit_log_write ON audit_log FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE notification_outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY notification_outbox_read ON notification_outbox FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY notification_outbox_write ON notification_outbox FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE delivery_queue ENABLE ROW LEVEL SECURITY;
CREATE POLICY delivery_queue_read ON delivery_queue FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY delivery_queue_write ON delivery_queue FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE service_health_rollups_hourly ENABLE ROW LEVEL SECURITY;
CREATE POLICY service_health_rollups_hourly_read ON service_health_rollups_hourly FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY service_health_rollups_hourly_write ON service_health_rollups_hourly FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));

ALTER TABLE service_health_rollups_daily ENABLE ROW LEVEL SECURITY;
CREATE POLICY service_health_rollups_daily_read ON service_health_rollups_daily FOR SELECT
    USING (wedsync_has_permission('monitoring:read') OR wedsync_has_permission('monitoring:admin'));
CREATE POLICY service_health_rollups_daily_write ON service_health_rollups_daily FOR ALL
    USING (wedsync_has_permission('monitoring:admin'))
    WITH CHECK (wedsync_has_permission('monitoring:admin'));
