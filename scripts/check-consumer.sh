#!/usr/bin/env bash
# Builds examples/consumer (its own workspace, outside ours) and proves from `cargo tree` that
# wedsync-breaker and wedsync-redact, with default features, pull in no async runtime, no HTTP
# client or server, and no database driver.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
manifest=examples/consumer/Cargo.toml
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}/consumer
cargo build --manifest-path "$manifest"
cargo run --quiet --manifest-path "$manifest"
forbidden='^(tokio|async-std|smol|hyper|hyper-util|reqwest|h2|ureq|isahc|surf|diesel|diesel-async|tokio-postgres|postgres|sqlx|libsqlite3-sys|rusqlite|mysql_async|deadpool|rustls|ring|openssl)$'
fail=0
for crate in wedsync-breaker wedsync-redact; do
  deps=$(cargo tree --manifest-path "$manifest" -p "$crate" -e normal,build --prefix none --format '{p}' |
    awk '{print $1}' | sort -u)
  bad=$(echo "$deps" | grep -E "$forbidden" || true)
  if [ -n "$bad" ]; then
    echo "error: $crate (default features) pulls in: $(echo "$bad" | tr '\n' ' ')" >&2
    fail=1
  else
    echo "$crate (default features) depends on: $(echo "$deps" | grep -v "^$crate\$" | tr '\n' ' ')"
  fi
done
exit "$fail"
