#!/usr/bin/env bash
# Installs what is missing, then runs every test (unit and integration, each integration
# test against a SoftHSM2 token of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
hsm-test/install-deps.sh
cargo test --locked --features fault-injection "$@"
