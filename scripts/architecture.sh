#!/usr/bin/env bash
# Rewrites the crate graph in docs/ARCHITECTURE.md from `cargo metadata` (offline, no build);
# `--check` exits non-zero with a diff when the committed picture differs. See architecture.py.
set -euo pipefail
exec python3 "$(dirname "${BASH_SOURCE[0]}")/architecture.py" "$@"
