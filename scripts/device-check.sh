#!/usr/bin/env bash
# The CUDA backend's check on the lent GPU machine, in one command of under 5 minutes (docs/cuda.md):
# conformance suites on CUDA (accurate and fast), `lrpseg bench` for VGG-11 128N and one-FC at 224×224
# (batch 64 and 256, forward, both composites, training step at batch 64) and the PyTorch baseline
# (../shared/anchors/pytorch_lrp_bench.py) in the same run, then one table: images/s and the ratio to PyTorch.
#
# Prepare here:  bash ../shared/device/prepare.sh; pnpm exec turbo run build; pnpm bundle:offline
# Run there:     the device tool with carry [".device", "build/offline"] and the command
#                source .device/env.sh; bash scripts/device-check.sh
# Env: LRPSEG_DEVICE (GPU index, default 0), ITERS (timed iterations, default 3), OUT (logs and JSON).
set -uo pipefail
cd "$(dirname "$0")/.."
B=build/offline/lrpseg
OUTDIR=${OUT:-/tmp/lrpseg-device-check}
DEVICE=${LRPSEG_DEVICE:-0}
ITERS=${ITERS:-3}
mkdir -p "$OUTDIR"
start=$(date +%s)
say() { printf '== %s (%ds)\n' "$*" "$(( $(date +%s) - start ))"; }

command -v node >/dev/null || { echo "device-check: no node on PATH (source .device/env.sh first)"; exit 2; }
# TABLE_ONLY=1: only rebuild the table from the files already in $OUT (e.g. logs fetched from a device run).
if [[ -z ${TABLE_ONLY:-} ]]; then
[[ -f $B/bench.mjs && -f $B/conformance.mjs && -f $B/native/lrpseg_cuda.node ]] || { echo "device-check: $B is incomplete (run pnpm bundle:offline and carry build/offline)"; exit 2; }
nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader | tee "$OUTDIR/gpu.txt"

say "conformance on cuda device $DEVICE (accurate: 1e-5 per op, 1e-4 heatmaps; fast: 1e-2 per op)"
LRPSEG_DEVICE=$DEVICE timeout 120 node "$B/conformance.mjs" > "$OUTDIR/conformance.txt" 2>&1
conformance=$?
grep -E '^(✓|✗)|FAIL|passed|unavailable|Error' "$OUTDIR/conformance.txt" | head -60
if [[ $conformance -ne 0 ]]; then
  # name the failing op exactly: synchronise after every launch, rerun only the first suite quickly
  say "conformance failed (exit $conformance); rerunning with LRPSEG_CUDA_SYNC=1 for the first errors"
  LRPSEG_CUDA_SYNC=1 LRPSEG_DEVICE=$DEVICE timeout 60 node "$B/conformance.mjs" 2>&1 | grep -E 'FAIL|cuda ' | head -20
fi

say "PyTorch baseline"
if [[ -f build/offline/anchors/pytorch_lrp_bench.py ]]; then
  timeout 150 python3 build/offline/anchors/pytorch_lrp_bench.py 64 256 > "$OUTDIR/pytorch.txt" 2>&1 || echo "pytorch baseline exited $?: $(tail -2 "$OUTDIR/pytorch.txt" | tr '\n' ' ')"
  grep -E 'img/s|torch ' "$OUTDIR/pytorch.txt"
fi

# Most telling runs first; each gets what is left of a 270 s budget, so that the whole check stays < 5 min.
say "lrpseg bench"
for run in fast:vgg11-128n:256 accurate:vgg11-128n:256 fast:vgg11-128n:64 accurate:vgg11-128n:64 \
           fast:vgg11-onefc:256 accurate:vgg11-onefc:256 fast:vgg11-onefc:64 accurate:vgg11-onefc:64; do
  IFS=: read -r prec arch bs <<< "$run"
  left=$(( 270 - ($(date +%s) - start) ))
  if (( left < 10 )); then echo "bench $run skipped: time budget spent"; continue; fi
  train=(); [[ $bs -eq 64 ]] && train=(--train)
  tag="$prec-$arch-$bs"
  if ! LRPSEG_CUDA_PRECISION=$prec timeout "$left" node "$B/bench.mjs" --arch "$arch" --batch-size "$bs" --backend cuda --device "$DEVICE" \
      --iters "$ITERS" --warmup 1 "${train[@]}" --json "$OUTDIR/bench-$tag.json" -q > "$OUTDIR/bench-$tag.txt" 2>&1; then
    echo "bench $tag failed: $(tail -3 "$OUTDIR/bench-$tag.txt" | tr '\n' ' ')"
  fi
