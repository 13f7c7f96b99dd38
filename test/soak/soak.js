#!/usr/bin/env node
// Soak test: many training iterations of a small model, with and without torch.tidy, checking
// that live tensors return to their start and RSS stays bounded. With --async: many
// LSTM.forwardAsync calls, a bounded number in flight at once, the same checks.
//   node --expose-gc test/soak/soak.js [--iterations N] [--json]       (npm run soak: 100,000 iterations)
//   node --expose-gc test/soak/soak.js --async [--iterations N] [--concurrency 8] [--json]

const path = require('node:path');
const util = require('node:util');

const USAGE = `Usage:
  node --expose-gc test/soak/soak.js [--iterations N] [--json]
  node --expose-gc test/soak/soak.js --async [--iterations N] [--concurrency N] [--json]

  --iterations N    training steps, or forwardAsync calls with --async (default 100000)
  --async           LSTM.forwardAsync calls, a bounded number in flight
  --concurrency N   calls in flight with --async (default 8)
  --json            print the result as JSON
  --help            this text`;

/** The command line's options (node:util parseArgs; an unknown option is an error). */
function parseCli(argv) {
  const { values } = util.parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      iterations: { type: 'string', default: '100000' },
      concurrency: { type: 'string', default: '8' },
      async: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  for (const k of ['iterations', 'concurrency']) {
    const n = Number(values[k]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`soak: --${k} expects a positive integer, got '${values[k]}'`);
    values[k] = n;
  }
  return values;
}

function soak({ iterations = 100000, entry = path.join(__dirname, '..', '..', 'dist', 'index.js') } = {}) {
  const torch = require(entry);
  const { nn, optim } = torch;
  torch.manualSeed(0);
  const model = new nn.Sequential(new nn.Linear(8, 16), new nn.ReLU(), new nn.Linear(16, 1));
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const x = torch.randn(32, 8),
    y = torch.randn(32, 1);
  const step = () => {
    opt.zeroGrad();
    const loss = nn.functional.mseLoss(model.forward(x), y);
    loss.backward();
    opt.step();
    return loss;
  };
  torch.tidy(() => {
    step();
  }); // optimizer state is created on the first step
  const gc = global.gc || (() => {});
  gc();
  const mb = () => process.memoryUsage().rss / 1048576;
  const result = {};

  // 1. inside tidy: the live tensor count must come back exactly
  let start = torch.memory().tensors;
  let rss0 = mb(),
    peak = rss0;
  const t0 = Date.now();
  for (let i = 0; i < iterations; i++) {
    torch.tidy(() => {
      step();
    });
    if (i % 1000 === 0) peak = Math.max(peak, mb());
  }
  gc();
  result.tidy = {
    iterations,
    tensorsBefore: start,
    tensorsAfter: torch.memory().tensors,
    rssGrowthMB: +(Math.max(peak, mb()) - rss0).toFixed(1),
    seconds: (Date.now() - t0) / 1000,
  };

  // 2. no tidy, no dispose: the GC alone must keep memory bounded (and free everything at the end)
  start = torch.memory().tensors;
  rss0 = mb();
  peak = rss0;
  const t1 = Date.now();
  for (let i = 0; i < iterations; i++) {
    step();
    if (i % 1000 === 0) peak = Math.max(peak, mb());
  }
  result.gcOnly = { iterations, rssGrowthMB: +(peak - rss0).toFixed(1), seconds: (Date.now() - t1) / 1000 };
  return result;
}

/**
 * `iterations` forwardAsync calls of a small LSTM, `concurrency` of them in flight at any time.
 * Every other call gets a fresh input (created before the call, disposed after it); the others
 * share one input, so up to `concurrency` calls hold the same tensor. Every result is disposed.
 * Some results are compared with the synchronous forward. RSS drift: the RSS at the end minus
 * the RSS after the first tenth of the calls (allocator pools warmed up).
 */
