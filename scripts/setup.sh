#!/usr/bin/env bash
# Installs what lrpseg needs on a fresh machine (Node 20 is assumed) and builds every package.
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM_VERSION=12.4.2
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm $PNPM_VERSION" >&2
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null
fi
# The webgpu backend's tests run without a GPU on SwiftShader (a CPU Vulkan driver that Debian's
# chromium package ships): Dawn needs it and the Vulkan loader, the browser test needs chromium itself.
if ! dpkg -s chromium libvulkan1 >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium and libvulkan1 (SwiftShader WebGPU for the webgpu tests)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium libvulkan1 >/dev/null
  else
    echo "setup: chromium/libvulkan1 missing and not root: the webgpu tests will report themselves skipped" >&2
  fi
fi
pnpm install --frozen-lockfile
pnpm exec turbo run build
