#!/usr/bin/env bash
# The main job on the bundled default: until a trained model is bundled, a small VGG-11 (one FC) with
# deterministic random weights explains the bundled synthetic sample image with the paper's "ours" rules.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
lrpseg() { node packages/cli/dist/main.js "$@"; }
lrpseg make-model --arch vgg11-onefc --seed 0 --out out/demo-vgg11-onefc.safetensors
lrpseg info out/demo-vgg11-onefc.safetensors
lrpseg explain --model out/demo-vgg11-onefc.safetensors --input samples --rules ours --out out/heatmaps --format both
echo "demo: heatmaps written to out/heatmaps/"
