#!/usr/bin/env bash
# Back here after scripts/device-study.sh (docs/levers.md, "Issue 5 alone needs no device check"): takes the
# fetched $OUT of the study call, joins the model's F16 parts and checks them against the sha256 the study
# printed, folds in the decision threshold it chose on val (calibration.json, single-run mode), writes the
# eval split the study used (the six-class split of scripts/device-data.sh restricted to Crack, Blowhole and
# Free, as `train classifier` writes it) and evaluates the returned model paired against the bundled one on
# the same views, on the CPU.
#
# Usage: bash scripts/device-study-import.sh DIR [SUBSET]
#   DIR     the study's returned files (model-f16.safetensors.part-*, model-f16.sha256, results.tgz with
#           calibration.json among the logs and metrics)
#   SUBSET  val or test (default val: the choice between the models is made there; test is read once after)
# Env: EVAL=0 stops after the model and the split (the paired evaluation of a full-width model takes about
#      half an hour per subset on a 2-core machine); THREADS (CPU threads, default all); DATA (the Magnetic
#      Tile folder, default ../shared/datasets/magnetic-tile); BUNDLED (default models/mt-vgg11-onefc-w8.safetensors).
# Writes into DIR: model-f16.safetensors, model-f16-cal.safetensors (when calibrated there), split/eval-split.json,
# eval-SUBSET/ (metrics.md and metrics.json of `lrpseg eval`, the bundled model first).
set -euo pipefail
[[ -n ${1:-} ]] || { echo "usage: bash scripts/device-study-import.sh DIR [val|test]" >&2; exit 2; }
[[ -d $1 ]] || { echo "device-study-import: no folder $1" >&2; exit 2; }
DIR=$(cd "$1" && pwd)
SUBSET=${2:-val}
# paths given by the caller are taken from where it stands; the defaults from the repository
[[ -n ${DATA:-} ]] && DATA=$(realpath -m "$DATA")
[[ -n ${BUNDLED:-} ]] && BUNDLED=$(realpath -m "$BUNDLED")
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/datasets/magnetic-tile}
BUNDLED=${BUNDLED:-models/mt-vgg11-onefc-w8.safetensors}
[[ $SUBSET == val || $SUBSET == test ]] || { echo "device-study-import: SUBSET is val or test, not '$SUBSET'" >&2; exit 2; }
[[ -f packages/cli/dist/main.js ]] || { echo "device-study-import: build first (bash scripts/setup.sh)" >&2; exit 2; }
L() { node packages/cli/dist/main.js "$@"; }
THREADS_OPT=(); [[ -n ${THREADS:-} ]] && THREADS_OPT=(--threads "$THREADS")

# the small results travel as one archive (the device tool returns at most 8 files)
if [[ -f $DIR/results.tgz ]]; then
  tar xzf "$DIR/results.tgz" -C "$DIR"
  echo "results.tgz: $(tar tzf "$DIR/results.tgz" | grep -v '/$' | sed 's|^\./||' | sort | tr '\n' ' ')"
fi

shopt -s nullglob
parts=("$DIR"/model-f16.safetensors.part-*)
(( ${#parts[@]} > 0 )) || { echo "device-study-import: no model-f16.safetensors.part-* in $DIR" >&2; exit 2; }
model=$DIR/model-f16.safetensors
cat "${parts[@]}" > "$model.tmp"   # the glob sorts part-00, part-01, … in order
if [[ -f $DIR/model-f16.sha256 ]]; then
  expected=$(awk '{print $1}' "$DIR/model-f16.sha256")
  actual=$(sha256sum "$model.tmp" | awk '{print $1}')
  if [[ $expected != "$actual" ]]; then
    rm -f "$model.tmp"
    echo "device-study-import: the joined parts do not match model-f16.sha256 ($actual, expected $expected): a part is missing or damaged" >&2
    exit 1
  fi
  echo "model: ${#parts[@]} part(s) joined, sha256 $actual matches"
else
  echo "model: ${#parts[@]} part(s) joined; no model-f16.sha256 to check them against"
fi
mv "$model.tmp" "$model"
L info "$model" | head -12

candidate=$model
if [[ -f $DIR/calibration.json ]]; then
  threshold=$(node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).calibration; if (!c || typeof c.threshold !== "number") process.exit(1); console.log(c.threshold)' "$DIR/calibration.json") \
    || { echo "device-study-import: $DIR/calibration.json has no calibration.threshold" >&2; exit 1; }
  L calibrate "$model" --threshold "$threshold" -o "$DIR/model-f16-cal.safetensors" -q
  candidate=$DIR/model-f16-cal.safetensors
  echo "calibrated: threshold $threshold (chosen on val by the study) folded in → $candidate"
fi

split=$DIR/split
if [[ ! -f $split/eval-split.json ]]; then
  [[ -d $DATA/MT_Free/Imgs ]] || { echo "device-study-import: no Magnetic Tile data at $DATA" >&2; exit 2; }
  mkdir -p "$split"
  L data split "$DATA" --classes Crack,Blowhole,Free,Break,Fray,Uneven -o "$split/six.json" -q
  # train writes eval-split.json (the decision classes' manifest) before its first step; a tiny run suffices
  L train classifier --manifest "$split/six.json" --classes Crack,Blowhole,Free --size 32 --width-divisor 16 --limit 2 \
    --epochs 1 --batch-size 4 --out "$split/tiny" -q > /dev/null
  mv "$split/tiny/eval-split.json" "$split/eval-split.json"
  # its root is relative to the run folder: point it at the data again
  node -e '
const fs = require("node:fs"), path = require("node:path");
const [f, data] = process.argv.slice(1);
const m = JSON.parse(fs.readFileSync(f, "utf8"));
fs.writeFileSync(f, JSON.stringify({ ...m, root: path.relative(path.dirname(path.resolve(f)), path.resolve(data)) }, null, 1));
' "$split/eval-split.json" "$DATA"
  rm -rf "$split/tiny"
fi
echo "split: $split/eval-split.json ($(node -e 'const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(Object.entries(m.subsets).map(([k, v]) => `${k} ${v.length}`).join(", "))' "$split/eval-split.json"))"

cmd=(eval --model "$BUNDLED" --model "$candidate" --rules ours --pool wta,avg --data "$split/eval-split.json" --subset "$SUBSET" --out "$DIR/eval-$SUBSET" "${THREADS_OPT[@]}")
if [[ ${EVAL:-1} == 0 ]]; then
  echo "EVAL=0: the paired evaluation is: node packages/cli/dist/main.js ${cmd[*]}"
  exit 0
fi
echo "paired evaluation on $SUBSET (bundled model first; paired differences are the returned model's minus the bundled one's):"
L "${cmd[@]}"
sed -n '/^## Classification/,/^## The paper/p' "$DIR/eval-$SUBSET/metrics.md" | sed '$d'
