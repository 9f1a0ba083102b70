-- WedSync monitoring schema (PostgreSQL). Every timestamp is timestamptz.
-- See docs/storage.md for what each table is for and which query uses which index.

-- One row per probe result.
CREATE TABLE service_health_metrics (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    service     TEXT        NOT NULL,
    status      TEXT        NOT NULL
                CHECK (status IN ('healthy', 'degraded', 'unhealthy', 'auth_failed', 'rate_limited', 'unknown')),
    latency_ms  INTEGER     CHECK (latency_ms >= 0),
    http_status INTEGER,
    detail      TEXT,
    checked_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    result      JSONB       -- the full probe result (timings, request id, retry-after) when known
);
-- latest result per service, a service's history, 24 h uptime
CREATE INDEX service_health_metrics_service_checked_at
    ON service_health_metrics (service, checked_at DESC) INCLUDE (status);
-- retention and rollups scan by time
CREATE INDEX service_health_metrics_checked_at ON service_health_metrics (checked_at);

-- Incidents.
CREATE TABLE service_alerts (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedup_key          TEXT        NOT NULL UNIQUE,
    service            TEXT        NOT NULL,
    state              TEXT        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    status             TEXT        NOT NULL,
    severity           TEXT        NOT NULL DEFAULT 'critical' CHECK (severity IN ('info', 'warning', 'critical')),
    summary            TEXT        NOT NULL DEFAULT '',
    wedding_day        BOOLEAN     NOT NULL DEFAULT FALSE,
    opened_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at        TIMESTAMPTZ,
    last_notified_at   TIMESTAMPTZ,
    notifications_sent INTEGER     NOT NULL DEFAULT 0
);
-- at most one open incident per service, even with several server processes
CREATE UNIQUE INDEX service_alerts_one_open_per_service ON service_alerts (service) WHERE state = 'open';
CREATE INDEX service_alerts_open_opened_at ON service_alerts (opened_at) WHERE state = 'open';
CREATE INDEX service_alerts_service_opened_at ON service_alerts (service, opened_at DESC);
CREATE INDEX service_alerts_resolved_at ON service_alerts (resolved_at) WHERE resolved_at IS NOT NULL;

-- Webhook deliveries received from providers.
CREATE TABLE webhook_delivery_log (
    id              TEXT        PRIMARY KEY,
    provider        TEXT        NOT NULL,
    event_id        TEXT        NOT NULL,
    event_type      TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    signature_valid BOOLEAN     NOT NULL DEFAULT TRUE,
    raw_body        BYTEA,
    sanitized_body  TEXT,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT,
    received_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    next_attempt_at TIMESTAMPTZ,
    completed_at    TIMESTAMPTZ
);
-- provider retries of the same event are recognised
CREATE UNIQUE INDEX webhook_delivery_log_provider_event ON webhook_delivery_log (provider, event_id);
CREATE INDEX webhook_delivery_log_received_at ON webhook_delivery_log (received_at DESC);
CREATE INDEX webhook_delivery_log_status_received_at ON webhook_delivery_log (status, received_at DESC);
-- raw-body retention only looks at rows that still hold a body
CREATE INDEX webhook_delivery_log_raw_body_received_at ON webhook_delivery_log (received_at) WHERE raw_body IS NOT NULL;

-- Each forwarding attempt of a delivery.
CREATE TABLE webhook_delivery_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id TEXT        NOT NULL REFERENCES webhook_delivery_log (id) ON DELETE CASCADE,
    attempt     INTEGER     NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    outcome     TEXT        NOT NULL,
    http_status INTEGER,
    error       TEXT,
    UNIQUE (delivery_id, attempt)
);
CREATE INDEX webhook_delivery_attempts_finished_at ON webhook_delivery_attempts (finished_at);

