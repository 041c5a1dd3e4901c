#!/usr/bin/env bash
# Real images for the device check's fidelity step (scripts/device-check.sh: CUDA fast vs accurate mode on
# the bundled trained model): 6 Crack, 5 Blowhole and 5 defect-free Magnetic Tile images, unchanged, into
# .devsamples/ (ignored by git, ~0.5 MB; carry it with .device and build/offline).
# Usage: bash scripts/device-samples.sh [DATA]   (default ../shared/datasets/magnetic-tile)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/datasets/magnetic-tile}
[[ -d $DATA/MT_Free/Imgs ]] || { echo "device-samples: no Magnetic Tile data at $DATA" >&2; exit 2; }
rm -rf .devsamples && mkdir -p .devsamples
for spec in Crack:6 Blowhole:5 Free:5; do
  c=${spec%%:*} n=${spec##*:}
  # every 7th image of the sorted list: spread over the captures rather than the first few
  find "$DATA/MT_$c/Imgs" -name '*.jpg' | sort | awk 'NR % 7 == 1' | head -n "$n" | while read -r f; do cp "$f" ".devsamples/${c}_$(basename "$f")"; done
done
echo "device-samples: $(ls .devsamples | wc -l) images, $(du -sh .devsamples | cut -f1)"
