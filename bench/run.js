#!/usr/bin/env node
// `npm run bench`: torch-napi against PyTorch (Python) and raw libtorch (C++) on the same
// libtorch, plus memory checks. Prints a markdown table; writes bench/out/results.json and
// bench/out/results.md.
//
//   node bench/run.js [--quick] [--json] [--only name[,name...]] [--threads N] [--reps N] [--rounds N]
//
//   --quick    fewer calls and repetitions (a CI smoke run, under a minute)
//   --json     print only the results as JSON
//   --only     run only these benchmarks (names from bench/cases.js; `*` at the end matches a prefix)
//   --threads  libtorch intra-op threads in all three (default 1)
//   --reps     timed repetitions per benchmark (default 11; 3 with --quick)
//   --rounds   split the repetitions into this many rounds (default 3), each running every
//              benchmark in torch-napi, then PyTorch, then raw C++
//
// Method: each benchmark builds its inputs once, runs one untimed warm-up, then `reps` timed
// runs of `iters` calls each (process.hrtime.bigint() around the whole run); the table shows the
// median run. A GC and a turn of the event loop separate the runs. The machine may be busy, so
// medians, not minimums or means, are reported; every sample is in results.json. The runs are
// spread over `rounds` rounds (each: all of torch-napi, then PyTorch, then raw C++, with a fresh
// setup and warm-up), so that a burst of load from elsewhere does not land on one
// implementation alone.
//
// Cases with a check (the models) first compute output checksums on one fixed input with the same
// weights in all three implementations; the report says whether they agree (to 1e-4, relative)
// and prints a WARNING line for each that does not.

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
        reps: { type: 'string' },
        rounds: { type: 'string' },
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
    threads: values.threads === undefined ? 1 : positiveInt('--threads', values.threads),
    reps: values.reps === undefined ? (values.quick ? 3 : 11) : positiveInt('--reps', values.reps),
    rounds: values.rounds === undefined ? 3 : positiveInt('--rounds', values.rounds),
  };
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
async function runNode(torch, c, opts, log) {
  const iters = opts.quick ? c.iters.quick : c.iters.full;
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
    bench.run(iters); // warm-up
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
    return { samples, iters, pendingAfterRun, check };
  } finally {
    if (bench.teardown) bench.teardown();
    await settle();
  }
}

