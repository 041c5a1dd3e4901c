#!/usr/bin/env bash
# The GPU backends' check on the lent GPU machine, in one command of about 6 minutes (docs/cuda.md,
# docs/webgpu.md): the conformance suites on CUDA (accurate and fast) and on WebGPU through Dawn (f32, and
# f16 where the adapter has it) side by side; CUDA fast against accurate mode on the bundled trained model
# and real images (heatmaps, Simple and BMM masks) and a full-size heatmap against the CPU reference;
# the PyTorch baseline (../shared/anchors/pytorch_lrp_bench.py); `lrpseg bench` for VGG-11 128N and one-FC
# at 224×224 on CUDA (batch 64 and 256, both precisions, forward, both composites, training step at batch
# 64) and on WebGPU (128N, batch 64, f32 and f16); then one table: images/s and the ratios.
#
# Prepare here:  bash ../shared/device/prepare.sh; pnpm exec turbo run build; pnpm bundle:offline;
#                bash scripts/device-samples.sh
# Run there:     the device tool with carry [".device", "build/offline", ".devsamples"] and the command
#                source .device/env.sh; bash scripts/device-check.sh
# Env: LRPSEG_DEVICE (GPU index, default 0), ITERS (timed iterations, default 3), OUT (logs and JSON),
#      BUDGET (s for everything before the table, default 380; timeout_s 480 leaves room for the start).
set -uo pipefail
cd "$(dirname "$0")/.."
B=build/offline/lrpseg
OUTDIR=${OUT:-/tmp/lrpseg-device-check}
DEVICE=${LRPSEG_DEVICE:-0}
ITERS=${ITERS:-3}
BUDGET=${BUDGET:-380}
mkdir -p "$OUTDIR"
start=$(date +%s)
say() { printf '== %s (%ds)\n' "$*" "$(( $(date +%s) - start ))"; }
left() { echo $(( BUDGET - ($(date +%s) - start) )); }

command -v node >/dev/null || { echo "device-check: no node on PATH (source .device/env.sh first)"; exit 2; }
# TABLE_ONLY=1: only rebuild the table from the files already in $OUT (e.g. logs fetched from a device run).
if [[ -z ${TABLE_ONLY:-} ]]; then
[[ -f $B/bench.mjs && -f $B/conformance.mjs && -f $B/native/lrpseg_cuda.node ]] || { echo "device-check: $B is incomplete (run pnpm bundle:offline and carry build/offline)"; exit 2; }
nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader | tee "$OUTDIR/gpu.txt"
# Dawn travels brotli-compressed (scripts/bundle-offline.mjs); Node's zlib unpacks it
dawn=$B/node_modules/webgpu/dist/linux-x64/dawn.node
if [[ -f $dawn.br && ! -f $dawn ]]; then
  node -e 'const fs = require("fs"); fs.writeFileSync(process.argv[2], require("zlib").brotliDecompressSync(fs.readFileSync(process.argv[1])))' "$dawn.br" "$dawn" \
    || echo "device-check: could not unpack $dawn.br"
fi

say "conformance on cuda device $DEVICE (accurate: 1e-5 per op, 1e-4 heatmaps; fast: 1e-2 per op) and on webgpu (f32; f16 at 1e-2), side by side"
LRPSEG_DEVICE=$DEVICE timeout 100 node "$B/conformance.mjs" > "$OUTDIR/conformance.txt" 2>&1 &
cuda_pid=$!
webgpu_conformance=skipped
if [[ -f $dawn && -f $B/conformance-webgpu.mjs ]]; then
  timeout 100 node "$B/conformance-webgpu.mjs" > "$OUTDIR/conformance-webgpu.txt" 2>&1
  webgpu_conformance=$?
fi
wait $cuda_pid
conformance=$?
grep -E '^(✓|✗)|FAIL|passed|unavailable|Error' "$OUTDIR/conformance.txt" | head -60
echo "-- webgpu (exit $webgpu_conformance):"
grep -E '^(✓|✗)|FAIL|passed|unavailable|Error|conformance:|heatmap' "$OUTDIR/conformance-webgpu.txt" 2>/dev/null | head -40
if [[ $conformance -ne 0 ]]; then
  # name the failing op exactly: synchronise after every launch, rerun only the first suite quickly
  say "conformance failed (exit $conformance); rerunning with LRPSEG_CUDA_SYNC=1 for the first errors"
  LRPSEG_CUDA_SYNC=1 LRPSEG_DEVICE=$DEVICE timeout 45 node "$B/conformance.mjs" > "$OUTDIR/conformance-sync.txt" 2>&1
  grep -E 'FAIL|cuda |Error' "$OUTDIR/conformance-sync.txt" | head -20