async function soakAsync({
  iterations = 100000,
  concurrency = 8,
  entry = path.join(__dirname, '..', '..', 'dist', 'index.js'),
} = {}) {
  const torch = require(entry);
  const { nn } = torch;
  torch.manualSeed(0);
  const lstm = new nn.LSTM(8, 16, { numLayers: 2 });
  const shared = torch.randn(5, 4, 8);
  const expected = lstm.forward(shared);
  const gc = global.gc || (() => {});
  const tick = () => new Promise((r) => setImmediate(r));
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await tick();
    }
  };
  await settle();
  const mb = () => process.memoryUsage().rss / 1048576;
  const tensorsBefore = torch.memory().tensors;
  const rssStart = mb();
  let rssWarm = rssStart,
    peak = rssStart;
  let launched = 0,
    completed = 0,
    checked = 0,
    maxInFlight = 0,
    inFlight = 0;
  const t0 = Date.now();
  const worker = async () => {
    while (launched < iterations) {
      const i = launched++;
      const fresh = i % 2 === 1;
      const x = fresh ? torch.randn(5, 4, 8) : shared;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const [o, [h, c]] = await lstm.forwardAsync(x);
      inFlight--;
      if (i % 997 === 0 && !fresh) {
        if (!o.equal(expected[0]) || !h.equal(expected[1][0]) || !c.equal(expected[1][1]))
          throw new Error(`soak --async: call ${i} differs from the synchronous forward`);
        checked++;
      }
      torch.dispose(fresh ? [o, h, c, x] : [o, h, c]);
      completed++;
      if (completed % 1000 === 0) {
        peak = Math.max(peak, mb());
        if (completed === Math.max(1000, Math.floor(iterations / 10 / 1000) * 1000)) rssWarm = mb();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (Date.now() - t0) / 1000;
  await settle();
  const rssEnd = mb();
  peak = Math.max(peak, rssEnd);
  const tensorsAfter = torch.memory().tensors;
  torch.dispose([shared, expected[0], ...expected[1]]);
  return {
    async: {
      iterations: completed,
      concurrency,
      maxInFlight,
      checked,
      tensorsBefore,
      tensorsAfter,
      rssStartMB: +rssStart.toFixed(1),
      rssDriftMB: +(rssEnd - rssWarm).toFixed(1),
      rssGrowthMB: +(peak - rssStart).toFixed(1),
      seconds,
      callsPerSecond: Math.round(completed / seconds),
    },
  };
}

module.exports = { soak, soakAsync };

async function main() {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2));
  } catch (e) {
    console.error(`${e.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  if (opts.async) {
    const r = await soakAsync({ iterations: opts.iterations, concurrency: opts.concurrency });
    const a = r.async;
    if (opts.json) console.log(JSON.stringify(r));
    else {
      console.log(
        `async:   ${a.iterations} LSTM.forwardAsync calls (${a.concurrency} in flight, max seen ${a.maxInFlight}) in ${a.seconds} s ` +
          `(${a.callsPerSecond}/s); ${a.checked} checked against forward; live tensors ${a.tensorsBefore} → ${a.tensorsAfter}; ` +
          `RSS ${a.rssStartMB} MB at start, growth ${a.rssGrowthMB} MB, drift after warm-up ${a.rssDriftMB} MB`,
      );
    }
    process.exit(a.tensorsAfter === a.tensorsBefore && a.rssGrowthMB < 50 ? 0 : 1);
  }
  const r = soak({ iterations: opts.iterations });
  if (opts.json) console.log(JSON.stringify(r));
  else {
    console.log(
      `tidy:    ${r.tidy.iterations} steps in ${r.tidy.seconds} s; live tensors ${r.tidy.tensorsBefore} → ${r.tidy.tensorsAfter}; RSS growth ${r.tidy.rssGrowthMB} MB`,
    );
    console.log(
      `GC only: ${r.gcOnly.iterations} steps in ${r.gcOnly.seconds} s; RSS growth ${r.gcOnly.rssGrowthMB} MB`,
    );
  }
  const ok = r.tidy.tensorsAfter === r.tidy.tensorsBefore && r.tidy.rssGrowthMB < 50;
  process.exit(ok ? 0 : 1);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
