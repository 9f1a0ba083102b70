#!/usr/bin/env bash
# The project's one test command (the README's second command; CI runs exactly this).
#
#   1. finds PostgreSQL: $DATABASE_URL if set, else 127.0.0.1:5432 as user `postgres`, else starts a
#      throwaway cluster with initdb/pg_ctl (found on PATH or under /usr/lib/postgresql/*/bin), its
#      Unix socket under target/, fsync off, removed afterwards -- also when tests fail;
#   2. gives the run a fresh database (dropped afterwards) and exports it as DATABASE_URL;
#   3. installs Chromium and chromedriver for the dashboard's browser test when it can
#      (scripts/browser-deps.sh; in CI a missing browser fails that test instead of skipping it);
#   4. runs `cargo fmt --check`, `cargo clippy --all-targets -D warnings` and every test, doctests
#      included -- among them the reliability campaign (tests/campaign.rs, with a private
#      PostgreSQL cluster of its own) and the browser test.
#
# It never skips database tests: when no PostgreSQL can be found or started it stops with a message
# that says how to get one.
#
# Options (environment):
#   DATABASE_URL          use this server (any database on it; the run creates its own next to it)
#   WEDSYNC_TEST_ARGS     extra arguments for `cargo test` (e.g. "-p wedsync-breaker")
#   WEDSYNC_SKIP_LINT=1   skip fmt and clippy (for quick local loops; CI never sets it)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

timed() {
  local name=$1
  shift
  local t0
  t0=$(date +%s)
  say "$name"
  local rc=0
  "$@" || rc=$?
  say "$name: $(($(date +%s) - t0)) s$([ "$rc" -eq 0 ] || echo " (failed, exit $rc)")"
  return "$rc"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------

PG_CLUSTER_DIR=""   # set when this script started its own cluster
PG_AS=()            # command prefix to run server binaries as a non-root user
RUN_DB=""           # the per-run database
ADMIN_URL=""        # a URL to the server's `postgres` database

find_pg_tool() {
  local tool=$1
  if command -v "$tool" >/dev/null 2>&1; then
    command -v "$tool"
    return 0
  fi
  local candidate
  # highest major version first
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -rn); do
    if [ -x "$candidate/$tool" ]; then
      echo "$candidate/$tool"
      return 0
    fi
  done
  return 1
}

PSQL=$(find_pg_tool psql || true)

