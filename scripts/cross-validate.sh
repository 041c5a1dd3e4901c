#!/usr/bin/env bash
# Paired group k-fold comparison of two training configurations (docs/levers.md, "Group 5-fold
# cross-validation"): for every fold I of `lrpseg data split --folds K --fold I` (the six Magnetic Tile
# classes, grouped), trains configuration A and configuration B with the same seed on the fold's train
# subset, evaluates both side by side on its test subset (`eval --model A --model B`: the same views,
# paired), then pools the K reports (`lrpseg pool`): one balanced accuracy and BMM IoU per configuration
# over every image, and B − A with paired bootstrap intervals over all folds' groups.
#
# Resumable: a fold whose model.safetensors exists is not trained again (an interrupted training resumes
# from its last.ckpt), a fold whose eval report exists is not evaluated again.
#
#   A="" B="--batch-norm" SEEDS="0 1" OUT=cv/bn bash scripts/cross-validate.sh
#
# Env: A, B (train options of each configuration, on top of COMMON), COMMON (default: the 64 × 64
#      `reproduce --quick` settings the CPU studies used), SEEDS (training seeds, default "0"), FOLDS (5),
#      SPLIT_SEED (0), DATA (../shared/datasets/magnetic-tile), OUT (cv), BACKEND (cpu), THREADS (1),
#      PARALLEL (1: train A and B of a fold side by side, one thread each), EVAL (eval options).
# Output: OUT/splits/fold-I.json, OUT/s<SEED>/{a,b}-fI/ (runs), OUT/s<SEED>/eval-fI/ (reports),
#         OUT/s<SEED>/pooled/ (pooled.md, pooled.json), OUT/config.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
L() { node packages/cli/dist/main.js "$@"; }
[[ -f packages/cli/dist/main.js ]] || { echo "cross-validate: build first (bash scripts/setup.sh)" >&2; exit 2; }
A=${A-}
B=${B---batch-norm}
COMMON=${COMMON:---arch vgg11-onefc --size 64 --width-divisor 8 --batch-size 32 --epochs 15 --limit 100 --lr-conv 1e-3 --lr-fc 1e-3}
SEEDS=${SEEDS:-0}
FOLDS=${FOLDS:-5}
SPLIT_SEED=${SPLIT_SEED:-0}
DATA=${DATA:-${LRPSEG_SHARED:-../shared}/datasets/magnetic-tile}
OUTDIR=${OUT:-cv}
BACKEND=${BACKEND:-cpu}
THREADS=${THREADS:-1}
PARALLEL=${PARALLEL:-1}
EVAL=${EVAL:---rules ours --methods bmm --no-flips}
start=$(date +%s)
say() { printf '== %s (%ds)\n' "$*" "$(( $(date +%s) - start ))" >&2; }

mkdir -p "$OUTDIR/splits"
cfg=$(printf 'A: %s\nB: %s\nCOMMON: %s\nFOLDS: %s  SPLIT_SEED: %s  DATA: %s  BACKEND: %s\nEVAL: %s\n' \
  "$A" "$B" "$COMMON" "$FOLDS" "$SPLIT_SEED" "$DATA" "$BACKEND" "$EVAL")
if [[ -f $OUTDIR/config.txt ]] && [[ $(cat "$OUTDIR/config.txt") != "$cfg" ]]; then
  echo "cross-validate: $OUTDIR holds a comparison of other settings (config.txt); choose another OUT" >&2
  exit 2
fi
printf '%s\n' "$cfg" > "$OUTDIR/config.txt"

for ((i = 0; i < FOLDS; i++)); do
  f=$OUTDIR/splits/fold-$i.json
  [[ -f $f ]] && continue
  say "split: fold $i of $FOLDS"
  L data split "$DATA" --classes Crack,Blowhole,Free,Break,Fray,Uneven --folds "$FOLDS" --fold "$i" --seed "$SPLIT_SEED" -o "$f.tmp" -q
  mv "$f.tmp" "$f"
done

train() { # DIR MANIFEST SEED OPTIONS...
  local dir=$1 manifest=$2 seed=$3; shift 3
  [[ -f $dir/model.safetensors ]] && return 0
  local resume=(); [[ -f $dir/last.ckpt.safetensors ]] && resume=(--resume)
  # shellcheck disable=SC2086
  L train classifier --manifest "$manifest" --classes Crack,Blowhole,Free $COMMON "$@" --seed "$seed" \
    --backend "$BACKEND" --threads "$THREADS" --workers 1 --out "$dir" "${resume[@]}" -q > "$dir.log" 2>&1 \
    || { echo "cross-validate: training $dir failed:" >&2; tail -20 "$dir.log" >&2; return 1; }
}

for seed in $SEEDS; do
  S=$OUTDIR/s$seed
  mkdir -p "$S"
  reports=()
  for ((i = 0; i < FOLDS; i++)); do
    m=$OUTDIR/splits/fold-$i.json
    say "seed $seed, fold $i: training A and B"
    # shellcheck disable=SC2086
    if [[ $PARALLEL == 1 ]]; then
      train "$S/a-f$i" "$m" "$seed" $A & pa=$!
      train "$S/b-f$i" "$m" "$seed" $B & pb=$!
      wait $pa; wait $pb
    else
      train "$S/a-f$i" "$m" "$seed" $A
      train "$S/b-f$i" "$m" "$seed" $B
    fi
    r=$S/eval-f$i
    if [[ ! -f $r/metrics.json ]]; then
      say "seed $seed, fold $i: eval A and B on the fold's test subset"
      # shellcheck disable=SC2086
      L eval --model "$S/a-f$i/model.safetensors" --model "$S/b-f$i/model.safetensors" $EVAL \
        --data "$S/a-f$i/eval-split.json" --subset test --backend "$BACKEND" --threads "$THREADS" --out "$r.tmp" -q
      rm -rf "$r"; mv "$r.tmp" "$r"
    fi
    reports+=("$r")
  done
  say "seed $seed: pooled over $FOLDS folds"
  L pool "${reports[@]}" -o "$S/pooled"
done
say "done: $OUTDIR/s*/pooled/pooled.md"
