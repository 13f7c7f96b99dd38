#!/usr/bin/env node
// Soak test: many training iterations of a small model, with and without torch.tidy, checking
// that live tensors return to their start and RSS stays bounded.
//   node scripts/soak.js [--iterations N] [--json]      (npm run soak: 100,000 iterations)
'use strict';
const path = require('path');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

function soak({ iterations = 100000, entry = path.join(__dirname, '..', 'dist', 'index.js') } = {}) {
  const torch = require(entry);
  const { nn, optim } = torch;
  torch.manualSeed(0);
  const model = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 1));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const x = torch.randn(32, 8), y = torch.randn(32, 1);
  const step = () => {
    opt.zeroGrad();
    const loss = nn.functional.mseLoss(model.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  torch.tidy(() => { step(); });  // optimizer state is created on the first step
  const gc = global.gc || (() => {});
  gc();
  const mb = () => process.memoryUsage().rss / 1048576;
  const result = {};

  // 1. inside tidy: the live tensor count must come back exactly
  let start = torch.memory().tensors;
  let rss0 = mb(), peak = rss0;
  const t0 = Date.now();
  for (let i = 0; i < iterations; i++) {
    torch.tidy(() => { step(); });
    if (i % 1000 === 0) peak = Math.max(peak, mb());
  }
  gc();
  result.tidy = { iterations, tensorsBefore: start, tensorsAfter: torch.memory().tensors,
    rssGrowthMB: +(Math.max(peak, mb()) - rss0).toFixed(1), seconds: (Date.now() - t0) / 1000 };

  // 2. no tidy, no dispose: the GC alone must keep memory bounded (and free everything at the end)
  start = torch.memory().tensors;
  rss0 = mb(); peak = rss0;
  const t1 = Date.now();
  for (let i = 0; i < iterations; i++) {
    step();
    if (i % 1000 === 0) peak = Math.max(peak, mb());
  }
  result.gcOnly = { iterations, rssGrowthMB: +(peak - rss0).toFixed(1), seconds: (Date.now() - t1) / 1000 };
  return result;
}

module.exports = { soak };

if (require.main === module) {
  const r = soak({ iterations: arg('iterations', 100000) });
  if (process.argv.includes('--json')) console.log(JSON.stringify(r));
  else {
    console.log(`tidy:    ${r.tidy.iterations} steps in ${r.tidy.seconds} s; live tensors ${r.tidy.tensorsBefore} → ${r.tidy.tensorsAfter}; RSS growth ${r.tidy.rssGrowthMB} MB`);
    console.log(`GC only: ${r.gcOnly.iterations} steps in ${r.gcOnly.seconds} s; RSS growth ${r.gcOnly.rssGrowthMB} MB`);
  }
  const ok = r.tidy.tensorsAfter === r.tidy.tensorsBefore && r.tidy.rssGrowthMB < 50;
  process.exit(ok ? 0 : 1);
}
