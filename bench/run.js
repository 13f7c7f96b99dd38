#!/usr/bin/env node
// `npm run bench`: torch-napi against PyTorch (Python) and raw libtorch (C++) on the same
// libtorch, and against onnxruntime-node on the same models exported to ONNX, plus memory checks.
// Prints markdown tables (one per thread count); writes bench/out/results.json and
// bench/out/results.md (the README's performance tables are pasted from it).
//
//   node bench/run.js [--quick] [--json] [--only name[,name...]] [--threads N[,N...]]
//                     [--fast-path on|off|both] [--reps N] [--rounds N]
//
//   --quick      fewer calls and repetitions (a CI smoke run, about a minute)
//   --json       print only the results as JSON
//   --only       run only these benchmarks (names from bench/cases.js; `*` at the end matches a prefix)
//   --threads    intra-op threads in all four (default 1); a list (`--threads 1,2`) runs every
//                benchmark at each count and prints one table per count. OpenBLAS, which runs the
//                GEMMs of the three libtorch columns, gets the same count (torch.setNumThreads sets
//                it; PyTorch and raw C++ get OPENBLAS_NUM_THREADS: their set_num_threads leaves it
//                at one thread per core)
//   --fast-path  torch-napi's inference fast path (`torch.backends.fastPath`): on (default), off, or
//                both (the inference model rows are also run with it off, in a column of their own)
//   --reps       timed repetitions per benchmark (default 11; 3 with --quick)
//   --rounds     split the repetitions into this many rounds (default 3), each running every
//                benchmark in torch-napi, then PyTorch, then raw C++, then onnxruntime
//   --in-process run every torch-napi benchmark in this process (by default each model row runs in
//                a child process of its own, per round: V8's compiled code then carries nothing
//                over from the benchmarks before it, which slowed the seed model's N=1 row by
//                10-25 % in one process; the per-op rows run here, in a warm process)
//
// Method: each torch-napi model row runs in a child process of its own, once per round; the per-op
// rows run in this process, and before each what earlier ones left to the GC is collected (full
// GCs and event-loop turns until the live tensor count stops falling, the CPU allocator cache
// emptied). Each benchmark builds its inputs once, runs untimed warm-up runs (3 of `iters` calls; 1
// with --quick: V8 needs a few thousand calls of a small model before its optimising compiler has
// the hot code, and the same count goes to all four implementations), then `reps` timed
// runs of `iters` calls each (process.hrtime.bigint() around the whole run); the table shows the
// median run. A GC and a turn of the event loop separate the runs. The machine may be busy, so
// medians, not minimums or means, are reported; every sample is in results.json. The runs are
// spread over `rounds` rounds (each: all of torch-napi, then PyTorch, then raw C++, then
// onnxruntime, with a fresh setup and warm-up), so that a burst of load from elsewhere does not
// land on one implementation alone.
//
// onnxruntime: bench/onnx_export.py exports the seed model (masks as graph inputs), the LSTM and
// the attention models with the same fixed weights (torch.onnx.export of /usr/bin/python3's
// torch; cached in bench/out/onnx-<hash of the scripts and torch version>/), and bench/ort_bench.js
// runs them in a child process: one InferenceSession per benchmark (intra-op threads as above,
// inter-op 1, sequential, all graph optimisations), `await session.run(feeds)` per call.
//
// Cases with a check (the models) first compute output checksums on one fixed input with the same
// weights in all implementations; the report says whether they agree (to 1e-4, relative) and
// prints a WARNING line for each that does not.

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const v8 = require('node:v8');
const util = require('node:util');
const vm = require('node:vm');
const { execFileSync, spawnSync } = require('node:child_process');

const { CASES, MEMORY_CASES } = require('./cases');

const ROOT = path.join(__dirname, '..');
const OUT = path.join(__dirname, 'out');
const PYTHON = '/usr/bin/python3';
const TARGETS = {
  perOpUs: 0.9,
  // the generated op path may cost at most this much more per call than a hand-written binding
  generatedRatio: 1.3,
  copyGBs: 2,
  rssGrowthMB: 200,
  // the model cases carry their own targets (bench/cases.js: `targets`)
};
const CHECK_TOL = 1e-4; // |a - b| <= CHECK_TOL * max(1, |a|, |b|) for every checksum

// ---- arguments -----------------------------------------------------------------------------
function parseArgs(argv) {
  let values;
  try {
    ({ values } = util.parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        only: { type: 'string' },
        threads: { type: 'string' },
        'fast-path': { type: 'string' },
        reps: { type: 'string' },
        rounds: { type: 'string' },
        'in-process': { type: 'boolean', default: false },
        'node-case': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    fail(`${e.message} (try --help)`);
  }
  if (values.help) {
    const lines = fs.readFileSync(__filename, 'utf8').split('\n').slice(1);
    console.log(
      lines
        .slice(
          0,
          lines.findIndex((l) => !l.startsWith('//')),
        )
        .map((l) => l.replace(/^\/\/ ?/, ''))
        .join('\n'),
    );
    process.exit(0);
  }
  const o = {
    quick: values.quick,
    json: values.json,
    only:
      values.only === undefined
        ? null
        : values.only
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    threads:
      values.threads === undefined
        ? [1]
        : [...new Set(values.threads.split(',').map((t) => positiveInt('--threads', t.trim())))],
    fastPath: values['fast-path'] === undefined ? 'on' : values['fast-path'],
    reps: values.reps === undefined ? (values.quick ? 3 : 11) : positiveInt('--reps', values.reps),
    rounds: values.rounds === undefined ? 3 : positiveInt('--rounds', values.rounds),
    inProcess: values['in-process'],
    nodeCase: values['node-case'] ?? null,
  };
  if (!['on', 'off', 'both'].includes(o.fastPath)) fail(`--fast-path expects on, off or both, got ${o.fastPath}`);
  o.rounds = Math.min(o.rounds, o.reps);
  return o;
}

function positiveInt(name, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) fail(`${name} expects a positive integer, got ${v}`);
  return n;
}

function fail(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(2);
}

function selected(name, only) {
  if (!only) return true;
  return only.some((p) => (p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p));
}

// ---- helpers -------------------------------------------------------------------------------
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