-- Per-breaker state shared by every server process.
CREATE SEQUENCE circuit_breaker_status_seq;
CREATE TABLE circuit_breaker_status (
    name          TEXT        PRIMARY KEY,
    state         TEXT        NOT NULL
                  CHECK (state IN ('closed', 'open', 'half_open', 'disabled', 'forced_open', 'metrics_only')),
    failure_count BIGINT      NOT NULL DEFAULT 0,
    success_count BIGINT      NOT NULL DEFAULT 0,
    open_until    TIMESTAMPTZ,
    wedding_day   BOOLEAN,
    last_change   TEXT        NOT NULL, -- the breaker crate's SharedChangeKind (transition, reset, ...)
    changed_from  TEXT,                 -- the state before, for transitions
    changed_by    TEXT        NOT NULL, -- the instance that made the change
    changed_at    TIMESTAMPTZ NOT NULL,
    seq           BIGINT      NOT NULL DEFAULT nextval('circuit_breaker_status_seq'),
    version       BIGINT      NOT NULL DEFAULT 1,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- followers read the changes after the last sequence number they saw
CREATE INDEX circuit_breaker_status_seq_idx ON circuit_breaker_status (seq);
CREATE INDEX circuit_breaker_status_updated_at ON circuit_breaker_status (updated_at);

-- Per-service settings, versioned: a change inserts a new version.
CREATE TABLE monitoring_configuration (
    service    TEXT        NOT NULL,
    version    INTEGER     NOT NULL CHECK (version > 0),
    settings   JSONB       NOT NULL,
    enabled    BOOLEAN     NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_by TEXT        NOT NULL,
    PRIMARY KEY (service, version)
);

-- API keys: only a SHA-256 of the key is stored.
CREATE TABLE api_keys (
    id           TEXT        PRIMARY KEY,
    name         TEXT        NOT NULL,
    key_prefix   TEXT        NOT NULL,
    key_hash     BYTEA       NOT NULL UNIQUE,
    scopes       TEXT[]      NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX api_keys_created_at ON api_keys (created_at DESC);

-- Append-only audit log of administrative actions.
CREATE TABLE audit_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor      TEXT        NOT NULL,
    action     TEXT        NOT NULL,
    target     TEXT,
    detail     JSONB,
    request_id TEXT
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);

-- Alert notifications waiting to be sent (transactional outbox).
CREATE TABLE notification_outbox (
    id              TEXT        PRIMARY KEY,
    seq             BIGINT      GENERATED ALWAYS AS IDENTITY,
    incident_key    TEXT        NOT NULL,
    service         TEXT        NOT NULL,
    sink            TEXT        NOT NULL,
    kind            TEXT        NOT NULL,
    payload         TEXT        NOT NULL,
    state           TEXT        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX notification_outbox_incident ON notification_outbox (incident_key, seq);
CREATE INDEX notification_outbox_created_at ON notification_outbox (created_at);

-- The delivery queue: one row per job waiting or leased; a finished job is deleted.
CREATE TABLE delivery_queue (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue       TEXT        NOT NULL,
    delivery_id TEXT        NOT NULL,
    priority    SMALLINT    NOT NULL DEFAULT 0,
    run_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts    INTEGER     NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- claim: ready jobs, highest priority first, then earliest due
CREATE INDEX delivery_queue_ready ON delivery_queue (queue, priority DESC, run_at, id) WHERE lease_until IS NULL;
-- reclaim: leases that ran out
CREATE INDEX delivery_queue_leased ON delivery_queue (lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX delivery_queue_delivery_id ON delivery_queue (delivery_id);

-- Probe-result rollups, kept a year.
CREATE TABLE service_health_rollups_hourly (
    service        TEXT        NOT NULL,
    bucket         TIMESTAMPTZ NOT NULL,
    checks         BIGINT      NOT NULL,
    healthy        BIGINT      NOT NULL,
    degraded       BIGINT      NOT NULL,
    down           BIGINT      NOT NULL,
    latency_sum_ms BIGINT      NOT NULL,
    latency_max_ms INTEGER,
    PRIMARY KEY (service, bucket)
);
CREATE INDEX service_health_rollups_hourly_bucket ON service_health_rollups_hourly (bucket);

CREATE TABLE service_health_rollups_daily (
    service        TEXT        NOT NULL,
    bucket         TIMESTAMPTZ NOT NULL,
    checks         BIGINT      NOT NULL,
    healthy        BIGINT      NOT NULL,
    degraded       BIGINT      NOT NULL,
    down           BIGINT      NOT NULL,
    latency_sum_ms BIGINT      NOT NULL,
    latency_max_ms INTEGER,
    PRIMARY KEY (service, bucket)
);
CREATE INDEX service_health_rollups_daily_bucket ON service_health_rollups_daily (bucket);

-- Wake-ups for breaker-state followers (LISTEN/NOTIFY).
-- (Queue wake-ups are sent by the store after its writes commit, at most one per few ms, rather
-- than by a trigger: a NOTIFY inside a write transaction serialises commits on a global lock and
-- defeats group commit.)

CREATE FUNCTION wedsync_notify_breaker() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wedsync_breaker', NEW.name);
    RETURN NULL;
END $$;
CREATE TRIGGER circuit_breaker_status_notify AFTER INSERT OR UPDATE ON circuit_breaker_status
    FOR EACH ROW EXECUTE FUNCTION wedsync_notify_breaker();
