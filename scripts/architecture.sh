#!/usr/bin/env bash
# Rewrites the crate graph in docs/ARCHITECTURE.md and the publish order in docs/publishing.md
# from `cargo metadata` (offline, no build); `--check` exits non-zero with a diff when a committed
# block differs. See architecture.py.
set -euo pipefail
exec python3 "$(dirname "${BASH_SOURCE[0]}")/architecture.py" "$@"