let gc = () => {};
try {
  v8.setFlagsFromString('--expose-gc');
  gc = vm.runInNewContext('gc');
} catch {
  /* no forced GC: runs are then separated by event loop turns only */
}

/** Untimed warm-up runs of `iters` calls before the timed ones, the same in all four implementations. */
const warmupRuns = (opts) => (opts.quick ? 1 : 3);

const tick = () => new Promise((resolve) => setImmediate(resolve));
async function settle() {
  gc();
  await tick();
  await tick();
}

function sha(text, n = 12) {
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, n);
}

function firstLines(text, n = 4) {
  return String(text || '')
    .trim()
    .split('\n')
    .filter(Boolean)
    .slice(0, n)
    .join(' | ');
}

// ---- torch-napi ----------------------------------------------------------------------------
/**
 * Before a torch-napi case (untimed): what earlier cases left to the GC is collected first — full
 * GCs and event-loop turns (the FinalizationRegistry's callbacks) until the live tensor count stops
 * falling, then the CPU allocator's cache is emptied — so that no case pays for another's garbage
 * (the GC-only add rows leave tens of thousands of results behind them).
 */
async function isolate(torch) {
  let live = torch.memory().tensors;
  for (let i = 0; i < 20; i++) {
    await settle();
    const now = torch.memory().tensors;
    if (now >= live) break;
    live = now;
  }
  torch.backends?.cpu?.emptyCache?.();
}

async function runNode(torch, c, opts, log) {
  const iters = opts.quick ? c.iters.quick : c.iters.full;
  await isolate(torch);
  const statsBefore = fastPathStats(torch);
  const bench = c.node(torch);
  try {
    let check;
    if (bench.check) {
      try {
        check = bench.check();
      } catch (e) {
        check = { error: String(e?.message ? e.message : e) };
      }
    }
    await settle();
    for (let w = 0; w < warmupRuns(opts); w++) bench.run(iters); // warm-up (V8 compiles the hot code)
    const samples = [];
    let pendingAfterRun = 0;
    for (let r = 0; r < opts.reps; r++) {
      await settle();
      const before = torch.memory().tensors;
      const t0 = process.hrtime.bigint();
      bench.run(iters);
      const ns = Number(process.hrtime.bigint() - t0);
      pendingAfterRun = Math.max(pendingAfterRun, torch.memory().tensors - before);
      samples.push(ns / iters);
    }
    await settle();
    log(`  ${c.name}: ${fmtTime(median(samples), c.kind)} (${samples.length} runs × ${iters})`);
    const statsAfter = fastPathStats(torch);
    const fused =
      statsAfter && Object.fromEntries(Object.keys(statsAfter).map((k) => [k, statsAfter[k] - statsBefore[k]]));
    return { samples, iters, pendingAfterRun, check, fused };
  } finally {
    if (bench.teardown) bench.teardown();
    await settle();
  }
}

/**
 * runNode for one case in a child process of its own (`--node-case`), with the fast path `v`: the
 * same measurement, free of what the benchmarks before it left in V8 (compiled code, heap).
 */
function runNodeChild(c, opts, v, log) {
  const args = ['--expose-gc', __filename, '--node-case', c.name, '--threads', String(opts.threads)];
  args.push('--reps', String(opts.reps), '--fast-path', v);
  if (opts.quick) args.push('--quick');
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 1_200_000 });
  if (r.error || r.status !== 0)
    throw new Error(`torch-napi case ${c.name} (child process) failed: ${r.error?.message ?? firstLines(r.stderr, 6)}`);
  const lines = r.stderr.trim().split('\n').filter(Boolean);
  for (const l of lines) log(l);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** The child side of runNodeChild: one case, its result as JSON on stdout. */
async function nodeCaseMain(opts) {
  const c = CASES.find((x) => x.name === opts.nodeCase);
  if (!c) fail(`--node-case: no benchmark named ${opts.nodeCase}`);
  const torch = require(ROOT);
  torch.setNumThreads(opts.threads[0]);
  if (typeof torch.backends?.fastPath === 'function') torch.backends.fastPath(opts.fastPath !== 'off');
  const r = await runNode(torch, c, { ...opts, threads: opts.threads[0] }, (s) => process.stderr.write(`${s}\n`));
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

/** torch.backends.fastPathStats() (calls that took each fused kernel), or null without it. */
function fastPathStats(torch) {
  return torch.backends?.fastPathStats ? { ...torch.backends.fastPathStats() } : null;
}

// ---- PyTorch -------------------------------------------------------------------------------
/**
 * The environment of the PyTorch and raw C++ children: OpenBLAS sized to the intra-op threads, as
 * torch.setNumThreads does for torch-napi. set_num_threads does not reach OpenBLAS's own pool, so
 * at "1 thread" their large GEMMs ran on every core (onnxruntime's on one).
 */
function blasEnv(threads) {
  return { ...process.env, OPENBLAS_NUM_THREADS: String(threads) };
}

function pythonSnippets(c) {
  if (!c.python) return [];
  return Array.isArray(c.python) ? c.python : [c.python];
}

function runPython(cases, opts, log) {
  const wanted = new Map(); // snippet -> iters
  for (const c of cases) for (const s of pythonSnippets(c)) wanted.set(s, opts.quick ? c.iters.quick : c.iters.full);
  if (wanted.size === 0) return { skipped: 'no PyTorch snippets selected' };
  const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : firstLines(probe.stderr, 2).slice(-200);
    return { skipped: `\`${PYTHON} -c 'import torch, numpy'\` failed (${why})` };
  }
  const specs = [...wanted].map(([s, iters]) => `${s}:${iters}:${opts.reps}:${warmupRuns(opts)}`);
  log(`PyTorch (${PYTHON}): ${[...wanted.keys()].join(', ')}`);
  const r = spawnSync(PYTHON, [path.join(__dirname, 'torch_bench.py'), '--threads', String(opts.threads), ...specs], {
    env: blasEnv(opts.threads),
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 16 << 20,
  });
  if (r.error || r.status !== 0) {
    return { skipped: `torch_bench.py failed (${r.error ? r.error.message : firstLines(r.stderr)})` };
  }
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return { skipped: `torch_bench.py printed no JSON (${firstLines(r.stdout)})` };
  }
}