fi

if [[ -d .devsamples && -f $B/fidelity.mjs ]]; then
  say "fidelity: cuda fast vs accurate on the bundled trained model and $(ls .devsamples | wc -l) real images; full size vs the CPU"
  LRPSEG_DEVICE=$DEVICE timeout 75 node "$B/fidelity.mjs" models/mt-vgg11-onefc-w8.safetensors .devsamples 2>&1 | tee "$OUTDIR/fidelity.txt"
fi
if [[ -f $B/precision-probe.mjs ]]; then
  say "precision probe: single ops at full-size geometries, cuda accurate and fast and a float32 CPU GEMM against the float64 reference"
  LRPSEG_DEVICE=$DEVICE timeout 120 node "$B/precision-probe.mjs" 2>&1 | tee "$OUTDIR/precision-probe.txt"
fi
say "conformance of the experiments: the 2-blocks-per-SM GEMM (LRPSEG_CUDA_GEMM_BLOCKS=2), accurate mode's sums outside the MMA (LRPSEG_CUDA_ACCURATE=split), the WGRAD walk with precomputed LRP quotients (LRPSEG_CUDA_WGRAD_WALK=1 LRPSEG_CUDA_LRP_QUOTIENT=1)"
LRPSEG_CUDA_GEMM_BLOCKS=2 LRPSEG_DEVICE=$DEVICE timeout 60 node "$B/conformance.mjs" > "$OUTDIR/conformance-2blocks.txt" 2>&1
grep -E '^(✓|✗)|passed' "$OUTDIR/conformance-2blocks.txt" | head -5
LRPSEG_CUDA_ACCURATE=split LRPSEG_DEVICE=$DEVICE timeout 60 node "$B/conformance.mjs" > "$OUTDIR/conformance-split.txt" 2>&1
grep -E '^(✓|✗)|passed' "$OUTDIR/conformance-split.txt" | head -5
# written without a GPU (2026-12-07): weight gradients' operands walked by carries, relevance quotients
# computed before the product; bit-identical to the default kernels in the emulation
LRPSEG_CUDA_WGRAD_WALK=1 LRPSEG_CUDA_LRP_QUOTIENT=1 LRPSEG_DEVICE=$DEVICE timeout 60 node "$B/conformance.mjs" > "$OUTDIR/conformance-walk-quotient.txt" 2>&1
grep -E '^(✓|✗)|passed' "$OUTDIR/conformance-walk-quotient.txt" | head -5

say "PyTorch baseline"
if [[ -f build/offline/anchors/pytorch_lrp_bench.py ]]; then
  timeout 120 python3 build/offline/anchors/pytorch_lrp_bench.py 64 256 > "$OUTDIR/pytorch.txt" 2>&1 || echo "pytorch baseline exited $?: $(tail -2 "$OUTDIR/pytorch.txt" | tr '\n' ' ')"
  grep -E 'img/s|torch ' "$OUTDIR/pytorch.txt"
fi

# Most telling runs first; each gets what is left of the budget (60 s kept for the rest), so that a
# slow kernel costs the later rows, not the call.
say "lrpseg bench: cuda"
bench() { # TAG SECONDS ARGS...: one bench run into bench-TAG.{json,txt}
  local tag=$1 secs=$2; shift 2
  if (( secs < 10 )); then echo "bench $tag skipped: time budget spent"; return; fi
  if ! timeout "$secs" node "$B/bench.mjs" "$@" --iters "$ITERS" --warmup 1 --json "$OUTDIR/bench-$tag.json" -q > "$OUTDIR/bench-$tag.txt" 2>&1; then
    echo "bench $tag failed: $(tail -3 "$OUTDIR/bench-$tag.txt" | tr '\n' ' ')"
  fi
}
for run in fast:vgg11-128n:256 accurate:vgg11-128n:256 fast:vgg11-128n:64 accurate:vgg11-128n:64 \
           fast:vgg11-onefc:256 accurate:vgg11-onefc:256 fast:vgg11-onefc:64 accurate:vgg11-onefc:64; do
  IFS=: read -r prec arch bs <<< "$run"
  train=(); [[ $bs -eq 64 ]] && train=(--train)
  LRPSEG_CUDA_PRECISION=$prec bench "$prec-$arch-$bs" $(( $(left) - 60 )) --arch "$arch" --batch-size "$bs" --backend cuda --device "$DEVICE" "${train[@]}"
