#!/usr/bin/env bash
# The reliability campaign, long form: "no acknowledged webhook is ever lost".
#
# What it proves: a webhook that wedsync-monitor answered 2xx reaches the internal handler, across
# SIGKILLs and restarts of the server, an SQLite file locked past the busy timeout, a PostgreSQL
# postmaster SIGKILLed and restarted, the handler going down, malformed requests mixed in -- with
# the default configuration (SQLite, no [ingress] section) and on PostgreSQL, with one process and
# with two processes sharing a database when one of them dies for good. The tests live in
# crates/server/tests/campaign.rs (the short form runs with every `cargo test`); this script runs
# them longer, faster and in a release build.
#
# How it works: the real binary runs as child processes (SIGKILL is real); N clients post signed
# Stripe webhooks with unique event ids at a target rate and retry whatever was not answered 2xx,
# like the provider; an in-test handler counts what arrives; the PostgreSQL tests start a private
# cluster (initdb/pg_ctl, found on PATH or under /usr/lib/postgresql/*/bin; as root they run as the
# `postgres` user) and never touch the shared server on 5432.
#
# Reading the output: each test prints one block, for example
#
#   campaign sqlite: acknowledged=59000 delivered=58990 scheduled=10 (reasons: retrying after
#     http_5xx 503: 10, next in 3..5s) late=0 missing=0 duplicates=3 (0.01%) overlaps=0
#     malformed_acked=0 restart_to_last_delivery=15.2s
#     load: ...        the load's answers (200, 503, connect, timeout, reset) and acks per second
#     malformed: ...   each malformed kind and how it was answered (never 2xx)
#     handler: ...     arrivals, refusals on purpose, overlaps, requests that were not events
#     faults: ...      the fault timeline (+seconds since the campaign started)
#     duplicates: ...  which events were answered 2xx twice, and when (compare with the faults)
#
# The ledger must balance: acknowledged == delivered + scheduled + late + missing. It passes when
# missing == 0 (every acknowledged event is delivered or still queued), late == 0 (anything still
# queued 30 s after the later of its acknowledgement and the last restart waits on the retry
# schedule only because the handler refused it or was down -- the "reasons"), overlaps == 0 (never
# forwarded twice at the same time), malformed_acked == 0, and duplicates <= 0.1 % of acknowledged.
# restart_to_last_delivery is the time from the last restart (or kill) to the last first-time
# delivery: how long the system took to catch up.
#
# Options (environment; the defaults below are the long form, the tests' own defaults are 30 s at
# 400 requests/s with 8 clients):
#   WEDSYNC_CAMPAIGN_SECS      seconds of load per test (60)
#   WEDSYNC_CAMPAIGN_RATE      requests per second offered, all clients together (1000)
#   WEDSYNC_CAMPAIGN_CLIENTS   concurrent clients (16)
#   WEDSYNC_CAMPAIGN_WORKERS   the servers' worker.concurrency (unset: the default, 4). More delivery
#                              tasks forward faster but may each hold one delivery the handler
#                              already answered when a server is SIGKILLed (a duplicate)
#   WEDSYNC_CAMPAIGN_KEEP=1    keep each campaign's directory (configuration, server logs)
#   WEDSYNC_CAMPAIGN_BIN=PATH  run the campaign against another wedsync-monitor build
#   extra arguments are passed to the test binary, e.g. `scripts/campaign.sh campaign_postgres`
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export WEDSYNC_CAMPAIGN_SECS=${WEDSYNC_CAMPAIGN_SECS:-60}
export WEDSYNC_CAMPAIGN_RATE=${WEDSYNC_CAMPAIGN_RATE:-1000}
export WEDSYNC_CAMPAIGN_CLIENTS=${WEDSYNC_CAMPAIGN_CLIENTS:-16}

printf '==> reliability campaign: %s s at %s requests/s, %s clients (release build)\n' \
  "$WEDSYNC_CAMPAIGN_SECS" "$WEDSYNC_CAMPAIGN_RATE" "$WEDSYNC_CAMPAIGN_CLIENTS" >&2
exec cargo test --release -p wedsync-monitor --test campaign -- \
  --nocapture --test-threads=1 "$@"