// ---- raw C++ -------------------------------------------------------------------------------
function buildRaw(log) {
  let lt;
  try {
    lt = JSON.parse(
      execFileSync(process.execPath, [path.join(ROOT, 'install', 'find-libtorch.js'), '--json'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  } catch (e) {
    return { skipped: `install/find-libtorch.js failed (${firstLines(e.stderr || e.message, 2)})` };
  }
  const src = path.join(__dirname, 'raw_bench.cc');
  const args = [
    '-O2',
    '-std=c++17',
    `-D_GLIBCXX_USE_CXX11_ABI=${lt.abi}`,
    '-Wno-deprecated-declarations',
    ...lt.includeDirs.map((d) => `-I${d}`),
    src,
    `-L${lt.libDir}`,
    `-Wl,-rpath,${lt.libDir}`,
    ...lt.libs.map((l) => `-l${l}`),
  ];
  const key = sha(fs.readFileSync(src, 'utf8') + '\0' + JSON.stringify(args));
  const bin = path.join(OUT, `raw_bench-${key}`);
  const info = { binary: path.relative(ROOT, bin), libtorch: lt.version, libDir: lt.libDir, abi: lt.abi };
  if (fs.existsSync(bin)) return { ...info, bin, cached: true };
  log(`compiling bench/raw_bench.cc (g++ -O2; cached in bench/out/ afterwards)...`);
  const t0 = Date.now();
  const tmp = `${bin}.tmp${process.pid}`;
  const r = spawnSync('g++', [...args, '-o', tmp], { encoding: 'utf8', timeout: 600_000 });
  if (r.error || r.status !== 0) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* nothing to remove */
    }
    const errLines = String(r.stderr || '')
      .split('\n')
      .filter((l) => /error/i.test(l));
    return { skipped: `g++ failed (${r.error ? r.error.message : firstLines(errLines.join('\n') || r.stderr, 3)})` };
  }
  fs.renameSync(tmp, bin);
  // Old binaries of other source versions are no longer useful.
  for (const f of fs.readdirSync(OUT)) {
    if (f.startsWith('raw_bench-') && f !== path.basename(bin)) fs.rmSync(path.join(OUT, f), { force: true });
  }
  return { ...info, bin, cached: false, compileSeconds: (Date.now() - t0) / 1000 };
}

function runRaw(cases, opts, log) {
  const wanted = new Map();
  for (const c of cases) if (c.cpp) wanted.set(c.cpp, opts.quick ? c.iters.quick : c.iters.full);
  if (wanted.size === 0) return { skipped: 'no C++ snippets selected' };
  const build = buildRaw(log);
  if (build.skipped) return build;
  const specs = [...wanted].map(([s, iters]) => `${s}:${iters}:${opts.reps}:${warmupRuns(opts)}`);
  log(`raw C++ (${build.binary}): ${[...wanted.keys()].join(', ')}`);
  const r = spawnSync(build.bin, ['--threads', String(opts.threads), ...specs], {
    env: blasEnv(opts.threads),
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 16 << 20,
  });
  const { bin, ...buildInfo } = build;
  if (r.error || r.status !== 0) {
    return { ...buildInfo, skipped: `raw_bench failed (${r.error ? r.error.message : firstLines(r.stderr)})` };
  }
  try {
    return { ...buildInfo, ...JSON.parse(r.stdout.trim().split('\n').pop()) };
  } catch {
    return { ...buildInfo, skipped: `raw_bench printed no JSON (${firstLines(r.stdout)})` };
  }
}

// ---- onnxruntime-node -----------------------------------------------------------------------
/** The ONNX models of bench/onnx_export.py, exported again when the scripts or torch change. */
function exportOnnx(log) {
  const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : firstLines(probe.stderr, 2).slice(-200);
    return { skipped: `\`${PYTHON} -c 'import torch'\` failed (${why}), so no ONNX export` };
  }
  const torchVersion = probe.stdout.trim();
  const script = path.join(__dirname, 'onnx_export.py');
  // onnx_export.py imports the model class and fill_params from torch_bench.py
  const key = sha(
    [script, path.join(__dirname, 'torch_bench.py')].map((f) => fs.readFileSync(f, 'utf8')).join('\0') + torchVersion,
  );
  const dir = path.join(OUT, `onnx-${key}`);
  const info = { models: path.relative(ROOT, dir), exportedWith: `torch ${torchVersion}` };
  if (fs.existsSync(path.join(dir, 'manifest.json'))) return { ...info, dir, cached: true };
  log(`exporting the ONNX models (bench/onnx_export.py; cached in ${info.models}/ afterwards)...`);
  const tmp = `${dir}.tmp${process.pid}`;
  const r = spawnSync(PYTHON, [script, tmp], { encoding: 'utf8', timeout: 600_000 });
  if (r.error || r.status !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    return { skipped: `onnx_export.py failed (${r.error ? r.error.message : firstLines(r.stderr)})` };
  }
  fs.renameSync(tmp, dir);
  for (const f of fs.readdirSync(OUT)) {
    if (f.startsWith('onnx-') && f !== path.basename(dir))
      fs.rmSync(path.join(OUT, f), { recursive: true, force: true });
  }
  return { ...info, dir, cached: false };
}

let onnxExport = null; // once per invocation
function runOnnx(cases, opts, log) {
  const wanted = new Map();
  for (const c of cases) if (c.onnx) wanted.set(c.onnx, opts.quick ? c.iters.quick : c.iters.full);
  if (wanted.size === 0) return { skipped: 'no onnxruntime snippets selected' };
  try {
    require.resolve('onnxruntime-node');
  } catch {
    return { skipped: 'onnxruntime-node is not installed (a devDependency: `npm ci`)' };
  }
  if (!onnxExport) onnxExport = exportOnnx(log);
  if (onnxExport.skipped) return onnxExport;
  const { dir, ...exportInfo } = onnxExport;
  const specs = [...wanted].map(([s, iters]) => `${s}:${iters}:${opts.reps}:${warmupRuns(opts)}`);
  log(`onnxruntime-node (bench/ort_bench.js): ${[...wanted.keys()].join(', ')}`);
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', path.join(__dirname, 'ort_bench.js'), '--threads', String(opts.threads), '--models', dir, ...specs],
    { encoding: 'utf8', timeout: 600_000, maxBuffer: 16 << 20 },
  );
  if (r.error || r.status !== 0) {
    return { ...exportInfo, skipped: `ort_bench.js failed (${r.error ? r.error.message : firstLines(r.stderr)})` };
  }
  try {
    return { ...exportInfo, ...JSON.parse(r.stdout.trim().split('\n').pop()) };
  } catch {
    return { ...exportInfo, skipped: `ort_bench.js printed no JSON (${firstLines(r.stdout)})` };
  }
}

