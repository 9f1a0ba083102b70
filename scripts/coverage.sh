#!/usr/bin/env bash
# Line coverage per library crate with cargo-tarpaulin (ptrace engine: needs no LLVM tools).
# Not part of every CI run (an instrumented build of the workspace is slow); results go to
# docs/coverage.md by hand. Needs PostgreSQL like the tests: run it as
#   bash scripts/coverage.sh [crate...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v cargo-tarpaulin >/dev/null 2>&1 || cargo install --locked cargo-tarpaulin
crates=${*:-"wedsync-breaker wedsync-redact wedsync-webhooks wedsync-probe wedsync-store wedsync-testkit wedsync-monitor"}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}/coverage
for c in $crates; do
  case $c in
    wedsync-monitor) dir=crates/server ;;
    *) dir=crates/${c#wedsync-} ;;
  esac
  echo "=== $c"
  cargo tarpaulin --locked -p "$c" --all-features --skip-clean --engine ptrace \
    --include-files "$dir/src/*" --include-files "$dir/src/**/*" --out Stdout 2>&1 |
    grep -E '^[0-9.]+% coverage|coverage,' | tail -n 1
done
