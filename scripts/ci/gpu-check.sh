#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU and a Python torch built with CUDA:
#   1. builds the addon against that Python torch (LIBTORCH = its install), in build/;
#   2. runs the CUDA-tagged tests (`mocha --grep @cuda`: the seed model's forward and backward on
#      'cuda' equal the CPU within tolerance, module.to, optimizer steps, checkpoints, async);
#   3. prints a timing table: the seed model (N = 256, L = 32; L = 128, N = 64), forward and
#      training step, here and in Python torch on the same GPU, with the ratio.
# Needs Node >= 18, a C++17 compiler and node_modules (npm ci) already present: the GPU machine
# may have no registry. Writes the log and the timings to $GPU_CHECK_OUT (default out/gpu-check).
#   bash scripts/ci/gpu-check.sh            (PYTHON=python3; --cpu runs the same steps on the CPU, to test the script)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-python3}"
OUTDIR="${GPU_CHECK_OUT:-out/gpu-check}"
DEVICE=cuda
[ "${1:-}" = "--cpu" ] && DEVICE=cpu
mkdir -p "$OUTDIR"
start=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - start ))s] $*"; }

command -v node >/dev/null || { echo "gpu-check: node is not on PATH (Node >= 18 needed)"; exit 2; }
[ -d node_modules/cmake-js ] || { echo "gpu-check: node_modules missing: run 'npm ci --ignore-scripts' first (or bring node_modules along)"; exit 2; }
if [ "$DEVICE" = cuda ]; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || { echo "gpu-check: no NVIDIA GPU (nvidia-smi failed)"; exit 2; }
  "$PY" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' ||
    { echo "gpu-check: $PY's torch has no usable CUDA ($("$PY" -c 'import torch;print(torch.__version__, torch.version.cuda)' 2>&1))"; exit 2; }
fi
LIBTORCH="$("$PY" -c 'import os,torch;print(os.path.dirname(torch.__file__))')"
export LIBTORCH
stamp "libtorch: $("$PY" -c 'import torch;print(torch.__version__, "CUDA", torch.version.cuda)') at $LIBTORCH"

stamp "build against it"
node install/find-libtorch.js --json | tee "$OUTDIR/libtorch.json"
jobs=$(( $(nproc) > 8 ? 8 : $(nproc) ))
npx --no-install cmake-js compile --parallel "$jobs" 2>&1 | tail -n 5
npx --no-install tsc -p tsconfig.json
npx --no-install tsc -p tsconfig.test.json
node -e "
const t = require('./dist');
const c = t.config().cuda;
console.log('loaded: libtorch', t.libtorchVersion, JSON.stringify(c));
if ('$DEVICE' === 'cuda' && !c.available) { console.error('gpu-check: the addon was built without CUDA or sees no GPU'); process.exit(1); }"

stamp "CUDA-tagged tests"
npx --no-install mocha --grep @cuda 'dist-test/test/**/*.test.js' 2>&1 | tee "$OUTDIR/tests.log"

stamp "timings (ms per call, median of 5 rounds)"
node bench/gpu.js --device "$DEVICE" --json > "$OUTDIR/node.json"
"$PY" bench/gpu_torch.py --device "$DEVICE" --json > "$OUTDIR/python.json"
node -e "
const fs = require('fs');
const n = JSON.parse(fs.readFileSync('$OUTDIR/node.json', 'utf8')), p = JSON.parse(fs.readFileSync('$OUTDIR/python.json', 'utf8'));
console.log('device:', p.meta.gpu || '$DEVICE', '| torch', p.meta.torch, '| torch-napi on libtorch', n.meta.libtorch, '| Node', n.meta.node);
console.log('case'.padEnd(28) + 'torch-napi ms'.padStart(14) + 'PyTorch ms'.padStart(12) + 'ratio'.padStart(8));
for (const [k, v] of Object.entries(n.results))
  for (const m of ['fwd', 'train']) {
    const label = k.replace('_', ' ') + (m === 'fwd' ? ' forward' : ' train step');
    console.log(label.padEnd(28) + v[m].toFixed(3).padStart(14) + p.results[k][m].toFixed(3).padStart(12) + (v[m] / p.results[k][m]).toFixed(2).padStart(8));
  }
" | tee "$OUTDIR/table.txt"
stamp "done"
