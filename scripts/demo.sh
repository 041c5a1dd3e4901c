#!/usr/bin/env bash
# The main job on the bundled default: the bundled model (models/README.md: VGG-11 one FC trained on
# Magnetic Tile; an interim CPU-trained model) segments the bundled sample image with the classifier gate,
# the paper's "ours" rules and BMM, writing masks, heatmaps and overlays to out/segment/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
lrpseg() { node packages/cli/dist/main.js "$@"; }
MODEL=models/mt-vgg11-onefc-w8.safetensors
lrpseg info "$MODEL"
lrpseg segment --model "$MODEL" --rules ours --method bmm --heatmaps --overlays --out out/segment samples
echo "demo: masks in out/segment/, heatmaps in out/segment/heatmaps/, overlays in out/segment/overlays/; verdicts in out/segment/summary.json"
