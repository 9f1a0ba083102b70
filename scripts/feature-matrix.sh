#!/usr/bin/env bash
# Every feature of every library crate builds on its own (like `cargo hack check --each-feature
# --no-dev-deps`): for each library package, `--no-default-features`, then each feature alone,
# then all features.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOCKED=()
[ -f Cargo.lock ] && LOCKED=(--locked)
libs="wedsync-config wedsync-secret wedsync-metrics wedsync-breaker wedsync-redact wedsync-webhooks wedsync-probe wedsync-store wedsync-testkit wedsync-dashboard"
meta=$(cargo metadata --format-version 1 --no-deps)
for pkg in $libs; do
  features=$(echo "$meta" | jq -r --arg p "$pkg" '.packages[] | select(.name == $p) | .features | keys[] | select(. != "default")')
  echo "--- $pkg: no default features"
  cargo check "${LOCKED[@]}" -q -p "$pkg" --lib --no-default-features
  for f in $features; do
    echo "--- $pkg: --features $f"
    cargo check "${LOCKED[@]}" -q -p "$pkg" --lib --no-default-features --features "$f"
  done
  echo "--- $pkg: all features"
  cargo check "${LOCKED[@]}" -q -p "$pkg" --lib --all-features
done
echo "feature matrix: every feature builds on its own"
