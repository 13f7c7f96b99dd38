// How much it costs to free results in batches rather than one at a time:
//
//   node --expose-gc bench/batch_free.js [--size N] [--iters N] [--reps N] [--batches B,B,...] [--json]
//
// `a.add(b)` on `size`-element float32 tensors (1 thread), its results freed
//   - one at a time (`.dispose()`, what PyTorch's reference counting does),
//   - in `torch.tidy` blocks of B results (a batch of B freed together, no GC involved),
//   - by the GC alone (results dropped), where the batch is what one GC pass collects: the peak
//     number of results alive during the timed runs (torch.memory().tensors, sampled every 256
//     calls) is printed next to it.
// A GC frees the results it finds dead in one pass, tens of thousands at a time; this puts the GC
// row next to explicit batches of the same size, to separate what the batch size costs (each result
// is written to storage that left the caches since) from what V8's finalizers cost.
// PyTorch's own time for the same call (/usr/bin/python3, when it has torch) is the reference row.
// Prints a markdown table, or with --json one JSON object.

const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { parseArgs } = require('node:util');

const USAGE =
  'usage: node --expose-gc bench/batch_free.js [--size N] [--iters N] [--reps N] [--batches B,B,...] [--json]';
function usageError(msg) {
  console.error(`bench/batch_free.js: ${msg}\n${USAGE}`);
  process.exit(2);
}

/** A positive integer option, or a usage error naming it. */
function positive(name, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) usageError(`--${name} must be a positive integer (got ${JSON.stringify(text)})`);
  return n;
}

let values;
try {
  ({ values } = parseArgs({
    strict: true,
    allowPositionals: false,
    options: {
      size: { type: 'string', default: '1000' },
      iters: { type: 'string', default: '100000' },
      reps: { type: 'string', default: '7' },
      batches: { type: 'string', default: '100,1000,3000,10000,30000' },
      json: { type: 'boolean', default: false },
    },
  }));
} catch (e) {
  usageError(e.message);
}
const size = positive('size', values.size);
const iters = positive('iters', values.iters);
const reps = positive('reps', values.reps);
const batches = values.batches.split(',').map((b) => positive('batches', b));
if (typeof global.gc !== 'function') usageError('run it with node --expose-gc');

const torch = require(path.join(__dirname, '..'));
torch.setNumThreads(1);

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Frees what earlier rows left to the GC: full GCs and event-loop turns until the count stops falling. */
async function settle() {
  let live = torch.memory().tensors;
  for (let i = 0; i < 20; i++) {
    global.gc();
    await tick();
    await tick();
    const now = torch.memory().tensors;
    if (now >= live) break;
    live = now;
  }
}

/**
 * ns per call of each row's `run(iters)`: 2 warm-up runs each, then `reps` rounds that time every
 * row once (round-robin, so that a machine slowing down or speeding up affects all rows alike); the
 * median of each row's samples, and the largest `peak` its runs reported.
 */
async function timeRows(rows) {
  for (const row of rows) for (let w = 0; w < 2; w++) row.run(iters);
  for (const row of rows) Object.assign(row, { samples: [], peak: 0 });
  for (let r = 0; r < reps; r++) {
    for (const row of rows) {
      await settle();
      const t0 = process.hrtime.bigint();
      const p = row.run(iters);
      row.samples.push(Number(process.hrtime.bigint() - t0) / iters);
      row.peak = Math.max(row.peak, p || 0);
    }
  }
  await settle();
  for (const row of rows) row.ns = median(row.samples);
}

function pythonNs() {
  const code = [
    'import time, torch',
    'torch.set_num_threads(1)',
    `a = torch.ones(${size}); b = torch.randn(${size})`,
    'def run(n):',
    '    for _ in range(n): c = a.add(b)',
    `run(${iters}); run(${iters})`,
    's = []',
    `for _ in range(${reps}):`,
    `    t = time.perf_counter_ns(); run(${iters}); s.append((time.perf_counter_ns() - t) / ${iters})`,
    's.sort(); print(s[len(s) // 2])',
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', code], { encoding: 'utf8', timeout: 600_000 });
  if (r.error || r.status !== 0)
    return {
      skipped: String(r.error?.message ?? r.stderr)
        .trim()
        .split('\n')
        .pop(),
    };
  return { ns: Number(r.stdout.trim()) };
}

async function main() {
  const pythonBefore = pythonNs();
  const a = torch.ones(size);
  const b = torch.randn(size);
  const base = torch.memory().tensors;
  const rows = [
    {
      free: 'dispose each',
      batch: 1,
      run: (n) => {
        for (let i = 0; i < n; i++) a.add(b).dispose();
      },
    },
    ...batches.map((B) => ({
      free: `tidy blocks of ${B}`,
      batch: B,
      run: (n) => {
        for (let i = 0; i < n; i += B) {
          const m = Math.min(B, n - i);
          torch.tidy(() => {
            for (let j = 0; j < m; j++) a.add(b);
          });
        }
      },
    })),
    {
      free: 'left to the GC',
      gc: true,
      run: (n) => {
        let peak = 0;
        for (let i = 0; i < n; i++) {
          a.add(b); // dropped: the GC frees it
          if ((i & 255) === 0) peak = Math.max(peak, torch.memory().tensors - base);
        }
        return peak;
      },
    },
  ];
  await timeRows(rows);
  for (const row of rows) if (row.gc) row.batch = row.peak; // the GC's batch: what it left alive at once
  a.dispose();
  b.dispose();
  await settle();
  const leaked = torch.memory().tensors - (base - 2);
  const pythonAfter = pythonNs();
  // PyTorch's time before and after the torch-napi rows, and their mean as the reference
  const python = { before: pythonBefore, after: pythonAfter };
  if (pythonBefore.ns && pythonAfter.ns) python.ns = (pythonBefore.ns + pythonAfter.ns) / 2;
  else python.skipped = pythonBefore.skipped ?? pythonAfter.skipped;
  const out = { size, iters, reps, python, rows: rows.map(({ free, batch, ns }) => ({ free, batch, ns })), leaked };
  if (values.json) {
    console.log(JSON.stringify(out));
    return;
  }
  const ratio = (ns) => (python.ns ? ` | ${(ns / python.ns).toFixed(2)}` : '');
  console.log(`a.add(b), ${size} float32 elements, 1 thread, ${reps} runs × ${iters} calls (medians)\n`);
  console.log(`| results freed | results freed together | ns per call${python.ns ? ' | × PyTorch' : ''} |`);
  console.log(`|---|---|---|${python.ns ? '---|' : ''}`);
  for (const r of rows) {
    const together = r.gc ? `up to ${r.batch} alive` : String(r.batch);
    console.log(`| ${r.free} | ${together} | ${r.ns.toFixed(0)}${ratio(r.ns)} |`);
  }
  console.log(
    python.ns
      ? `\nPyTorch (/usr/bin/python3): ${python.ns.toFixed(0)} ns per call (${pythonBefore.ns.toFixed(0)} before the rows above, ${pythonAfter.ns.toFixed(0)} after)`
      : `\nPyTorch: ${python.skipped}`,
  );
  if (leaked !== 0) console.log(`WARNING: ${leaked} tensors more alive at the end than at the start`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
