#!/usr/bin/env bash
# Load figures for wedsync-monitor (issue #8), recorded in docs/benchmarks.md:
#   1. GET /api/admin/integrations/health at a constant 1,000 req/s: p99 (goal ≤ 2 ms);
#   2. the same route's maximum throughput against a bare hyper hello-world, same run, same tool
#      (goal ≥ 50 %);
#   3. POST /webhooks/stripe with valid signatures, durable on PostgreSQL, at a constant rate
#      (goal ≥ 2,000/s with p99 ≤ 50 ms), then closed loop;
#   4. idle RSS with four providers configured (goal ≤ 30 MB).
#
# Usage: scripts/load.sh            (needs PostgreSQL for 3: DATABASE_URL, default
#                                    postgres://postgres@127.0.0.1:5432; `psql` to create a database)
# Knobs: DURATION=20 RATE=1000 WEBHOOK_RATE=2000 CONNECTIONS=16 SKIP_PG=1
# Throughput uses wrk when it is installed (`apt-get install -y wrk`), else the load example in
# closed-loop mode; the constant-rate runs always use crates/server/examples/load.rs (wrk has no -R).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
DURATION="${DURATION:-20}"
RATE="${RATE:-1000}"
WEBHOOK_RATE="${WEBHOOK_RATE:-2000}"
CONNECTIONS="${CONNECTIONS:-16}"
PG_BASE="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432}"
PG_BASE="${PG_BASE%/*}"
[ "${PG_BASE#postgres://}" = "$PG_BASE" ] && PG_BASE="postgres://postgres@127.0.0.1:5432"
HELLO_PORT="${HELLO_PORT:-18081}"
SERVER_PORT="${SERVER_PORT:-18080}"
PG_PORT="${PG_SERVER_PORT:-18083}"

cargo build --release -q -p wedsync-monitor --bin wedsync-monitor --example hello --example load
BIN="$CARGO_TARGET_DIR/release/wedsync-monitor"
HELLO="$CARGO_TARGET_DIR/release/examples/hello"
LOAD="$CARGO_TARGET_DIR/release/examples/load"

WORK="$(mktemp -d)"
PIDS=()
DB=""
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "$DB" ]; then psql -q "$PG_BASE/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_http() {
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing answers at $1" >&2
    exit 1
}

# fake credentials, assembled at run time; the probes' "providers" are the hello-world on loopback
export LOAD_STRIPE_KEY="$(printf '%s_%s_%s' sk test loadonly0123456789)"
export LOAD_TWILIO_TOKEN="loadonly-twilio-token"
export LOAD_TWILIO_SID="$(printf '%s%s' AC 0123456789abcdef0123456789abcdef)"
export LOAD_RESEND_KEY="$(printf '%s_%s' re loadonly0123456789)"
export LOAD_SUPABASE_KEY="loadonly-supabase-anon-key"
export LOAD_STRIPE_WEBHOOK_SECRET="$(printf '%s_%s' whsec bG9hZG9ubHlsb2Fkb25seWxvYWRvbmx5bG9hZG9ubHk=)"
export LOAD_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)"

config() { # $1 = listen, $2 = store url
    local upstream="http://127.0.0.1:$HELLO_PORT"
    cat <<EOF
[server]
listen = "$1"
[store]
url = "$2"
[ingress]
encryption_key_env = "LOAD_ENCRYPTION_KEY"
[rate_limits]
# one API key drives the whole load; the default 600/min would answer 429 within a second
general_per_minute = 1000000000
[[services]]
name = "stripe"
kind = "stripe"
base_url = "$upstream"
credential_env = "LOAD_STRIPE_KEY"
[[services]]
name = "twilio"
kind = "twilio"
base_url = "$upstream"
credential_env = "LOAD_TWILIO_TOKEN"
account_sid_env = "LOAD_TWILIO_SID"
[[services]]
name = "resend"
kind = "resend"
base_url = "$upstream"
credential_env = "LOAD_RESEND_KEY"
domain = "mail.example.com"
[[services]]
name = "supabase_auth"
kind = "supabase_auth"
base_url = "$upstream"
credential_env = "LOAD_SUPABASE_KEY"
[webhooks.stripe]
secret_env = "LOAD_STRIPE_WEBHOOK_SECRET"
EOF
}

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
"$HELLO" "127.0.0.1:$HELLO_PORT" >/dev/null &
HELLO_PID=$!
PIDS+=($HELLO_PID)
wait_http "http://127.0.0.1:$HELLO_PORT/"