// ---- memory (child processes) --------------------------------------------------------------
function runMemory(m, opts, log) {
  const args = [...m.args, '--threads', String(opts.threads)];
  if (opts.quick) {
    const i = args.indexOf('--iters');
    args[i + 1] = String(Math.min(Number(args[i + 1]), 200_000));
  }
  log(`memory: ${m.name} (child process: node bench/memory.js ${args.join(' ')})`);
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, 'memory.js'), ...args], {
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 16 << 20,
  });
  if (r.error || r.status !== 0) {
    return { skipped: `memory.js failed (${r.error ? r.error.message : firstLines(r.stderr)})` };
  }
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return { skipped: `memory.js printed no JSON (${firstLines(r.stdout)})` };
  }
}

// ---- output checks -------------------------------------------------------------------------
/** Compares checksum lists: null when either is missing, else { ok, maxRel }. */
function compareChecks(a, b) {
  if (!Array.isArray(a) || !Array.isArray(b)) return null;
  if (a.length !== b.length) return { ok: false, maxRel: Infinity };
  let maxRel = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i],
      y = b[i];
    if (typeof x !== 'number' || typeof y !== 'number' || !Number.isFinite(x) || !Number.isFinite(y))
      return { ok: false, maxRel: Infinity };
    maxRel = Math.max(maxRel, Math.abs(x - y) / Math.max(1, Math.abs(x), Math.abs(y)));
  }
  return { ok: maxRel <= CHECK_TOL, maxRel };
}

const fmtChecks = (xs) =>
  Array.isArray(xs)
    ? `[${xs.map((x) => (typeof x === 'number' ? x.toPrecision(8) : String(x))).join(', ')}]`
    : String(xs?.error ? `error: ${xs.error}` : xs);

