#!/usr/bin/env node
// GPU timings of the seed model for scripts/ci/gpu-check.sh: forward (eval, no grad) and one training
// step (zeroGrad, forward, masked MSE, backward, Adam), in ms per call, synchronised with the
// device before the clock is read. bench/gpu_torch.py times the same in Python torch.
//   node bench/gpu.js [--device cuda|cpu] [--json]      (needs `npx tsc -p tsconfig.test.json`)

const path = require('node:path');
const { parseArgs } = require('node:util');

const root = path.resolve(__dirname, '..');
const torch = require(path.join(root, 'dist-test', 'lib'));
const { SeedModel } = require(path.join(root, 'dist-test', 'examples', 'seed_model'));

let args;
try {
  ({ values: args } = parseArgs({
    strict: true,
    allowPositionals: false,
    options: { device: { type: 'string', default: 'cuda' }, json: { type: 'boolean', default: false } },
  }));
} catch (e) {
  console.error(`bench/gpu.js: ${e.message}\nusage: node bench/gpu.js [--device cuda|cpu] [--json]`);
  process.exit(2);
}
const device = args.device;
const sync = () => {
  if (device.startsWith('cuda')) torch.cuda.synchronize();
};

/** ms per call: warm-up, then the median of 5 rounds of `iters` calls each. */
function time(fn, iters) {
  for (let i = 0; i < 3; i++) fn();
  sync();
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) fn();
    sync();
    rounds.push(Number(process.hrtime.bigint() - t0) / 1e6 / iters);
  }
  rounds.sort((a, b) => a - b);
  return rounds[2];
}

function seedCase(L, N) {
  torch.manualSeed(0);
  const model = new SeedModel().to(device);
  const opt = new torch.optim.Adam(model.parameters(), { lr: 1e-3 });
  const lengths = Array.from({ length: N }, (_, b) => L - (b % 3));
  const x = torch.randn([L, N, 10], { device }),
    y = torch.randn([L, N, 10], { device });
  const pad = torch.nn.masks.keyPadding(lengths, L, { device });
  const w = torch.tidy(() => pad.logicalNot().t().unsqueeze(2).to('float32')); // (L, N, 1): 1 = real step
  const forward = () =>
    torch.noGrad(() =>
      torch.tidy(() => {
        model.forward(x, pad);
      }),
    );
  const step = () =>
    torch.tidy(() => {
      opt.zeroGrad();
      const loss = model.forward(x, pad).sub(y).square().mul(w).sum().div(w.sum().mul(10));
      loss.backward();
      opt.step();
    });
  model.eval();
  const fwd = time(forward, 10);
  model.train();
  const train = time(step, 10);
  return { fwd, train };
}

const results = {};
for (const [L, N] of [
  [32, 256],
  [128, 64],
])
  results[`L${L}_N${N}`] = seedCase(L, N);
const meta = { node: process.version, libtorch: torch.libtorchVersion, device, config: torch.config().cuda };
if (args.json) console.log(JSON.stringify({ meta, results }));
else console.log(meta, results);