config "127.0.0.1:$SERVER_PORT" "sqlite://$WORK/load.db" >"$WORK/sqlite.toml"
KEY="$("$BIN" --config "$WORK/sqlite.toml" api-key create --name load --scope monitoring:read | awk '$1 ~ /^wsk_/ {print $1}')"
[ -n "$KEY" ] || { echo "could not create an API key" >&2; exit 1; }
"$BIN" --config "$WORK/sqlite.toml" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=($SERVER_PID)
wait_http "http://127.0.0.1:$SERVER_PORT/healthz"
HEALTH="http://127.0.0.1:$SERVER_PORT/api/admin/integrations/health"
AUTH="Authorization: Bearer $KEY"

echo
echo "== idle RSS, four providers configured (SQLite store), after 10 s of probing"
sleep 10
rss_kb="$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status")"
hwm_kb="$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status")"
echo "RESULT label=idle_rss rss_mb=$(awk "BEGIN {printf \"%.1f\", $rss_kb/1024}") peak_mb=$(awk "BEGIN {printf \"%.1f\", $hwm_kb/1024}")"

echo
echo "== GET /api/admin/integrations/health at a constant $RATE req/s"
"$LOAD" --url "$HEALTH" --header "$AUTH" --rate "$RATE" --duration "$DURATION" \
    --connections "$CONNECTIONS" --label "health_${RATE}rps"

echo
echo "== maximum throughput: hello-world vs GET /api/admin/integrations/health (same tool, 64 connections)"
if command -v wrk >/dev/null; then
    # CPU time (user + system, clock ticks) the serving process spent: per request it is less
    # sensitive to other load on the machine than the request rate
    ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
    for target in hello health hello2; do
        case $target in
            hello | hello2) url="http://127.0.0.1:$HELLO_PORT/"; hdr=(); pid=$HELLO_PID ;;
            health) url="$HEALTH"; hdr=(-H "$AUTH"); pid=$SERVER_PID ;;
        esac
        t0="$(ticks "$pid")"
        out="$(wrk -t2 -c64 -d"${DURATION}s" --latency "${hdr[@]}" "$url")"
        t1="$(ticks "$pid")"
        echo "$out" | sed 's/^/  /'
        rps="$(echo "$out" | awk '/^Requests\/sec/ {printf "%.0f", $2}')"
        n="$(echo "$out" | awk '/requests in/ {print $1}')"
        non2xx="$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
        cpu_us="$(awk "BEGIN {printf \"%.2f\", ($t1 - $t0) * 1000000 / $(getconf CLK_TCK) / $n}")"
        echo "RESULT label=wrk_$target rps=$rps non2xx=${non2xx:-0} server_cpu_us_per_req=$cpu_us"
    done
else
    "$LOAD" --url "http://127.0.0.1:$HELLO_PORT/" --duration "$DURATION" --connections 64 --label max_hello
    "$LOAD" --url "$HEALTH" --header "$AUTH" --duration "$DURATION" --connections 64 --label max_health
    "$LOAD" --url "http://127.0.0.1:$HELLO_PORT/" --duration "$DURATION" --connections 64 --label max_hello2
fi
kill "$SERVER_PID" 2>/dev/null || true

if [ "${SKIP_PG:-0}" = 1 ]; then exit 0; fi
echo
echo "== POST /webhooks/stripe, valid signatures, durable on PostgreSQL ($PG_BASE)"
DB="wedsync_load_$$"
psql -q "$PG_BASE/postgres" -c "CREATE DATABASE $DB" >/dev/null
PG_URL="$PG_BASE/$DB"
config "127.0.0.1:$PG_PORT" "$PG_URL" >"$WORK/pg.toml"
"$BIN" --config "$WORK/pg.toml" migrate >/dev/null
echo "synchronous_commit: $(psql -At "$PG_URL" -c 'SHOW synchronous_commit')"
"$BIN" --config "$WORK/pg.toml" serve >"$WORK/server-pg.log" 2>&1 &
PG_SERVER_PID=$!
PIDS+=($PG_SERVER_PID)
wait_http "http://127.0.0.1:$PG_PORT/healthz"
INGRESS="http://127.0.0.1:$PG_PORT/webhooks/stripe"
"$LOAD" --url "$INGRESS" --stripe-secret "$LOAD_STRIPE_WEBHOOK_SECRET" --rate "$WEBHOOK_RATE" \
    --duration "$DURATION" --connections 64 --label "webhooks_pg_${WEBHOOK_RATE}rps"
"$LOAD" --url "$INGRESS" --stripe-secret "$LOAD_STRIPE_WEBHOOK_SECRET" \
    --duration "$DURATION" --connections 64 --label webhooks_pg_max
echo "deliveries in webhook_delivery_log: $(psql -At "$PG_URL" -c 'SELECT count(*) FROM webhook_delivery_log' 2>/dev/null || echo '?')"