// ---- formatting ----------------------------------------------------------------------------
function fmtTime(ns, kind) {
  if (ns === undefined || ns === null || !Number.isFinite(ns)) return '—';
  if (kind === 'op') return `${(ns / 1000).toFixed(3)} µs`;
  if (kind === 'step') return `${(ns / 1e6).toFixed(3)} ms`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(3)} ms`;
  return `${(ns / 1000).toFixed(1)} µs`;
}

function fmtCell(ns, c) {
  if (ns === undefined || ns === null) return 'n/a';
  if (c.kind === 'copy') return `${fmtTime(ns, 'copy')} (${(c.bytes / ns).toFixed(2)} GB/s)`;
  return fmtTime(ns, c.kind);
}

const ratio = (a, b) => (a !== undefined && b !== undefined && b > 0 ? (a / b).toFixed(2) : 'n/a');
const mark = (ok) => (ok === undefined ? '?' : ok ? 'PASS' : 'FAIL');
const fmtMB = (x) => `${x.toFixed(1)} MB`;

const plural = (n, w) => `${n} ${w}${n === 1 ? '' : 's'}`;

/** The table and its notes for one thread count. */
function buildRunReport(res, run) {
  const L = [];
  const thr = run.threads;
  const e = res.env;
  const offCol = run.fastPath.length > 1;
  const main = run.fastPath[0] === 'off' ? 'torch-napi (fast path off)' : 'torch-napi';
  L.push(
    `### ${plural(thr, 'thread')} — ${e.date.slice(0, 10)}, ${e.cpu} (${e.cores} cores), Node ${e.node}, ` +
      `libtorch ${e.libtorch}${run.onnx.version ? `, onnxruntime-node ${run.onnx.version}` : ''}`,
  );
  L.push('');
  const rounds =
    res.options.rounds > 1 ? ` in ${res.options.rounds} rounds (each with its own warm-up)` : ' after a warm-up';
  L.push(
    `Median of ${res.options.reps} timed runs${rounds}; time per call; ratios = torch-napi / other (lower is better). ` +
      `All four use ${plural(thr, 'intra-op thread')} (\`torch.setNumThreads(${thr})\`, \`torch.set_num_threads(${thr})\`, ` +
      `\`at::set_num_threads(${thr})\`, \`intraOpNumThreads: ${thr}\`); OpenBLAS, which runs the libtorch GEMMs, ` +
      `as many (\`setNumThreads\` sets it; \`OPENBLAS_NUM_THREADS=${thr}\` for PyTorch and raw C++).` +
      (offCol
        ? ' "fast path off": the same torch-napi rows with `torch.backends.fastPath(false)` (libtorch\'s reference ops).'
        : ''),
  );
  L.push('');
  const head = [main, ...(offCol ? ['fast path off'] : []), 'PyTorch', 'raw C++', 'onnxruntime'];
  L.push(`| benchmark | ${head.join(' | ')} | vs PyTorch | vs raw C++ | vs onnxruntime |`);
  L.push(`|---|${head.map(() => '---:').join('|')}|---:|---:|---:|`);
  for (const r of run.rows) {
    const c = { kind: r.kind, bytes: r.bytes };
    const cells = [r.node, ...(offCol ? [r.nodeOff] : []), r.python, r.cpp, r.onnx].map((x) => fmtCell(x, c));
    L.push(
      `| ${r.label} | ${cells.join(' | ')} | ${ratio(r.node, r.python)} | ${ratio(r.node, r.cpp)} | ${ratio(r.node, r.onnx)} |`,
    );
  }
  L.push('');
  const notes = [];
  if (run.rows.some((r) => r.kind === 'op')) {
    notes.push(
      'PyTorch and raw C++ free each result when it is overwritten / goes out of scope, so their one add number serves the dispose, tidy and GC-only rows alike.',
    );
  }
  for (const r of run.rows.filter((x) => x.gcOnly && x.pendingAfterRun > 0)) {
    notes.push(
      `${r.label}: up to ${r.pendingAfterRun} results were still alive at the end of a timed run (freed later by the GC / FinalizationRegistry, outside the timed loop).`,
    );
  }
  for (const r of run.rows)
    if (r.note) notes.push(`${r.label}: ${r.note}${r.pythonSnippet ? ` (fastest here: \`${r.pythonSnippet}\`)` : ''}.`);
  if (run.rows.some((r) => r.onnx !== undefined)) {
    notes.push(
      'onnxruntime: the same models exported with `torch.onnx.export` (bench/onnx_export.py; the masks are graph inputs), ' +
        `one InferenceSession per row (inter-op threads 1, sequential, all graph optimisations), \`await session.run(feeds)\` per call; "n/a": no ONNX counterpart.`,
    );
  }
  const fusedRows = run.rows.filter((r) => r.fused && Object.values(r.fused).some((n) => n > 0));
  if (run.fastPath[0] === 'on' && run.rows.some((r) => r.onnx !== undefined)) {
    notes.push(
      fusedRows.length
        ? `Fused kernels taken (torch.backends.fastPathStats()): ${fusedRows
            .map(
              (r) =>
                `${r.name} ${Object.entries(r.fused)
                  .filter(([, n]) => n > 0)
                  .map(([k, n]) => `${k} ${n}`)
                  .join(', ')}`,
            )
            .join('; ')}.`
        : "No fused kernel was taken by any row (torch.backends.fastPathStats() unchanged): torch-napi ran libtorch's reference ops throughout.",
    );
  }
  for (const r of run.rows) {
    if (!r.gcOnly && r.pendingAfterRun > 0) {
      notes.push(
        `WARNING: ${r.label}: ${r.pendingAfterRun} more tensors were alive after a timed run than before it (a leak in the benchmark or the library?).`,
      );
    }
  }
  const checked = run.rows.filter((r) => r.checks);
  if (checked.length) {
    const agree = checked.filter((r) => r.checks.agree);
    const cmp = (c) => [c.vsPython, c.vsCpp, c.vsOnnx, c.offVsPython].filter(Boolean);
    const worst = Math.max(0, ...checked.flatMap((r) => cmp(r.checks).map((x) => x.maxRel)));
    notes.push(
      `Same computation: ${agree.length} of ${checked.length} model rows give the same output checksums in every implementation ` +
        `(sum and a position-weighted sum of the outputs — the training step: 3 losses and the parameters after them — ` +
        `on one fixed input with the same weights; tolerance ${CHECK_TOL} relative; largest difference ${worst.toExponential(1)}).`,
    );
    for (const r of checked) {
      if (r.checks.agree) continue;
      const c = r.checks;
      const why = [];
      if (!Array.isArray(c.node)) why.push('torch-napi gave no checksum');
      else {
        if (!c.vsPython) why.push('PyTorch gave no checksum');
        else if (!c.vsPython.ok) why.push(`vs PyTorch ${fmtChecks(c.python)}`);
        if (!c.vsCpp) why.push('raw C++ gave no checksum');
        else if (!c.vsCpp.ok) why.push(`vs raw C++ ${fmtChecks(c.cpp)}`);
        if (c.onnxExpected && !c.vsOnnx) why.push('onnxruntime gave no checksum');
        else if (c.vsOnnx && !c.vsOnnx.ok) why.push(`vs onnxruntime ${fmtChecks(c.onnx)}`);
      }
      if (c.offExpected && !c.offVsPython) why.push('fast path off: no checksum to compare');
      else if (c.offVsPython && !c.offVsPython.ok) why.push(`fast path off ${fmtChecks(c.nodeOff)}`);
      notes.push(`WARNING: ${r.label}: outputs differ — torch-napi ${fmtChecks(c.node)}; ${why.join('; ')}.`);
    }
  }
  if (run.python.skipped) notes.push(`PyTorch column skipped: ${run.python.skipped}.`);
  if (run.cpp.skipped) notes.push(`raw C++ column skipped: ${run.cpp.skipped}.`);
  if (run.onnx.skipped) notes.push(`onnxruntime column skipped: ${run.onnx.skipped}.`);
  for (const [k, v] of Object.entries(run.python.errors || {})) notes.push(`PyTorch snippet ${k} failed: ${v}`);
  for (const [k, v] of Object.entries(run.cpp.errors || {})) notes.push(`C++ snippet ${k} failed: ${v}`);
  for (const [k, v] of Object.entries(run.onnx.errors || {})) notes.push(`onnxruntime snippet ${k} failed: ${v}`);
  for (const n of notes) L.push(`- ${n}`);
  L.push('');
  return L;
}