done
for prec in fast accurate; do
  LRPSEG_CUDA_GEMM_BLOCKS=2 LRPSEG_CUDA_PRECISION=$prec bench "2blocks-$prec-vgg11-128n-256" $(( $(left) - 40 )) --arch vgg11-128n --batch-size 256 --backend cuda --device "$DEVICE"
done
LRPSEG_CUDA_ACCURATE=split LRPSEG_CUDA_PRECISION=accurate bench "split-accurate-vgg11-128n-256" $(( $(left) - 40 )) --arch vgg11-128n --batch-size 256 --backend cuda --device "$DEVICE"
# the walk and the quotients (training step and LRP), alone and with 2 blocks per SM (what device-study.sh trains with)
LRPSEG_CUDA_WGRAD_WALK=1 LRPSEG_CUDA_LRP_QUOTIENT=1 LRPSEG_CUDA_PRECISION=fast bench "walkq-fast-vgg11-128n-64" $(( $(left) - 40 )) --arch vgg11-128n --batch-size 64 --backend cuda --device "$DEVICE" --train
LRPSEG_CUDA_GEMM_BLOCKS=2 LRPSEG_CUDA_WGRAD_WALK=1 LRPSEG_CUDA_LRP_QUOTIENT=1 LRPSEG_CUDA_PRECISION=fast bench "all-fast-vgg11-128n-64" $(( $(left) - 40 )) --arch vgg11-128n --batch-size 64 --backend cuda --device "$DEVICE" --train
if [[ -f $dawn ]]; then
  say "lrpseg bench: webgpu"
  LRPSEG_WEBGPU_F16=0 bench "webgpu-f32-vgg11-128n-64" $(( $(left) / 2 )) --arch vgg11-128n --batch-size 64 --backend webgpu
  # written without a GPU (2026-12-07): the operand walks and the precomputed quotients (defaults), each
  # against what it replaced, and the swizzled A tile (opt-in) on top of them
  LRPSEG_WEBGPU_F16=0 LRPSEG_WEBGPU_WALK=0 bench "webgpu-f32loads-vgg11-128n-64" $(( $(left) / 4 )) --arch vgg11-128n --batch-size 64 --backend webgpu
  LRPSEG_WEBGPU_F16=0 LRPSEG_WEBGPU_QUOTIENTS=0 bench "webgpu-f32inlineq-vgg11-128n-64" $(( $(left) / 4 )) --arch vgg11-128n --batch-size 64 --backend webgpu
  LRPSEG_WEBGPU_F16=0 LRPSEG_WEBGPU_SWIZZLE=1 bench "webgpu-f32swizzled-vgg11-128n-64" $(( $(left) / 4 )) --arch vgg11-128n --batch-size 64 --backend webgpu
  if grep -q 'shader-f16 available' "$OUTDIR/conformance-webgpu.txt" 2>/dev/null; then
    LRPSEG_WEBGPU_F16=1 bench "webgpu-f16-vgg11-128n-64" "$(left)" --arch vgg11-128n --batch-size 64 --backend webgpu
  fi
fi
if [[ -f $B/layer-profile.mjs ]] && (( $(left) >= 60 )); then
  say "layer profile: each convolution's forward, gradient and γ relevance op on cuda fast/accurate and webgpu, batch 64"
  s=$(( $(left) - 30 )); (( s > 100 )) && s=100
  LRPSEG_DEVICE=$DEVICE timeout "$s" node "$B/layer-profile.mjs" 2>&1 | tee "$OUTDIR/layer-profile.txt"
fi
# Why the GEMM is slow: stall reasons, occupancy and memory throughput of two launches (conv2 and conv3
# forward) from ncu, the CUDA profiler (nsys is not installed there)
NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null)
if [[ -n $NCU ]] && (( $(left) >= 40 )); then
  say "ncu: gemmTcKernel, conv2 and conv3 forward (fast, batch 64)"
  LRPSEG_CUDA_PRECISION=fast timeout "$(left)" "$NCU" --section SpeedOfLight --section WarpStateStats --section SchedulerStats \
    --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis -k regex:gemmTcKernel --launch-skip 1 --launch-count 2 \
    node "$B/bench.mjs" --arch vgg11-128n --batch-size 64 --backend cuda --device "$DEVICE" --iters 1 --warmup 0 -q > "$OUTDIR/ncu-gemm.txt" 2>&1
  grep -E "Stall|Warp Cycles Per Issued|Achieved Occupancy|Compute \(SM\) Throughput|Memory Throughput|Registers Per" "$OUTDIR/ncu-gemm.txt" | head -30
