#!/usr/bin/env bash
# `cargo package` for every library crate: builds each packaged crate in isolation, which catches
# files missing from the package and path-only dependencies. The crates depend on each other through
# the internal `wedsync` registry; cargo packages them together and resolves those dependencies from
# the freshly packaged crates. So that this needs no network, the registry's index is pointed at an
# empty local index for this run only. Nothing is published.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
idx=$(mktemp -d)
trap 'rm -rf "$idx"' EXIT
git -C "$idx" init -q
printf '{"dl":"file://%s/{crate}-{version}.crate","api":null}\n' "$idx" >"$idx/config.json"
git -C "$idx" add config.json
git -C "$idx" -c user.name=ci -c user.email=ci@localhost commit -qm "empty index"
export CARGO_REGISTRIES_WEDSYNC_INDEX="file://$idx"
# Cargo keeps the sources it unpacked from the packaged crates under CARGO_HOME, keyed by name and
# version; an earlier run's copy of the same version would be verified instead of today's code.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
for d in "$cargo_home"/registry/src/* "$cargo_home"/registry/cache/*; do
  case "$d" in */index.crates.io-*) continue ;; esac
  rm -rf "$d"/wedsync-config-* "$d"/wedsync-secret-* "$d"/wedsync-metrics-* "$d"/wedsync-breaker-* "$d"/wedsync-redact-* "$d"/wedsync-webhooks-* \
    "$d"/wedsync-probe-* "$d"/wedsync-testkit-* "$d"/wedsync-store-* "$d"/wedsync-dashboard-*
done
LOCKED=()
[ -f Cargo.lock ] && LOCKED=(--locked)
cd "$root"
cargo package "${LOCKED[@]}" --allow-dirty \
  -p wedsync-config -p wedsync-secret -p wedsync-metrics -p wedsync-breaker -p wedsync-redact -p wedsync-webhooks -p wedsync-probe -p wedsync-testkit -p wedsync-store \
  -p wedsync-dashboard
echo "every library crate packages and builds in isolation"