function buildReport(res) {
  const L = [];
  L.push(`## torch-napi benchmarks${res.options.quick ? ' (--quick)' : ''}`);
  L.push('');
  for (const run of res.runs) if (run.rows.length) L.push(...buildRunReport(res, run));

  if (res.memory.length) {
    L.push(`Memory (each in its own child process, \`node bench/memory.js\`, ${plural(res.memoryThreads, 'thread')}):`);
    L.push('');
    for (const m of res.memory) {
      const d = m.result;
      if (d.skipped) {
        L.push(`- ${m.label}: skipped — ${d.skipped}`);
        continue;
      }
      if (d.addonHash !== res.env.addonHash) {
        L.push(
          `- WARNING: the child process loaded a different addon build (${d.addonHash}) than the benchmarks above (${res.env.addonHash}); it was rebuilt during the run.`,
        );
      }
      const n = d.iters === 1_000_000 ? '' : ` [${d.iters} iterations]`;
      if (m.target === 'tensors') {
        L.push(
          `- ${m.label}${n}: torch.memory().tensors before ${d.tensorsBefore}, after ${d.tensorsAfterLoop} ` +
            `(${d.tensorsBefore === d.tensorsAfterLoop ? 'equal' : 'NOT equal'}); RSS growth ${fmtMB(d.rssGrowthMB)}; ${d.usPerOp.toFixed(3)} µs/op`,
        );
      } else {
        L.push(
          `- ${m.label}${n}: RSS growth ${fmtMB(d.rssGrowthMB)} (before ${fmtMB(d.rssBeforeMB)}, max during ${fmtMB(Math.max(d.rssMaxSampledMB, d.rssPeakMB))}); ` +
            `tensors alive right after the loop ${d.tensorsAfterLoop - d.tensorsBefore}, after a GC ${d.tensorsAfterGc - d.tensorsBefore}; ${d.usPerOp.toFixed(3)} µs/op`,
        );
      }
    }
    L.push('');
  }

  L.push('Targets (from the spec; PASS/FAIL on the medians above):');
  L.push('');
  for (const t of res.targets) L.push(`- ${t}`);
  L.push('');
  const e = res.env;
  const first = res.runs[0] || { python: {}, cpp: {}, onnx: {} };
  L.push(`Date: ${e.date}  `);
  L.push(
    `Machine: ${e.cpu}, ${e.cores} cores, ${e.ramGB.toFixed(1)} GB RAM (${e.platform}); load average at start ${e.loadavg.map((x) => x.toFixed(2)).join(' ')}` +
      `${e.loadavgEnd ? `, at the end ${e.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}` : ''}  `,
  );
  L.push(`Node ${e.node}; torch-napi ${e.torchNapi}; libtorch ${e.libtorch} (BLAS ${e.blas}); addon ${e.addon}  `);
  L.push(
    `Kernel environment: ${e.kernelEnv?.length ? e.kernelEnv.join(' ') : 'none set'}; ` +
      `fused attention GEMMs on oneDNN: ${e.onednnGemm === null ? 'n/a' : e.onednnGemm ? 'yes' : 'no'}  `,
  );
  L.push(
    `PyTorch: ${first.python.version ? `${first.python.version} (Python ${first.python.python}, numpy ${first.python.numpy}, ${PYTHON})` : 'n/a'}; ` +
      `raw C++: ${first.cpp.version ? `libtorch ${first.cpp.version} (${first.cpp.binary})` : 'n/a'}; ` +
      `onnxruntime: ${first.onnx.version ? `onnxruntime-node ${first.onnx.version} (models ${first.onnx.models}, exported with ${first.onnx.exportedWith})` : 'n/a'}  `,
  );
  L.push(`Threads: ${e.threads.join(', ')} (intra-op, in all four); torch-napi fast path: ${res.options.fastPath}`);
  return L.join('\n') + '\n';
}

const OTHER = { python: 'PyTorch', cpp: 'raw C++', onnx: 'onnxruntime' };

function evalTargets(res) {
  const out = [];
  const multi = res.runs.length > 1;
  const oneThread = res.runs.find((r) => r.threads === 1);
  for (const run of res.runs) {
    const tag = multi ? `[${plural(run.threads, 'thread')}] ` : '';
    const push = (s) => out.push(tag + s);
    const row = (name) => run.rows.find((r) => r.name === name);
    const ops = run.rows.filter((r) => r.kind === 'op');
    for (const r of ops) {
      const us = r.node / 1000;
      const over =
        r.cpp !== undefined
          ? ` (raw C++ ${(r.cpp / 1000).toFixed(3)} µs; binding overhead ${((r.node - r.cpp) / 1000).toFixed(3)} µs)`
          : '';
      push(`per-op ≤ ${TARGETS.perOpUs} µs — ${r.label}: ${us.toFixed(3)} µs → ${mark(us <= TARGETS.perOpUs)}${over}`);
    }
    if (!ops.length && !multi) push(`per-op ≤ ${TARGETS.perOpUs} µs — not run`);
    // the generated path (schema-driven dispatcher call) against the hand-written binding of the same op
    for (const r of run.rows.filter((x) => x.generated)) {
      const hand = row(r.generated);
      if (!hand) {
        push(`generated ≤ ${TARGETS.generatedRatio}× hand-written — ${r.label}: ${r.generated} not run`);
        continue;
      }
      const q = r.node / hand.node;
      push(
        `generated ≤ ${TARGETS.generatedRatio}× hand-written — ${r.label}: ${(r.node / 1000).toFixed(3)} µs vs ` +
          `${(hand.node / 1000).toFixed(3)} µs = ${q.toFixed(2)}× → ${mark(q <= TARGETS.generatedRatio)}`,
      );
    }
    for (const name of ['create_1m', 'data_1m']) {
      const r = row(name);
      if (!r) {
        if (!multi) push(`creation/data ≥ ${TARGETS.copyGBs} GB/s — ${name} not run`);
        continue;
      }
      const gbs = r.bytes / r.node;
      push(
        `creation/data ≥ ${TARGETS.copyGBs} GB/s — ${r.label}: ${gbs.toFixed(2)} GB/s → ${mark(gbs >= TARGETS.copyGBs)}`,
      );
    }
    for (const r of run.rows) {
      for (const t of r.targets || []) {
        if (t.vs === 'abs') {
          const us = r.node / 1000;
          push(`${t.text} — ${r.label}: ${fmtTime(r.node, r.kind)} → ${mark(us <= t.maxUs)}`);
          continue;
        }
        if (t.vs === '1 thread') {
          // only where this run has more threads and a 1-thread run of the same row exists
          if (run.threads === 1) continue;
          const base = oneThread?.rows.find((x) => x.name === r.name);
          if (!base) {
            push(`${t.text} — ${r.label}: no 1-thread run (\`--threads 1,${run.threads}\`) → ?`);
            continue;
          }
          const q = r.node / base.node;
          push(
            `${t.text} — ${r.label}: ${q.toFixed(2)}× the 1-thread time (${fmtTime(r.node, r.kind)} vs ${fmtTime(base.node, r.kind)}) → ${mark(q < t.max)}`,
          );
          continue;
        }
        const other = r[t.vs];
        const name = OTHER[t.vs];
        if (other === undefined) {
          push(`${t.text} — ${r.label}: no ${name} number → ?`);
          continue;
        }
        const q = r.node / other;
        push(
          `${t.text} — ${r.label}: ${q.toFixed(2)}× ${name} (${fmtTime(r.node, r.kind)} vs ${fmtTime(other, r.kind)}) → ${mark(q <= t.max)}`,
        );
      }
    }
  }
  const rss = res.memory.find((m) => m.target === 'rss');
  if (rss && !rss.result.skipped) {
    const quickNote = rss.result.iters !== 1_000_000 ? ` [only ${rss.result.iters} iterations with --quick]` : '';
    out.push(
      `1M-loop RSS growth < ${TARGETS.rssGrowthMB} MB — ${fmtMB(rss.result.rssGrowthMB)} → ${mark(rss.result.rssGrowthMB < TARGETS.rssGrowthMB)}${quickNote}`,
    );
  } else
    out.push(`1M-loop RSS growth < ${TARGETS.rssGrowthMB} MB — ${rss ? `skipped (${rss.result.skipped})` : 'not run'}`);
  const tidy = res.memory.find((m) => m.target === 'tensors');
  if (tidy && !tidy.result.skipped) {
    const d = tidy.result;
    out.push(
      `tidy returns the tensor count exactly — before ${d.tensorsBefore}, after ${d.tensorsAfterLoop} → ${mark(d.tensorsBefore === d.tensorsAfterLoop)}`,
    );
  } else out.push(`tidy returns the tensor count exactly — ${tidy ? `skipped (${tidy.result.skipped})` : 'not run'}`);
  return out;
}

