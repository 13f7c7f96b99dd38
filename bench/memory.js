// Memory check for `npm run bench`, run by bench/run.js in a child process of its own (so the
// RSS it sees is only its own): `node --expose-gc bench/memory.js --mode nodispose|tidy
// --size N --iters N [--threads N]`. Prints one JSON object on stdout.
//
//   nodispose: `iters` × a.add(b), results dropped (the GC frees them). Reports RSS before, the
//              maximum RSS during (sampled every 1000 calls, and the kernel's peak), the growth,
//              and how many tensors were still alive right after the loop and after a GC.
//   tidy:      the same inside torch.tidy around each 1000 calls. Reports torch.memory() before
//              and after (the tensor counts must be equal), and the RSS growth.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');

const USAGE = 'usage: node --expose-gc bench/memory.js --mode nodispose|tidy --size N --iters N [--threads N]';
const usageError = (msg) => {
  console.error(`bench/memory.js: ${msg}\n${USAGE}`);
  process.exit(2);
};
let args;
try {
  ({ values: args } = parseArgs({
    strict: true,
    allowPositionals: false,
    options: {
      mode: { type: 'string', default: 'nodispose' },
      size: { type: 'string', default: '1000' },
      iters: { type: 'string', default: '1000000' },
      threads: { type: 'string', default: '1' },
    },
  }));
} catch (e) {
  usageError(e.message);
}
const positive = (name) => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 1) usageError(`--${name} expects a positive integer, got '${args[name]}'`);
  return n;
};
const mode = args.mode;
if (mode !== 'nodispose' && mode !== 'tidy') usageError(`--mode expects nodispose or tidy, got '${mode}'`);
const size = positive('size');
const iters = positive('iters');
const threads = positive('threads');
const SAMPLE_EVERY = 1000;

const torch = require(path.join(__dirname, '..'));
// Which addon this process loaded (run.js warns when it is not the one the other benchmarks used).
let addonHash = null;
try {
  addonHash = crypto
    .createHash('sha256')
    .update(fs.readFileSync(path.join(__dirname, '..', 'build', 'Release', 'torch_napi.node')))
    .digest('hex')
    .slice(0, 10);
} catch {
  /* a prebuild, or another layout */
}
torch.setNumThreads(threads);

const gc = typeof global.gc === 'function' ? global.gc : () => {};
const mb = (bytes) => bytes / (1024 * 1024);
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function settle() {
  // A full GC, then a few turns of the event loop so FinalizationRegistry callbacks run.
  for (let i = 0; i < 3; i++) {
    gc();
    await tick();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function peakRssBytes() {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux: getrusage's figure */
  }
  return process.resourceUsage().maxRSS * 1024;
}

async function main() {
  const a = torch.ones(size);
  const b = torch.randn(size);
  // Warm up the code paths (and allocator) with disposed results, then settle.
  for (let i = 0; i < 10000; i++) a.add(b).dispose();
  await settle();

  const memBefore = torch.memory();
  const rssBefore = process.memoryUsage.rss();
  let rssMax = rssBefore;
  const t0 = process.hrtime.bigint();
  // biome-ignore lint/correctness/noUnusedVariables: holds the latest result, as a careless loop would
  let c;
  if (mode === 'nodispose') {
    for (let i = 0; i < iters; i++) {
      c = a.add(b);
      if (i % SAMPLE_EVERY === 0) {
        const r = process.memoryUsage.rss();
        if (r > rssMax) rssMax = r;
      }
    }
  } else if (mode === 'tidy') {
    for (let i = 0; i < iters; i += 1000) {
      torch.tidy(() => {
        for (let j = 0; j < 1000 && i + j < iters; j++) a.add(b);
      });
      const r = process.memoryUsage.rss();
      if (r > rssMax) rssMax = r;
    }
  } else {
    throw new Error(`memory.js: unknown --mode ${mode}`);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  c = undefined;
  const rssEnd = process.memoryUsage.rss();
  if (rssEnd > rssMax) rssMax = rssEnd;
  const memAfterLoop = torch.memory();
  // The kernel's peak RSS of this process. It includes anything before the loop, which stays below
  // rssBefore here (loading is done and settled by then). On Linux it is VmHWM of this process's
  // own address space: getrusage's maxRSS survives exec, so a child started by a big parent (the
  // benchmark runner, hundreds of MB by then) would report the parent's size at fork.
  const peakRss = peakRssBytes();
  await settle();
  const memAfterGc = torch.memory();
  const rssAfterGc = process.memoryUsage.rss();
  a.dispose();
  b.dispose();

  const rssMaxAll = Math.max(rssMax, peakRss);
  process.stdout.write(
    JSON.stringify({
      mode,
      size,
      iters,
      threads,
      seconds,
      usPerOp: (seconds * 1e6) / iters,
      rssBeforeMB: mb(rssBefore),
      rssMaxSampledMB: mb(rssMax),
      rssPeakMB: mb(peakRss),
      rssGrowthMB: mb(rssMaxAll - rssBefore),
      rssAfterGcMB: mb(rssAfterGc),
      tensorsBefore: memBefore.tensors,
      bytesBefore: memBefore.bytes,
      tensorsAfterLoop: memAfterLoop.tensors,
      bytesAfterLoop: memAfterLoop.bytes,
      tensorsAfterGc: memAfterGc.tensors,
      bytesAfterGc: memAfterGc.bytes,
      gcExposed: typeof global.gc === 'function',
      addonHash,
    }) + '\n',
  );
}

main().catch((e) => {
  process.stderr.write(`${e?.stack ? e.stack : e}\n`);
  process.exit(1);
});