# url_with_db URL DB -> URL with its database path replaced by DB (query string kept)
url_with_db() {
  local url=$1 db=$2 query=""
  if [[ $url == *\?* ]]; then
    query="?${url#*\?}"
    url=${url%%\?*}
  fi
  local scheme_rest=${url#*://}
  local scheme=${url%%://*}
  local authority=${scheme_rest%%/*}
  echo "${scheme}://${authority}/${db}${query}"
}

pg_ok() {
  [ -n "$PSQL" ] || return 1
  PGCONNECT_TIMEOUT=3 "$PSQL" "$1" -Atqc 'select 1' >/dev/null 2>&1
}

start_throwaway_cluster() {
  local initdb pg_ctl
  initdb=$(find_pg_tool initdb) || return 1
  pg_ctl=$(find_pg_tool pg_ctl) || return 1
  mkdir -p "$ROOT/target"
  PG_CLUSTER_DIR="$ROOT/target/pgtest.$$"
  if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root: run it as the `postgres` user.
    id postgres >/dev/null 2>&1 || die "running as root and no 'postgres' user exists to run a throwaway PostgreSQL"
    PG_AS=(runuser -u postgres --)
    mkdir -p "$PG_CLUSTER_DIR"
    chown postgres "$PG_CLUSTER_DIR"
    if ! "${PG_AS[@]}" test -w "$PG_CLUSTER_DIR"; then
      # the checkout lives where `postgres` cannot reach (e.g. under /root): fall back to /tmp
      rm -rf "$PG_CLUSTER_DIR"
      PG_CLUSTER_DIR=$(mktemp -d /tmp/wedsync-pgtest.XXXXXX)
      chown postgres "$PG_CLUSTER_DIR"
      say "target/ is not reachable by user postgres; throwaway cluster lives in $PG_CLUSTER_DIR"
    fi
  else
    mkdir -p "$PG_CLUSTER_DIR"
  fi
  say "starting a throwaway PostgreSQL in $PG_CLUSTER_DIR ($initdb)"
  "${PG_AS[@]}" "$initdb" -D "$PG_CLUSTER_DIR/data" -U postgres -A trust --no-sync -E UTF8 \
    >"$PG_CLUSTER_DIR/initdb.log" 2>&1 || { cat "$PG_CLUSTER_DIR/initdb.log" >&2; return 1; }
  "${PG_AS[@]}" "$pg_ctl" -D "$PG_CLUSTER_DIR/data" -l "$PG_CLUSTER_DIR/server.log" -w -t 60 \
    -o "-k $PG_CLUSTER_DIR -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null || { cat "$PG_CLUSTER_DIR/server.log" >&2; return 1; }
  local enc_sock=${PG_CLUSTER_DIR//\//%2F}
  ADMIN_URL="postgres://postgres@${enc_sock}/postgres"
}

cleanup() {
  local rc=$?
  if [ -n "$RUN_DB" ] && [ -n "$ADMIN_URL" ] && [ -n "$PSQL" ]; then
    # drop the run's database and any per-test database a crashed test left behind
    "$PSQL" "$ADMIN_URL" -Atqc "select datname from pg_database where datname like '${RUN_DB}%'" 2>/dev/null |
      while read -r db; do
        "$PSQL" "$ADMIN_URL" -qc "drop database if exists \"$db\" with (force)" >/dev/null 2>&1 || true
      done
  fi
  if [ -n "$PG_CLUSTER_DIR" ]; then
    local pg_ctl
    pg_ctl=$(find_pg_tool pg_ctl || true)
    [ -z "$pg_ctl" ] || "${PG_AS[@]}" "$pg_ctl" -D "$PG_CLUSTER_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_CLUSTER_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

how_to_get_pg() {
  cat >&2 <<'EOF'
error: no PostgreSQL found, and none could be started.
The tests need a real PostgreSQL (they never skip database tests). Any one of these works:
  * point DATABASE_URL at a server you have:   DATABASE_URL=postgres://user@host:5432/db scripts/test.sh
  * run one on 127.0.0.1:5432 with user `postgres` (e.g. Debian/Ubuntu: apt-get install postgresql;
    macOS: brew install postgresql@16 && brew services start postgresql@16)
  * or just install the server binaries (initdb, pg_ctl) and this script starts a throwaway cluster.
EOF
  exit 1
}

[ -n "$PSQL" ] || say "psql not found; looking for server binaries to start a throwaway cluster"

if [ -n "${DATABASE_URL:-}" ]; then
  pg_ok "$DATABASE_URL" || die "DATABASE_URL is set but PostgreSQL does not answer there (is it running? is psql installed?)"
  ADMIN_URL=$DATABASE_URL
  say "using PostgreSQL from DATABASE_URL"
elif pg_ok "postgres://postgres@127.0.0.1:5432/postgres"; then
  ADMIN_URL="postgres://postgres@127.0.0.1:5432/postgres"
  say "using PostgreSQL on 127.0.0.1:5432"
else
  start_throwaway_cluster || how_to_get_pg
  PSQL=${PSQL:-$(find_pg_tool psql || true)}
  pg_ok "$ADMIN_URL" || how_to_get_pg
fi

RUN_DB="wedsync_run_$$_$(date +%s)"
"$PSQL" "$ADMIN_URL" -qc "create database \"$RUN_DB\"" >/dev/null || die "could not create database $RUN_DB"
export DATABASE_URL
DATABASE_URL=$(url_with_db "$ADMIN_URL" "$RUN_DB")
# Per-test databases are created with this prefix, so the cleanup above finds leftovers.
export WEDSYNC_TEST_DB_PREFIX="$RUN_DB"
say "fresh database for this run: $RUN_DB"

# ---------------------------------------------------------------------------------------------
# The browser for the dashboard's end-to-end test (installed when possible; see the script)
# ---------------------------------------------------------------------------------------------
timed "browser for the dashboard test (scripts/browser-deps.sh)" bash scripts/browser-deps.sh
# CI must not pass with the browser test skipped
if [ "${CI:-}" = true ]; then
  export WEDSYNC_BROWSER_TESTS=${WEDSYNC_BROWSER_TESTS:-required}
fi

# ---------------------------------------------------------------------------------------------
# Lint and test
# ---------------------------------------------------------------------------------------------
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
LOCKED=()
[ -f Cargo.lock ] && LOCKED=(--locked)

if [ "${WEDSYNC_SKIP_LINT:-0}" != 1 ]; then
  timed "cargo fmt --check" cargo fmt --all --check
  timed "cargo clippy" cargo clippy "${LOCKED[@]}" --workspace --all-targets --all-features -- -D warnings
fi
# shellcheck disable=SC2086
timed "cargo test (unit, integration, doctests)" cargo test "${LOCKED[@]}" --workspace --all-features --no-fail-fast ${WEDSYNC_TEST_ARGS:-}
say "all tests passed"