// ---- one thread count ----------------------------------------------------------------------
/** Every selected case at opts.threads threads, in opts.rounds rounds; the rows of one table. */
async function measure(torch, cases, opts, log) {
  torch.setNumThreads(opts.threads);
  const threads = torch.getNumThreads();
  const variants = opts.fastPath === 'both' ? ['on', 'off'] : [opts.fastPath];
  const hasSwitch = typeof torch.backends?.fastPath === 'function';
  const initialFastPath = hasSwitch ? torch.backends.fastPath() : true;
  // Per round: torch-napi first, in this process (with the fast path on, then off for the
  // inference model rows under --fast-path both); then the others, one at a time (nothing runs in
  // parallel). Samples of all rounds are pooled; checks come from the first round.
  const nodeRes = { on: {}, off: {} };
  let python = null,
    cpp = null,
    onnx = null;
  const mergeOther = (acc, r) => {
    if (!acc) return { ...r, results: { ...(r.results || {}) } };
    for (const [k, v] of Object.entries(r.results || {})) acc.results[k] = (acc.results[k] || []).concat(v);
    acc.errors = { ...(r.errors || {}), ...(acc.errors || {}) };
    if (r.skipped && !acc.skipped) acc.skipped = r.skipped;
    return acc;
  };
  for (let round = 0; round < opts.rounds && cases.length; round++) {
    // Spread opts.reps over the rounds: the first (opts.reps % rounds) rounds take one more.
    const reps = Math.floor(opts.reps / opts.rounds) + (round < opts.reps % opts.rounds ? 1 : 0);
    const ropts = { ...opts, reps, threads };
    for (const v of variants) {
      // the second variant (fast path off) re-runs only the inference models (the rows with an ONNX twin)
      const vcases = v === variants[0] ? cases : cases.filter((c) => c.onnx);
      if (!vcases.length) continue;
      if (hasSwitch) torch.backends.fastPath(v === 'on');
      else if (v === 'off') {
        log('torch.backends.fastPath is missing in this build: no fast-path-off runs');
        continue;
      }
      log(
        `round ${round + 1}/${opts.rounds}, ${plural(threads, 'thread')}: torch-napi, fast path ${v} (${reps} runs each${opts.quick ? ', --quick' : ''}):`,
      );
      for (const c of vcases) {
        // the model rows each in a child process of their own; the per-op rows here, in the warm
        // process a long-running program is (its heap grown, as the others' per-op loops have it)
        const child = !opts.inProcess && c.kind === 'step';
        const r = child ? runNodeChild(c, ropts, v, log) : await runNode(torch, c, ropts, log);
        const acc = nodeRes[v][c.name];
        nodeRes[v][c.name] = acc
          ? {
              ...acc,
              samples: acc.samples.concat(r.samples),
              pendingAfterRun: Math.max(acc.pendingAfterRun, r.pendingAfterRun),
              fused:
                acc.fused &&
                r.fused &&
                Object.fromEntries(Object.keys(acc.fused).map((k) => [k, acc.fused[k] + r.fused[k]])),
            }
          : r;
      }
    }
    if (hasSwitch) torch.backends.fastPath(initialFastPath);
    python = mergeOther(python, runPython(cases, ropts, log));
    cpp = mergeOther(cpp, runRaw(cases, ropts, log));
    onnx = mergeOther(onnx, runOnnx(cases, ropts, log));
  }
  if (!python) python = { skipped: 'no benchmarks selected' };
  if (!cpp) cpp = { skipped: 'no benchmarks selected' };
  if (!onnx) onnx = { skipped: 'no benchmarks selected' };

  const primary = nodeRes[variants[0]];
  const off = variants.length > 1 ? nodeRes.off : null;
  const rows = cases.map((c) => {
    const nr = primary[c.name];
    const offRes = off?.[c.name];
    let py, pySnippet;
    for (const s of pythonSnippets(c)) {
      const samples = python.results?.[s];
      if (!samples) continue;
      const m = median(samples);
      if (py === undefined || m < py) {
        py = m;
        pySnippet = s;
      }
    }
    const cppSamples = c.cpp && cpp.results?.[c.cpp];
    const onnxSamples = c.onnx && onnx.results?.[c.onnx];
    let checks;
    if (nr.check !== undefined) {
      const pyCheck = python.checks ? python.checks[pySnippet || pythonSnippets(c)[0]] : undefined;
      const cppCheck = c.cpp && cpp.checks ? cpp.checks[c.cpp] : undefined;
      const onnxCheck = c.onnx && onnx.checks ? onnx.checks[c.onnx] : undefined;
      const vsPython = compareChecks(nr.check, pyCheck),
        vsCpp = compareChecks(nr.check, cppCheck),
        vsOnnx = compareChecks(nr.check, onnxCheck);
      const offVsPython = offRes ? compareChecks(offRes.check, pyCheck) : null;
      // onnxruntime counts where the row has an ONNX twin and the column ran at all
      const onnxExpected = !!c.onnx && !onnx.skipped;
      checks = {
        node: nr.check,
        python: pyCheck,
        cpp: cppCheck,
        onnx: onnxCheck,
        nodeOff: offRes?.check,
        vsPython,
        vsCpp,
        vsOnnx,
        offVsPython,
        onnxExpected,
        offExpected: !!offRes,
        agree: !!(vsPython?.ok && vsCpp?.ok && (!onnxExpected || vsOnnx?.ok) && (!offRes || offVsPython?.ok)),
      };
      if (!checks.agree)
        log(
          `WARNING: ${c.name} (${plural(threads, 'thread')}): outputs differ between the implementations (see the report)`,
        );
    }
    return {
      name: c.name,
      label: c.label,
      kind: c.kind,
      bytes: c.bytes,
      note: c.note,
      gcOnly: !!c.gcOnly,
      iters: nr.iters,
      node: median(nr.samples),
      nodeSamples: nr.samples,
      nodeOff: offRes ? median(offRes.samples) : undefined,
      nodeOffSamples: offRes?.samples,
      fused: nr.fused || undefined,
      pendingAfterRun: Math.max(nr.pendingAfterRun, offRes ? offRes.pendingAfterRun : 0),
      python: py,
      pythonSnippet: pythonSnippets(c).length > 1 ? pySnippet : undefined,
      pythonSamples: pySnippet ? python.results[pySnippet] : undefined,
      cpp: cppSamples ? median(cppSamples) : undefined,
      cppSamples: cppSamples || undefined,
      onnx: onnxSamples ? median(onnxSamples) : undefined,
      onnxSamples: onnxSamples || undefined,
      unit: 'ns per call',
      targets: c.targets,
      generated: c.generated,
      checks,
    };
  });
  const strip = (x) => ({ ...x, results: undefined, checks: undefined });
  return { threads, fastPath: variants, rows, python: strip(python), cpp: strip(cpp), onnx: strip(onnx) };
}