// ---- PyTorch -------------------------------------------------------------------------------
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
  const specs = [...wanted].map(([s, iters]) => `${s}:${iters}:${opts.reps}:1`);
  log(`PyTorch (${PYTHON}): ${[...wanted.keys()].join(', ')}`);
  const r = spawnSync(PYTHON, [path.join(__dirname, 'torch_bench.py'), '--threads', String(opts.threads), ...specs], {
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
  const specs = [...wanted].map(([s, iters]) => `${s}:${iters}:${opts.reps}:1`);
  log(`raw C++ (${build.binary}): ${[...wanted.keys()].join(', ')}`);
  const r = spawnSync(build.bin, ['--threads', String(opts.threads), ...specs], {
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

function buildReport(res) {
  const L = [];
  const thr = res.env.threads;
  L.push(`## torch-napi benchmarks${res.options.quick ? ' (--quick)' : ''}`);
  L.push('');
  if (res.rows.length) {
    const rounds =
      res.options.rounds > 1 ? ` in ${res.options.rounds} rounds (each with its own warm-up)` : ' after a warm-up';
    L.push(
      `Median of ${res.options.reps} timed runs${rounds}; time per call; ratios = torch-napi / other (lower is better). ` +
        `All three use ${thr} libtorch thread${thr === 1 ? '' : 's'} (\`torch.setNumThreads(${thr})\`, \`torch.set_num_threads(${thr})\`, \`at::set_num_threads(${thr})\`).`,
    );
    L.push('');
    L.push('| benchmark | torch-napi | PyTorch | raw C++ | vs PyTorch | vs raw C++ |');
    L.push('|---|---:|---:|---:|---:|---:|');
    for (const r of res.rows) {
      const c = { kind: r.kind, bytes: r.bytes };
      L.push(
        `| ${r.label} | ${fmtCell(r.node, c)} | ${fmtCell(r.python, c)} | ${fmtCell(r.cpp, c)} | ` +
          `${ratio(r.node, r.python)} | ${ratio(r.node, r.cpp)} |`,
      );
    }
    L.push('');
    const notes = [];
    if (res.rows.some((r) => r.kind === 'op')) {
      notes.push(
        'PyTorch and raw C++ free each result when it is overwritten / goes out of scope, so their one add number serves the dispose, tidy and GC-only rows alike.',
      );
    }
    const pend = res.rows.filter((r) => r.gcOnly && r.pendingAfterRun > 0);
    for (const r of pend) {
      notes.push(
        `${r.label}: up to ${r.pendingAfterRun} results were still alive at the end of a timed run (freed later by the GC / FinalizationRegistry, outside the timed loop).`,
      );
    }
    for (const r of res.rows)
      if (r.note)
        notes.push(`${r.label}: ${r.note}${r.pythonSnippet ? ` (fastest here: \`${r.pythonSnippet}\`)` : ''}.`);
    for (const r of res.rows) {
      if (!r.gcOnly && r.pendingAfterRun > 0) {
        notes.push(
          `WARNING: ${r.label}: ${r.pendingAfterRun} more tensors were alive after a timed run than before it (a leak in the benchmark or the library?).`,
        );
      }
    }
    const checked = res.rows.filter((r) => r.checks);
    if (checked.length) {
      const agree = checked.filter((r) => r.checks.agree);
      const worst = Math.max(
        0,
        ...checked.map((r) =>
          Math.max(r.checks.vsPython ? r.checks.vsPython.maxRel : 0, r.checks.vsCpp ? r.checks.vsCpp.maxRel : 0),
        ),
      );
      notes.push(
        `Same computation: ${agree.length} of ${checked.length} model rows give the same output checksums in all three ` +
          `(sum and a position-weighted sum of the outputs — the training step: 3 losses and the parameters after them — ` +
          `on one fixed input with the same weights; tolerance ${CHECK_TOL} relative; largest difference ${worst.toExponential(1)}).`,
      );
      for (const r of checked) {
        if (r.checks.agree) continue;
        const c = r.checks;
        const why = [];
        if (!Array.isArray(c.node)) why.push('torch-napi gave no checksum');
        else if (!c.vsPython) why.push('PyTorch gave no checksum');
        else if (!c.vsPython.ok) why.push(`vs PyTorch ${fmtChecks(c.python)}`);
        if (!Array.isArray(c.node)) {
          /* nothing to compare */
        } else if (!c.vsCpp) why.push('raw C++ gave no checksum');
        else if (!c.vsCpp.ok) why.push(`vs raw C++ ${fmtChecks(c.cpp)}`);
        notes.push(`WARNING: ${r.label}: outputs differ — torch-napi ${fmtChecks(c.node)}; ${why.join('; ')}.`);
      }
    }
    if (res.python.skipped) notes.push(`PyTorch column skipped: ${res.python.skipped}.`);
    if (res.cpp.skipped) notes.push(`raw C++ column skipped: ${res.cpp.skipped}.`);
    for (const [k, v] of Object.entries(res.python.errors || {})) notes.push(`PyTorch snippet ${k} failed: ${v}`);
    for (const [k, v] of Object.entries(res.cpp.errors || {})) notes.push(`C++ snippet ${k} failed: ${v}`);
    for (const n of notes) L.push(`- ${n}`);
    L.push('');
  }

  if (res.memory.length) {
    L.push('Memory (each in its own child process, `node bench/memory.js`):');
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

  L.push('Targets (from the spec):');
  L.push('');
  for (const t of res.targets) L.push(`- ${t}`);
  L.push('');
  const e = res.env;
  L.push(`Date: ${e.date}  `);
  L.push(
    `Machine: ${e.cpu}, ${e.cores} cores, ${e.ramGB.toFixed(1)} GB RAM (${e.platform}); load average at start ${e.loadavg.map((x) => x.toFixed(2)).join(' ')}` +
      `${e.loadavgEnd ? `, at the end ${e.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}` : ''}  `,
  );
  L.push(`Node ${e.node}; torch-napi ${e.torchNapi}; libtorch ${e.libtorch} (BLAS ${e.blas}); addon ${e.addon}  `);
  L.push(
    `PyTorch: ${res.python.version ? `${res.python.version} (Python ${res.python.python}, numpy ${res.python.numpy}, ${PYTHON})` : 'n/a'}; ` +
      `raw C++: ${res.cpp.version ? `libtorch ${res.cpp.version} (${res.cpp.binary})` : 'n/a'}  `,
  );
  L.push(`Threads: ${e.threads} (intra-op, in all three)`);
  return L.join('\n') + '\n';
}

function evalTargets(res) {
  const out = [];
  const row = (name) => res.rows.find((r) => r.name === name);
  const ops = res.rows.filter((r) => r.kind === 'op');
  if (ops.length) {
    for (const r of ops) {
      const us = r.node / 1000;
      const over =
        r.cpp !== undefined
          ? ` (raw C++ ${(r.cpp / 1000).toFixed(3)} µs; binding overhead ${((r.node - r.cpp) / 1000).toFixed(3)} µs)`
          : '';
      out.push(
        `per-op ≤ ${TARGETS.perOpUs} µs — ${r.label}: ${us.toFixed(3)} µs → ${mark(us <= TARGETS.perOpUs)}${over}`,
      );
    }
  } else out.push(`per-op ≤ ${TARGETS.perOpUs} µs — not run`);
  // the generated path (schema-driven dispatcher call) against the hand-written binding of the same op
  for (const r of res.rows.filter((x) => x.generated)) {
    const hand = row(r.generated);
    if (!hand) {
      out.push(`generated ≤ ${TARGETS.generatedRatio}× hand-written — ${r.label}: ${r.generated} not run`);
      continue;
    }
    const ratio = r.node / hand.node;
    out.push(
      `generated ≤ ${TARGETS.generatedRatio}× hand-written — ${r.label}: ${(r.node / 1000).toFixed(3)} µs vs ` +
        `${(hand.node / 1000).toFixed(3)} µs = ${ratio.toFixed(2)}× → ${mark(ratio <= TARGETS.generatedRatio)}`,
    );
  }
  for (const name of ['create_1m', 'data_1m']) {
    const r = row(name);
    if (!r) {
      out.push(`creation/data ≥ ${TARGETS.copyGBs} GB/s — ${name} not run`);
      continue;
    }
    const gbs = r.bytes / r.node;
    out.push(
      `creation/data ≥ ${TARGETS.copyGBs} GB/s — ${r.label}: ${gbs.toFixed(2)} GB/s → ${mark(gbs >= TARGETS.copyGBs)}`,
    );
  }
  for (const r of res.rows) {
    for (const t of r.targets || []) {
      const other = t.vs === 'cpp' ? r.cpp : r.python;
      const name = t.vs === 'cpp' ? 'raw C++' : 'PyTorch';
      if (other === undefined) {
        out.push(`${t.text} — ${r.label}: no ${name} number → ?`);
        continue;
      }
      const q = r.node / other;
      out.push(
        `${t.text} — ${r.label}: ${q.toFixed(2)}× ${name} (${fmtTime(r.node, r.kind)} vs ${fmtTime(other, r.kind)}) → ${mark(q <= t.max)}`,
      );
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

// ---- main ----------------------------------------------------------------------------------
async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const log = opts.json ? () => {} : (s) => process.stderr.write(`${s}\n`);
  const all = [...CASES.map((c) => c.name), ...MEMORY_CASES.map((m) => m.name)];
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
  torch.setNumThreads(opts.threads);
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
    addon,
    threads: torch.getNumThreads(),
    addonHash,
  };

  // Per round: torch-napi first, in this process; then the others, one at a time (nothing runs
  // in parallel). Samples of all rounds are pooled; checks come from the first round.
  const nodeRes = {};
  let python = null,
    cpp = null;
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
    const ropts = { ...opts, reps };
    log(`round ${round + 1}/${opts.rounds}: torch-napi (${reps} runs each${opts.quick ? ', --quick' : ''}):`);
    for (const c of cases) {
      const r = await runNode(torch, c, ropts, log);
      const acc = nodeRes[c.name];
      nodeRes[c.name] = acc
        ? {
            ...acc,
            samples: acc.samples.concat(r.samples),
            pendingAfterRun: Math.max(acc.pendingAfterRun, r.pendingAfterRun),
          }
        : r;
    }
    python = mergeOther(python, runPython(cases, ropts, log));
    cpp = mergeOther(cpp, runRaw(cases, ropts, log));
  }
  if (!python) python = { skipped: 'no benchmarks selected' };
  if (!cpp) cpp = { skipped: 'no benchmarks selected' };
  const memory = memCases.map((m) => ({
    name: m.name,
    label: m.label,
    target: m.target,
    result: runMemory(m, opts, log),
  }));

  const rows = cases.map((c) => {
    const nr = nodeRes[c.name];
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
    let checks;
    if (nr.check !== undefined) {
      const pyCheck = python.checks ? python.checks[pySnippet || pythonSnippets(c)[0]] : undefined;
      const cppCheck = c.cpp && cpp.checks ? cpp.checks[c.cpp] : undefined;
      const vsPython = compareChecks(nr.check, pyCheck),
        vsCpp = compareChecks(nr.check, cppCheck);
      checks = {
        node: nr.check,
        python: pyCheck,
        cpp: cppCheck,
        vsPython,
        vsCpp,
        agree: !!(vsPython?.ok && vsCpp?.ok),
      };
      if (!checks.agree) log(`WARNING: ${c.name}: outputs differ between the implementations (see the report)`);
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
      pendingAfterRun: nr.pendingAfterRun,
      python: py,
      pythonSnippet: pythonSnippets(c).length > 1 ? pySnippet : undefined,
      pythonSamples: pySnippet ? python.results[pySnippet] : undefined,
      cpp: cppSamples ? median(cppSamples) : undefined,
      cppSamples: cppSamples || undefined,
      unit: 'ns per call',
      targets: c.targets,
      generated: c.generated,
      checks,
    };
  });

  env.loadavgEnd = os.loadavg();
  const res = {
    options: opts,
    env,
    rows,
    memory,
    python: { ...python, results: undefined, checks: undefined },
    cpp: { ...cpp, results: undefined, checks: undefined },
    seconds: (Date.now() - started) / 1000,
  };
  res.targets = evalTargets(res);
  const md = buildReport(res) + `\nTotal benchmark time: ${res.seconds.toFixed(1)} s\n`;
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(res, null, 2) + '\n');
  fs.writeFileSync(path.join(OUT, 'results.md'), md);
  if (opts.json) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
  else process.stdout.write('\n' + md);
}

main().catch((e) => {
  process.stderr.write(`bench: ${e?.stack ? e.stack : e}\n`);
  process.exit(1);
});
