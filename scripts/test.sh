#!/usr/bin/env bash
# Sets everything up and runs every package's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# No GPU here: Dawn (the webgpu backend in Node) runs on SwiftShader unless the caller chose a Vulkan driver.
if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ]; then
  export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
fi
pnpm exec turbo run test --concurrency=1