// ---- main ----------------------------------------------------------------------------------
function runAllreduce(opts, log) {
  log('allreduce: bench/allreduce.js');
  const args = [
    path.join(__dirname, 'allreduce.js'),
    '--json',
    '--iters',
    opts.quick ? '10' : '30',
    '--rounds',
    opts.quick ? '1' : '3',
  ];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 600_000 });
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return { error: `bench/allreduce.js failed (${firstLines(r.stderr || r.stdout)})` };
  }
}

function allreduceLine(a) {
  if (!a) return '';
  if (a.error || !a.ratio) return `\nallReduce 10 MB, 2 ranks: ${a.error ?? JSON.stringify(a)}\n`;
  const ms = (x) => `${x.medianMs.toFixed(2)} ms`;
  return `\nallReduce 10 MB float32, 2 local ranks (Gloo): torch-napi ${ms(a.node)}, PyTorch ${ms(a.python)}: ${a.ratio.toFixed(2)}x (target <= 1.1x)\n`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.nodeCase) return nodeCaseMain(opts);
  const log = opts.json ? () => {} : (s) => process.stderr.write(`${s}\n`);
  const all = [...CASES.map((c) => c.name), ...MEMORY_CASES.map((m) => m.name), 'allreduce'];
  if (new Set(all).size !== all.length) fail('bench/cases.js: duplicate benchmark names');
  if (opts.only) {
    const unknown = opts.only.filter((p) => !all.some((n) => selected(n, [p])));
    if (unknown.length) fail(`--only: no benchmark named ${unknown.join(', ')} (known: ${all.join(', ')})`);
  }
  const cases = CASES.filter((c) => selected(c.name, opts.only));
  const memCases = MEMORY_CASES.filter((m) => selected(m.name, opts.only));
  fs.mkdirSync(OUT, { recursive: true });

  const started = Date.now();
  const torch = require(ROOT);
  const addonPath = path.join(ROOT, 'build', 'Release', 'torch_napi.node');
  let addon = 'n/a',
    addonHash = null;
  try {
    const st = fs.statSync(addonPath);
    addonHash = sha(fs.readFileSync(addonPath), 10);
    addon = `build/Release/torch_napi.node (${addonHash}, built ${st.mtime.toISOString()})`;
  } catch {
    /* a prebuild, or another layout */
  }
  const cfg = torch.config();
  const env = {
    date: new Date().toISOString(),
    cpu: os.cpus()[0].model.trim(),
    cores: os.cpus().length,
    ramGB: os.totalmem() / 2 ** 30,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg(),
    node: process.version,
    torchNapi: torch.version,
    libtorch: torch.libtorchVersion,
    blas: cfg.blas,
    // The variables that choose the math kernels (OPENBLAS_CORETYPE=Haswell, say, forces OpenBLAS's
    // AVX2 kernels on an AVX-512 CPU): they change the libtorch columns, so the report names them.
    kernelEnv: Object.entries(process.env)
      .filter(([k]) => /^(OPENBLAS_|GOTO|OMP_|GOMP_|KMP_|MKL_|ONEDNN_|DNNL_)/.test(k))
      .map(([k, v]) => `${k}=${v}`)
      .sort(),
    onednnGemm: cfg.onednnGemm ?? null,
    addon,
    threads: opts.threads,
    addonHash,
  };

  const runs = [];
  for (const threads of opts.threads) runs.push(await measure(torch, cases, { ...opts, threads }, log));
  // the memory checks once, at the first thread count
  const memoryThreads = opts.threads[0];
  const memory = memCases.map((m) => ({
    name: m.name,
    label: m.label,
    target: m.target,
    result: runMemory(m, { ...opts, threads: memoryThreads }, log),
  }));

  // torch.distributed: bench/allreduce.js (2 ranks as child processes, against PyTorch's), once
  const allreduce = selected('allreduce', opts.only) ? runAllreduce(opts, log) : undefined;

  env.loadavgEnd = os.loadavg();
  const res = {
    options: opts,
    env,
    runs,
    memory,
    memoryThreads,
    allreduce,
    seconds: (Date.now() - started) / 1000,
  };
  res.targets = evalTargets(res);
  const md = buildReport(res) + allreduceLine(allreduce) + `\nTotal benchmark time: ${res.seconds.toFixed(1)} s\n`;
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(res, null, 2) + '\n');
  fs.writeFileSync(path.join(OUT, 'results.md'), md);
  if (opts.json) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
  else process.stdout.write('\n' + md);
}

main().catch((e) => {
  process.stderr.write(`bench: ${e?.stack ? e.stack : e}\n`);
  process.exit(1);
});