fi
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
// the experiments (LRPSEG_CUDA_GEMM_BLOCKS=2, LRPSEG_CUDA_ACCURATE=split), 128N batch 256, against PyTorch as above
for (const [tag, label, tf32] of [['2blocks-fast', 'fast, 2 blocks/SM', true], ['2blocks-accurate', 'accurate, 2 blocks/SM', false], ['split-accurate', 'accurate, split sums', false]]) {
  const f = path.join(dir, `bench-${tag}-vgg11-128n-256.json`);
  const b = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')).backends[0] : null;
  if (!b || !b.available) continue;
  for (const t of b.results) {
    const r = torch.rows.get(`256-${tf32}`);
    const ref = r ? r[t.task] : null;
    rows.push(['vgg11-128n', '256', label, t.task, t.images_per_s.toFixed(0), ref ? `${ref} (${tf32 ? 'TF32' : 'strict FP32'})` : '', ref ? (t.images_per_s / ref).toFixed(2) + '×' : '']);
  }
}
const cudaIps = (prec, task) => {
  const f = path.join(dir, `bench-${prec}-vgg11-128n-64.json`);
  if (!fs.existsSync(f)) return null;
  const b = JSON.parse(fs.readFileSync(f, 'utf8')).backends[0];
  return b.available ? (b.results.find((t) => t.task === task)?.images_per_s ?? null) : null;
};
// the walk and the quotients (128N, batch 64, fast): against PyTorch TF32 and the default kernels' fast row
for (const [tag, label] of [['walkq-fast', 'fast, walk + quotients'], ['all-fast', 'fast, walk + quotients + 2 blocks/SM']]) {
  const f = path.join(dir, `bench-${tag}-vgg11-128n-64.json`);
  const b = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')).backends[0] : null;
  if (!b || !b.available) continue;
  for (const t of b.results) {
    const r = torch.rows.get('64-true');
    const ref = t.task.startsWith('train') ? (torch.train && torch.train.batch === 64 ? torch.train.ips : null) : r ? r[t.task] : null;
    const own = cudaIps('fast', t.task);
    rows.push(['vgg11-128n', '64', label, t.task, t.images_per_s.toFixed(0), ref ? `${ref} (TF32)` : '',
      [ref ? (t.images_per_s / ref).toFixed(2) + '×' : '', own ? `${(t.images_per_s / own).toFixed(2)}× default kernels` : ''].filter(Boolean).join('; ')]);
  }
}
// WebGPU rows (128N, batch 64): against CUDA's fast and accurate modes on the same task, and PyTorch strict FP32
for (const p of ['f32', 'f32loads', 'f32inlineq', 'f32swizzled', 'f16']) {
  const f = path.join(dir, `bench-webgpu-${p}-vgg11-128n-64.json`);
  if (!fs.existsSync(f)) continue;
  const b = JSON.parse(fs.readFileSync(f, 'utf8')).backends[0];
  if (!b.available) { rows.push(['vgg11-128n', '64', `webgpu ${p}`, 'unavailable', '', b.reason ?? '', '']); continue; }
  for (const t of b.results) {
    const r = torch.rows.get('64-false');
    const ref = r ? r[t.task] : null;
    const cf = cudaIps('fast', t.task), ca = cudaIps('accurate', t.task);
    const vsCuda = [cf ? `${(t.images_per_s / cf).toFixed(2)}× cuda fast` : '', ca ? `${(t.images_per_s / ca).toFixed(2)}× cuda accurate` : ''].filter(Boolean).join(', ');
    rows.push(['vgg11-128n', '64', `webgpu ${p} (${b.device ?? '?'})`, t.task, t.images_per_s.toFixed(0), ref ? `${ref} (strict FP32)` : '', [ref ? (t.images_per_s / ref).toFixed(2) + '×' : '', vsCuda].filter(Boolean).join('; ')]);
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
echo "conformance (cuda): ${conf_line:-did not finish}"
wconf_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$OUTDIR/conformance-webgpu.txt" 2>/dev/null | tail -1)
echo "conformance (webgpu): ${wconf_line:-did not run or finish}"
echo "fidelity: $(tail -1 "$OUTDIR/fidelity.txt" 2>/dev/null || echo 'did not run')"
echo "conformance (cuda, 2 blocks/SM): $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$OUTDIR/conformance-2blocks.txt" 2>/dev/null | tail -1 || echo 'did not run')"
echo "conformance (cuda, accurate split): $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$OUTDIR/conformance-split.txt" 2>/dev/null | tail -1 || echo 'did not run')"
echo "conformance (cuda, WGRAD walk + LRP quotients): $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$OUTDIR/conformance-walk-quotient.txt" 2>/dev/null | tail -1 || echo 'did not run')"
say "done"
[[ -n $conf_line && $conf_line == *" 0 failed"* ]]
