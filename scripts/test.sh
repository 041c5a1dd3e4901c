#!/usr/bin/env bash
# Sets everything up and runs every package's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm exec turbo run test --concurrency=1