done
fi

say "table"
node - "$OUTDIR" <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const dir = process.argv[2];
const torch = { rows: new Map(), train: null, compiled: null, name: '' };
const pt = fs.existsSync(path.join(dir, 'pytorch.txt')) ? fs.readFileSync(path.join(dir, 'pytorch.txt'), 'utf8') : '';
for (const line of pt.split('\n')) {
  let m = /^torch (\S+) (.*)$/.exec(line);
  if (m) torch.name = `PyTorch ${m[1]} on ${m[2]}`;
  m = /^B=(\d+) tf32=(True|False): forward (\d+) img\/s.*LRP-Montavon (\d+) img\/s.*LRP-Ours (\d+) img\/s/.exec(line);
  if (m) torch.rows.set(`${m[1]}-${m[2] === 'True'}`, { forward: +m[3], 'lrp montavon': +m[4], 'lrp ours': +m[5] });
  m = /^train step B=(\d+) tf32=True: (\d+) img\/s/.exec(line);
  if (m) torch.train = { batch: +m[1], ips: +m[2] };
  m = /^B=(\d+) tf32=True torch\.compile forward (\d+) img\/s/.exec(line);
  if (m) torch.compiled = { batch: +m[1], ips: +m[2] };
}
const rows = [['model', 'batch', 'lrpseg precision', 'task', 'lrpseg img/s', 'PyTorch img/s (setting)', 'ratio']];
let device = '';
for (const prec of ['accurate', 'fast']) for (const arch of ['vgg11-128n', 'vgg11-onefc']) for (const bs of [64, 256]) {
  const f = path.join(dir, `bench-${prec}-${arch}-${bs}.json`);
  if (!fs.existsSync(f)) { rows.push([arch, String(bs), prec, '(bench failed)', '', '', '']); continue; }
  const rep = JSON.parse(fs.readFileSync(f, 'utf8'));
  const b = rep.backends[0];
  if (!b.available) { rows.push([arch, String(bs), prec, 'unavailable', '', b.reason ?? '', '']); continue; }
  device = b.device ?? device;
  for (const t of b.results) {
    let ref = null, setting = '';
    const tf32 = prec === 'fast';
    if (arch === 'vgg11-128n') {
      if (t.task.startsWith('train')) { if (torch.train && torch.train.batch === bs) { ref = torch.train.ips; setting = 'train step, TF32'; } }
      else { const r = torch.rows.get(`${bs}-${tf32}`); if (r) { ref = r[t.task]; setting = tf32 ? 'TF32' : 'strict FP32'; } }
    } else setting = 'no PyTorch run (128N only)';
    rows.push([arch, String(bs), prec, t.task, t.images_per_s.toFixed(0), ref ? `${ref} (${setting})` : setting, ref ? (t.images_per_s / ref).toFixed(2) + '×' : '']);
    if (arch === 'vgg11-128n' && prec === 'fast' && t.task === 'forward' && torch.compiled && torch.compiled.batch === bs) {
      rows.push([arch, String(bs), prec, 'forward', t.images_per_s.toFixed(0), `${torch.compiled.ips} (torch.compile, TF32)`, (t.images_per_s / torch.compiled.ips).toFixed(2) + '×']);
    }
  }
}
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
console.log(`lrpseg cuda on: ${device || 'unknown'}; baseline: ${torch.name || 'not run'}; ratio = lrpseg / PyTorch (same GPU, same run)`);
for (const [i, r] of rows.entries()) {
  console.log('| ' + r.map((c, j) => c.padEnd(w[j])).join(' | ') + ' |');
  if (i === 0) console.log('| ' + w.map((n) => '-'.repeat(n)).join(' | ') + ' |');
}
JS
conf_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$OUTDIR/conformance.txt" 2>/dev/null | tail -1)
echo "conformance: ${conf_line:-did not finish}"
say "done"
[[ -n $conf_line && $conf_line == *" 0 failed"* ]]
