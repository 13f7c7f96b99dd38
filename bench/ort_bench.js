// onnxruntime-node side of `npm run bench`: bench/run.js runs it in a child process of its own
// (node --expose-gc), as it runs bench/torch_bench.py and the raw C++ binary.
//
//   node bench/ort_bench.js --threads N --models DIR SNIPPET:ITERS:REPS:WARMUP ...
//
// DIR holds the models bench/onnx_export.py wrote (the benchmark models with the fixed weights of
// bench/torch_bench.py). For each snippet: one InferenceSession (intraOpNumThreads N,
// interOpNumThreads 1, sequential execution, all graph optimisations, the CPU provider), its
// inputs built once (the same closed formulas as bench/cases.js: `fixed`, the causal mask and the
// key padding mask of sequence lengths S - b % 3), the output checksums on them, WARMUP untimed
// runs of ITERS calls, then REPS timed runs of ITERS calls of `await session.run(feeds)` (an
// application's call). Prints one JSON object on stdout: {"version", "threads", "results":
// {snippet: [ns per call, ...]}, "checks": {snippet: [numbers]}, "errors": {snippet: message}}.
// Required as a module (test/bench), it only exports its snippets and input formulas.

const path = require('node:path');
const util = require('node:util');
const { checksumArrays: checksum } = require('./cases');

/** sin(0.1 * i + k) over the flattened index i, rounded as float32 arithmetic rounds it. */
function fixed(shape, k) {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const f01 = Math.fround(0.1),
    fk = Math.fround(k);
  for (let i = 0; i < n; i++) out[i] = Math.sin(Math.fround(Math.fround(i * f01) + fk));
  return out;
}

/** (L, L) bool, True above the diagonal (masked). */
function causal(L) {
  const m = new Uint8Array(L * L);
  for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) m[i * L + j] = 1;
  return m;
}

/** (N, S) bool, True = padded: sequence b has length S - b % 3. */
function keyPadding(N, S) {
  const m = new Uint8Array(N * S);
  for (let b = 0; b < N; b++) for (let j = S - (b % 3); j < S; j++) m[b * S + j] = 1;
  return m;
}

// snippet -> { model (file name in DIR without .onnx), feeds(ort), outputs (checksummed, in order) }
function seed(L, N) {
  return {
    model: 'seed',
    feeds: (ort) => ({
      x: new ort.Tensor('float32', fixed([L, N, 10], 0.5), [L, N, 10]),
      attn_mask: new ort.Tensor('bool', causal(L), [L, L]),
      key_padding_mask: new ort.Tensor('bool', keyPadding(N, L), [N, L]),
    }),
    outputs: ['y'],
  };
}

function lstm(L, N) {
  return {
    model: 'lstm',
    feeds: (ort) => ({ x: new ort.Tensor('float32', fixed([L, N, 10], 0.5), [L, N, 10]) }),
    outputs: ['y'],
  };
}

function mha(L, N, E, H, needWeights) {
  return {
    model: `mha_E${E}_H${H}_${needWeights ? 'w' : 'now'}`,
    feeds: (ort) => ({
      query: new ort.Tensor('float32', fixed([L, N, E], 0.5), [L, N, E]),
      kv: new ort.Tensor('float32', fixed([L, N, E], 1.5), [L, N, E]),
      attn_mask: new ort.Tensor('bool', causal(L), [L, L]),
      key_padding_mask: new ort.Tensor('bool', keyPadding(N, L), [N, L]),
    }),
    outputs: needWeights ? ['y', 'weights'] : ['y'],
  };
}

const SNIPPETS = {
  lstm_L10_N1: lstm(10, 1),
  lstm_L10_N32: lstm(10, 32),
  lstm_L10_N256: lstm(10, 256),
  lstm_L128_N64: lstm(128, 64),
  mha_E256_L128_N64_w: mha(128, 64, 256, 8, true),
  mha_E256_L128_N64_now: mha(128, 64, 256, 8, false),
  mha_E20_L10_N32_w: mha(10, 32, 20, 4, true),
  mha_E20_L10_N32_now: mha(10, 32, 20, 4, false),
  seed_L10_N1: seed(10, 1),
  seed_L10_N32: seed(10, 32),
  seed_L10_N256: seed(10, 256),
  seed_L128_N64: seed(128, 64),
};

const gc = typeof global.gc === 'function' ? global.gc : () => {};
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function main() {
  const { values, positionals } = util.parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { threads: { type: 'string', default: '1' }, models: { type: 'string' } },
  });
  if (!values.models) throw new Error('--models DIR is required');
  const threads = Number(values.threads);
  const ort = require('onnxruntime-node');
  const sessionOptions = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const results = {},
    checks = {},
    errors = {};
  for (const spec of positionals) {
    const [name, itersS, repsS, warmupS] = spec.split(':');
    const [iters, reps, warmup] = [itersS, repsS, warmupS].map(Number);
    const s = SNIPPETS[name];
    if (!s) {
      errors[name] = 'unknown snippet';
      continue;
    }
    let session;
    try {
      session = await ort.InferenceSession.create(path.join(values.models, `${s.model}.onnx`), sessionOptions);
      const feeds = s.feeds(ort);
      const first = await session.run(feeds);
      checks[name] = checksum(...s.outputs.map((o) => first[o].data));
      const run = async (n) => {
        for (let i = 0; i < n; i++) await session.run(feeds);
      };
      for (let w = 0; w < warmup; w++) await run(iters);
      const samples = [];
      for (let r = 0; r < reps; r++) {
        gc();
        await tick();
        const t0 = process.hrtime.bigint();
        await run(iters);
        samples.push(Number(process.hrtime.bigint() - t0) / iters);
      }
      results[name] = samples;
    } catch (e) {
      errors[name] = String(e?.message ? e.message : e).split('\n')[0];
    } finally {
      if (session) await session.release();
    }
  }
  process.stdout.write(
    `${JSON.stringify({ version: ort.env.versions.node, threads, sessionOptions, results, checks, errors })}\n`,
  );
}

module.exports = { SNIPPETS, fixed, causal, keyPadding, checksum };

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`ort_bench: ${e?.stack ? e.stack : e}\n`);
    process.exit(1);
  });
}
