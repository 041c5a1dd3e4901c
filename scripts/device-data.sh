#!/usr/bin/env bash
# Prepares, on this machine, the data that the full-scale training runs on the lent GPU machine read
# (docs/levers.md, "On a lent GPU machine"). The data and the program do not fit one call's 64 MiB, so
# they travel in two calls: first .devdata (this script's output, ~48 MB), then .device and build/offline;
# ignored folders left by the first call stay on the machine while it is warm.
#
#   .devdata/magnetic-tile/MT_{Crack,Blowhole,Free}/Imgs   the paper's classes, copied unchanged
#   .devdata/six.json                                      the six-class grouped split (seed 0, as the CPU
#                                                          lever runs), its root pointed at the copy
#
# Usage: bash scripts/device-data.sh [DATA]   (default ../shared/datasets/magnetic-tile)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/datasets/magnetic-tile}
DEST=.devdata
[[ -d $DATA/MT_Free/Imgs ]] || { echo "device-data: no Magnetic Tile data at $DATA" >&2; exit 2; }
[[ -f packages/cli/dist/main.js ]] || { echo "device-data: build first (bash scripts/setup.sh)" >&2; exit 2; }
rm -rf "$DEST"
mkdir -p "$DEST/magnetic-tile"
for c in Crack Blowhole Free; do cp -r "$DATA/MT_$c" "$DEST/magnetic-tile/"; done
# grouping needs all six classes (some regions are filed under two), so split the full data set, then
# point the manifest at the copy: only the three copied classes are read with --classes Crack,Blowhole,Free
node packages/cli/dist/main.js data split "$DATA" --classes Crack,Blowhole,Free,Break,Fray,Uneven -o "$DEST/six.json" -q
node -e '
const fs = require("node:fs");
const f = process.argv[1];
const m = JSON.parse(fs.readFileSync(f, "utf8"));
fs.writeFileSync(f, JSON.stringify({ ...m, root: "magnetic-tile" }, null, 1));
' "$DEST/six.json"
du -sh "$DEST"
echo "device-data: carry [\".devdata\"] in a first call, then [\".device\", \"build/offline\"] (scripts/device-study.sh)"
