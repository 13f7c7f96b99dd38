#!/usr/bin/env node
// allReduce of 10 MB (float32 x 2,621,440) between 2 local ranks (Gloo over the loopback):
// torch-napi's torch.distributed against PyTorch's (bench/allreduce_torch.py, /usr/bin/python3),
// the same libtorch and the same Gloo underneath. Each rank runs `--warmup` untimed calls, then
// `--iters` timed ones, each after a barrier (so that both ranks start it together); rank 0's
// median is reported. torch-napi is measured with its call check on (the default in an
// all-torch-napi group: one small all-gather first) and off (`checkCollectives: false`).
//
//   node bench/allreduce.js [--iters 30] [--warmup 5] [--rounds 3] [--numel 2621440] [--json]
//
// The machine may be busy: the three are run in turn, `--rounds` times (fresh ranks each time),
// and the medians are over all rounds' timed calls.
//
// Needs the built addon (npm run build) and dist/ (npm run build:ts).

const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const PYTHON = '/usr/bin/python3';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const NUMEL = Number(arg('numel', '2621440'));
const iters = Number(arg('iters', '30'));
const warmup = Number(arg('warmup', '5'));
const rounds = Number(arg('rounds', '3'));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function rankMain() {
  const torch = require(path.join(__dirname, '..', 'dist'));
  const d = torch.distributed;
  const rank = Number(arg('rank'));
  const check = arg('check', 'on') === 'on';
  await d.initProcessGroup({
    initMethod: `tcp://127.0.0.1:${arg('port')}`,
    rank,
    worldSize: 2,
    timeout: 60_000,
    checkCollectives: check,
  });
  const x = torch.ones([NUMEL]);
  const times = [];
  for (let i = 0; i < warmup + iters; i++) {
    await d.barrier();
    const t0 = process.hrtime.bigint();
    await d.allReduce(x);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= warmup) times.push(ms);
  }
  d.destroyProcessGroup();
  if (rank === 0) console.log(JSON.stringify({ times, checked: check }));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function run(file, args) {
  return new Promise((resolve) => {
    const c = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (b) => {
      out += b;
    });
    c.stderr.on('data', (b) => {
      err += b;
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), 300_000);
    c.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

async function pair(makeArgs) {
  const port = await freePort();
  const rs = await Promise.all([0, 1].map((r) => run(...makeArgs(r, port))));
  const bad = rs.find((r) => r.code !== 0);
  if (bad) return { error: (bad.err || bad.out).trim().split('\n').slice(-3).join(' | ') };
  const line = rs[0].out.trim().split('\n').pop();
  return { times: JSON.parse(line).times };
}

function summary(runs) {
  const bad = runs.find((r) => r.error);
  if (bad) return { error: bad.error };
  const times = runs.flatMap((r) => r.times);
  return { medianMs: median(times), minMs: Math.min(...times), n: times.length };
}

async function main() {
  const common = ['--iters', String(iters), '--warmup', String(warmup), '--numel', String(NUMEL)];
  const node = (check) => (r, port) => [
    process.execPath,
    [__filename, '--rank', String(r), '--port', String(port), '--check', check, ...common],
  ];
  const py = (r, port) => [
    PYTHON,
    [path.join(__dirname, 'allreduce_torch.py'), '--rank', String(r), '--port', String(port), ...common],
  ];
  const raw = { node: [], nodeUnchecked: [], python: [] };
  for (let k = 0; k < rounds; k++) {
    raw.node.push(await pair(node('on')));
    raw.nodeUnchecked.push(await pair(node('off')));
    raw.python.push(await pair(py));
  }
  const results = {
    bytes: NUMEL * 4,
    iters,
    warmup,
    rounds,
    node: summary(raw.node),
    nodeUnchecked: summary(raw.nodeUnchecked),
    python: summary(raw.python),
  };
  if (results.python.medianMs && results.node.medianMs) {
    results.ratio = results.node.medianMs / results.python.medianMs;
    results.ratioUnchecked = results.nodeUnchecked.medianMs / results.python.medianMs;
  }
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(results));
    return;
  }
  const f = (r) => (r.error ? `failed: ${r.error}` : `${r.medianMs.toFixed(2)} ms (min ${r.minMs.toFixed(2)})`);
  console.log(
    `allReduce of ${NUMEL} float32 (${((NUMEL * 4) / 1e6).toFixed(3)} MB), 2 local ranks (Gloo), median of ${rounds} x ${iters} calls (each round after ${warmup} warm-up calls)`,
  );
  console.log(`  torch-napi (call check on, default): ${f(results.node)}`);
  console.log(`  torch-napi (checkCollectives: false): ${f(results.nodeUnchecked)}`);
  console.log(`  PyTorch (python3 torch.distributed): ${f(results.python)}`);
  if (results.ratio)
    console.log(
      `  ratio torch-napi / PyTorch: ${results.ratio.toFixed(3)} (unchecked ${results.ratioUnchecked.toFixed(3)}; target <= 1.1)`,
    );
}

if (process.argv.includes('--rank'))
  rankMain().catch((e) => {
    console.error(e);
    process.exit(1);
  });
else main();
