#!/usr/bin/env node

// A deterministic, seeded fuzzer for the public API, driven by fast-check.
//
// Invariant checked: every call either returns or throws an `Error` (subclass) with a non-empty
// message; the process never aborts, segfaults or hangs; and the live tensor count comes back to
// where it started (each call runs in its own `torch.tidy`, each batch of 100 in another; what
// escapes, through `torch.keep` or as parameters, is disposed after the call or left to the GC).
//
// A call is generated from a sequence of choices (31-bit integers) that fast-check draws: the
// generators below (genArg, genTensor, genHostile, genGuided, ...) read every choice through `Rng`,
// and `CallArbitrary` is the fast-check arbitrary of whole calls. Call `i` of seed `s` is run `i`
// of `fc.check` with that seed (fast-check gives each run its own random stream), so it does not
// depend on the calls before it, and its fast-check `path` is simply `i`. Shrinking works on the
// choices: fewer of them, and smaller ones, which the generators read as the first (simplest)
// alternative; a choice past the end reads as 0. Every call is a standalone JavaScript repro.
//
// The targets: the functions of torch.*, F.*, nn.init/masks/utils, jit and optim; Tensor methods and
// accessors; layer constructors, forward()/forwardAsync() of layers built right; optimizer,
// ScriptModule and Module methods; and (about a fifth of the calls) every operator the dispatcher
// registered, as `torch.ops.<ns>.<name>.<overload>(...)` with arguments built by schema type
// (opTargets, genSchemaValue): a third of them ordinary values, the others hostile values of each type (int64 extremes, 0 / -1 divisors,
// fixed-size lists of the wrong length, out-of-range dims and indices, empty / expanded /
// overlapping / sparse / mkldnn / quantized / meta tensors, out= aliasing an input), the classes of
// crash native/aten_guards.cc closes.
//
// The calls run in a forked child; the parent watches it. The child announces each call (index
// and source) before making it; if the child dies or stays silent for more than 10 s, the parent
// records a crash or a hang and forks a fresh child from the next index. Afterwards the parent
// shrinks the first problem of each kind (a hang excepted: each try would wait 10 s): fast-check
// replays the call from its seed and path and tries smaller calls, each in a child of its own (so
// that a crash is only a failed try), within --shrink-runs child runs in all; the report then
// gives the minimal call and the command that replays it (`--replay PATH`).
//
//   node test/fuzz/fuzz.js --calls 20000 --seed 1 [--start 0] [--time SEC] [--json FILE] [--verbose]
//                          [--shrink-runs 200]
//   node test/fuzz/fuzz.js --seed 1 --print 1234      # the repro of call 1234 of seed 1 (or of a path)
//   node test/fuzz/fuzz.js --seed 1 --replay 1234:0:3 # runs the call at a fast-check path, in a child
//
// Programmatic: `await require('./test/fuzz/fuzz.js').run({ calls, seed, timeSec, verbose })` resolves
// with the report: calls, returns, throws by error class, crashes, hangs, non-Error throws, errors
// with an empty message, leaks and tidy failures (each with its seed, index and repro, and the
// shrunk call where there is one), memory. `summary(report)` is the human-readable form; the
// command line prints both (or --json FILE).
const cp = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const util = require('node:util');
const fc = require('fast-check');

const ROOT = path.resolve(__dirname, '..', '..');
const DIST = path.join(ROOT, 'dist', 'index.js');
const BATCH = 100;
const HANG_MS = 10000;
const SHRINK_RUNS = 200;

// ---- choices -------------------------------------------------------------------------------
const CHOICE = 2 ** 31;

/** The generators' view of a call's choices: `draw()` gives the next one, an integer in [0, 2^31). */
class Rng {
  constructor(draw) {
    this.draw = draw;
  }
  next() {
    return this.draw() / CHOICE;
  }
  int(n) {
    return Math.floor(this.next() * n);
  }
  range(lo, hi) {
    return lo + this.int(hi - lo + 1);
  }
  pick(a) {
    return a[this.int(a.length)];
  }
  /** True with probability `p`; a choice of 0 (what shrinking aims at) is false. */
  chance(p) {
    return this.next() >= 1 - p;
  }
  /** `pairs`: [[weight, value], ...] */
  weighted(pairs) {
    let total = 0;
    for (const [w] of pairs) total += w;
    let x = this.next() * total;
    for (const [w, v] of pairs) {
      x -= w;
      if (x < 0) return v;
    }
    return pairs[pairs.length - 1][1];
  }
}

// ---- JavaScript source for values ------------------------------------------------------------
/** The source of a literal value (numbers including NaN/±Infinity/-0, bigints, strings, arrays). */
function lit(v) {
  if (typeof v === 'number') {
    if (Object.is(v, -0)) return '-0';
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return 'Infinity';
    if (v === -Infinity) return '-Infinity';
    if (Number.isInteger(v) && Math.abs(v) >= 2 ** 31 && Math.abs(v) <= 2 ** 64 && Math.log2(Math.abs(v)) % 1 === 0)
      return v < 0 ? `-(2 ** ${Math.log2(-v)})` : `2 ** ${Math.log2(v)}`;
    return String(v);
  }
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(lit).join(', ')}]`;
  return String(v);
}

// Numbers: the edge cases and small integers (most shapes, dims and indices are small).
const NUMS = [0, -1, 1, 2, 0.5, -0, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, 1e300, -1e9, 3, 4, -2, 1e12, 2 ** 63];
const SMALL_INTS = [0, 1, 2, 3, 4, -1, -2, 1, 0, 8];
/**
 * For targets whose numbers may be sizes (factories, layer constructors, repeat, masks, ...),
 * numbers that would be a large but feasible allocation if accepted (2^31 elements is 8 GiB) are
 * made absurd (they must be refused before anything is allocated).
 */
const SIZE_SAFE = new Map([
  [2 ** 31, 2 ** 40],
  [-1e9, -1e12],
]);
// Shape dims: at most 64, or absurd; a shape's product is capped at 4096 elements.
const DIMS = [0, 1, 2, 3, 4, 1, 2, 3, 8, 64, -1, -2, 0.5, NaN];
const ABSURD_DIMS = [1e12, 2 ** 53, 2 ** 62, 1e300, Infinity, -1e12, 2 ** 40];
const BIGINTS = [0n, 1n, -1n, 3n, 2n ** 63n - 1n, 2n ** 63n, -(2n ** 63n), -(2n ** 63n) - 1n, 2n ** 64n];
const STRINGS = [
  '',
  'float32',
  'cuda',
  'abc',
  'cpu',
  'int64',
  'float16',
  'bfloat16',
  'bool',
  'uint8',
  'mean',
  'sum',
  'none',
  'batchmean',
  'tanh',
  'relu',
  'gelu',
  'fan_in',
  'fan_out',
  ':',
  '...',
  '1:',
  '::2',
  '-1:',
  ':-1',
  '0:2:0',
  'cuda:0',
  'cpu:1',
  'trunc',
  'floor',
  'weight',
  'linear',
];
const DTYPES = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];
const FLOAT_DTYPES = ['float32', 'float64', 'float16', 'bfloat16'];
const SHAPES = [[], [0], [3], [2, 3], [2, 3, 4], [1], [2], [2, 4], [3, 4], [4], [3, 3], [1, 2, 4], [2, 0]];
// int64's low end is -2^63 itself (a double represents it exactly): INT_MIN / -1 traps in integer kernels.
const INT_RANGE = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [-(2 ** 63), 2 ** 53],
};
const SIGNED_INTS = ['int64', 'int32', 'int16', 'int8'];

// ---- argument generators: each returns the JavaScript source of a value -------------------------
// `g` is the generation context: { r: Rng, size: boolean (numbers may be sizes), depth }.
function genNumber(g) {
  let v = g.r.chance(0.5) ? g.r.pick(SMALL_INTS) : g.r.pick(NUMS);
  if (g.size && SIZE_SAFE.has(v)) v = SIZE_SAFE.get(v);
  return lit(v);
}

function genShape(g) {
  const r = g.r;
  const dims = [];
  const n = r.int(5);
  for (let k = 0; k < n; k++) dims.push(r.chance(0.06) ? r.pick(ABSURD_DIMS) : r.pick(DIMS));
  // Cap the element count of the feasible part (dims <= 64) at 4096.
  for (;;) {
    let prod = 1,
      maxAt = -1;
    dims.forEach((d, k) => {
      if (d > 0 && d <= 64) {
        prod *= d;
        if (maxAt < 0 || d > dims[maxAt]) maxAt = k;
      }
    });
    if (prod <= 4096) break;
    dims[maxAt] = 1;
  }
  return lit(dims);
}

function leafValue(r, dtype) {
  if (dtype === 'bool') return r.chance(0.5);
  if (FLOAT_DTYPES.includes(dtype)) {
    const x = r.next();
    if (x < 0.03) return NaN;
    if (x < 0.05) return r.chance(0.5) ? Infinity : -Infinity;
    if (x < 0.06) return -0;
    if (x < 0.07) return 1e30;
    return r.pick([0, 1, -1, 0.5, 2, -3.25, 1.5, 0.125, 3, -0.75, 0.25, 4]);
  }
  const x = r.next();
  if (x < 0.7) return r.range(0, 2);
  if (x < 0.88) return r.range(0, 9);
  const [lo, hi] = INT_RANGE[dtype];
  return r.pick([lo, hi, dtype === 'uint8' ? 255 : -1]);
}

function tensorData(r, dtype, shape, d = 0) {
  if (d === shape.length) return leafValue(r, dtype);
  const out = [];
  for (let k = 0; k < shape[d]; k++) out.push(tensorData(r, dtype, shape, d + 1));
  return out;
}

function pickDtype(r) {
  return r.weighted([
    [30, 'float32'],
    [8, 'float64'],
    [5, 'float16'],
    [5, 'bfloat16'],
    [10, 'int64'],
    [5, 'int32'],
    [3, 'int16'],
    [3, 'int8'],
    [4, 'uint8'],
    [7, 'bool'],
  ]);
}

/** A tensor of `o.dtype` / `o.shape` (random when absent): plain, a non-contiguous view, requiring grad, disposed, ... */
function genTensor(g, o = {}) {
  const r = g.r;
  const kind =
    o.kind ||
    r.weighted([
      [55, 'plain'],
      [15, 'view'],
      [12, 'grad'],
      [5, 'nonleaf'],
      [5, 'disposed'],
      [8, 'factory'],
    ]);
  let dtype = o.dtype || pickDtype(r);
  const shape = o.shape || r.pick(SHAPES);
  if ((kind === 'grad' || kind === 'nonleaf') && !FLOAT_DTYPES.includes(dtype))
    dtype = r.chance(0.8) ? 'float32' : 'float64';
  if (kind === 'factory') {
    if (FLOAT_DTYPES.includes(dtype) && r.chance(0.5))
      return `torch.${r.pick(['rand', 'randn'])}(${lit(shape)}, { dtype: '${dtype}' })`;
    if (dtype !== 'bool' && r.chance(0.4)) return `torch.randint(0, 5, ${lit(shape)}, { dtype: '${dtype}' })`;
    return `torch.${r.pick(['zeros', 'ones', 'empty'])}(${lit(shape)}, { dtype: '${dtype}' })`;
  }
  const grad =
    kind === 'grad' || kind === 'nonleaf' || (kind === 'view' && FLOAT_DTYPES.includes(dtype) && r.chance(0.2));
  let src = `torch.tensor(${lit(tensorData(r, dtype, shape))}, { dtype: '${dtype}'${grad ? ', requiresGrad: true' : ''} })`;
  if (kind === 'nonleaf') src += '.mul(2)';
  if (kind === 'disposed') src = `((t) => (t.dispose(), t))(${src})`;
  if (kind === 'view') {
    const views = [];
    const nd = shape.length;
    if (nd >= 2) views.push('.transpose(0, 1)', `.transpose(${nd - 1}, 0)`);
    if (nd === 2) views.push('.t()');
    if (nd === 0) views.push('.expand(2, 3)', '.expand([4])');
    if (nd === 1) views.push(`.expand(2, ${shape[0]})`, '.slice(0, 0, null, 2)');
    if (nd >= 1 && shape[0] >= 2) views.push(`.narrow(0, 1, ${shape[0] - 1})`);
    if (nd >= 2 && shape[1] >= 2) views.push(`.narrow(1, 1, ${shape[1] - 1})`, '.slice(1, 0, null, 2)');
    if (nd >= 1) views.push(`.unsqueeze(0).expand(3, ${shape.join(', ')})`);
    src += r.pick(views);
  }
  return src;
}

function genTensorList(g) {
  const r = g.r;
  const n = r.range(1, 3);
  if (r.chance(0.6)) {
    const dtype = pickDtype(r),
      shape = r.pick(SHAPES);
    const out = [];
    for (let k = 0; k < n; k++) out.push(genTensor(g, { dtype, shape, kind: r.chance(0.9) ? 'plain' : undefined }));
    return `[${out.join(', ')}]`;
  }
  const out = [];
  for (let k = 0; k < n; k++) out.push(r.chance(0.85) ? genTensor(g) : genArg({ ...g, depth: g.depth + 1 }));
  return `[${out.join(', ')}]`;
}

const MASK_SHAPES = [[2, 2], [3, 2], [6, 2, 2], [2, 3], [3], [2], [3, 3], [1, 2]];
const BOOL_KEYS = [
  'keepdim',
  'requiresGrad',
  'training',
  'logTarget',
  'scaleGradByFreq',
  'sparse',
  'isCausal',
  'needWeights',
  'averageAttnWeights',
  'batchFirst',
  'bidirectional',
  'normFirst',
  'enforceSorted',
  'retainGraph',
  'createGraph',
  'equalNan',
  'unbiased',
  'copy',
  'bias',
  'elementwiseAffine',
  'addBiasKv',
  'addZeroAttn',
  'maskCheck',
  'withMetadata',
  'weightsOnly',
  'tgtIsCausal',
  'srcIsCausal',
  'memoryIsCausal',
  'enableNestedTensor',
  'nesterov',
  'maximize',
  'centered',
  'errorIfNonfinite',
  'foreach',
];
const INT_KEYS = [
  'dim',
  'diagonal',
  'ignoreIndex',
  'paddingIdx',
  'numLayers',
  'nhead',
  'dModel',
  'dimFeedforward',
  'kdim',
  'vdim',
  'totalLength',
  'correction',
  'lastEpoch',
  'stepSize',
  'numEncoderLayers',
  'numDecoderLayers',
  'inputSize',
  'hiddenSize',
  'projSize',
];
const NUM_KEYS = [
  'eps',
  'p',
  'dropout',
  'dropoutP',
  'labelSmoothing',
  'beta',
  'delta',
  'maxNorm',
  'normType',
  'scale',
  'rtol',
  'atol',
  'a',
  'gain',
  'lr',
  'momentum',
  'paddingValue',
  'layerNormEps',
  'weightDecay',
  'alpha',
  'gamma',
];
const TENSOR_KEYS = [
  'attnMask',
  'keyPaddingMask',
  'srcMask',
  'tgtMask',
  'memoryMask',
  'srcKeyPaddingMask',
  'tgtKeyPaddingMask',
  'memoryKeyPaddingMask',
  'weight',
  'posWeight',
  'mask',
  'bias',
];
const OTHER_KEYS = [
  'dtype',
  'device',
  'reduction',
  'approximate',
  'nonlinearity',
  'activation',
  'mode',
  'mapLocation',
  'metadata',
  'norm',
  'paddingSide',
];
const UNKNOWN_KEYS = ['foo', 'padding_idx', 'keep_dim', 'Dim', 'toString', 'valueOf', 'requires_grad', 'length'];
const OPT_KEYS = [...BOOL_KEYS, ...INT_KEYS, ...NUM_KEYS, ...TENSOR_KEYS, ...OTHER_KEYS];

function genOptionValue(g, key) {
  const r = g.r;
  if (r.chance(0.3)) return genArg({ ...g, depth: g.depth + 1 });
  if (BOOL_KEYS.includes(key) && (key !== 'bias' || r.chance(0.5))) return lit(r.chance(0.5));
  if (INT_KEYS.includes(key)) return genNumber(g);
  if (NUM_KEYS.includes(key)) return r.chance(0.5) ? lit(r.pick([0, 0.1, 0.5, 1, 1e-5, 2])) : genNumber(g);
  if (TENSOR_KEYS.includes(key)) {
    if (r.chance(0.15)) return 'null';
    return genTensor(g, { shape: r.pick(MASK_SHAPES), dtype: r.pick(['bool', 'bool', 'float32', 'float64', 'int64']) });
  }
  switch (key) {
    case 'dtype':
      return lit(r.chance(0.85) ? r.pick(DTYPES) : r.pick(['abc', 'float', 'torch.float32', '']));
    case 'device':
      return lit(r.pick(['cpu', 'cpu', 'cuda', 'cuda:0', 'cuda:1', 'abc', 'meta', 'cpu:0', '']));
    case 'reduction':
      return lit(r.pick(['mean', 'sum', 'none', 'batchmean', 'abc']));
    case 'approximate':
      return lit(r.pick(['none', 'tanh', 'abc']));
    case 'nonlinearity':
    case 'activation':
      return r.chance(0.2) ? '(x) => x' : lit(r.pick(['tanh', 'relu', 'gelu', 'sigmoid', 'leaky_relu', 'abc']));
    case 'mode':
      return lit(r.pick(['fan_in', 'fan_out', 'abc']));
    case 'mapLocation':
      return lit(r.pick(['cpu', 'cuda', 'abc']));
    case 'paddingSide':
      return lit(r.pick(['left', 'right', 'abc']));
    // viz options: markup or non-finite numbers where an attribute value goes
    case 'width':
    case 'height':
    case 'cellSize':
      return r.pick(['640', '300', '12', 'NaN', '-1', '0', 'Infinity', '1e9', "'1\"><script>alert(1)</script>'"]);
    case 'title':
    case 'xLabel':
    case 'yLabel':
      return r.pick(["'t'", "'</text><script>x</script>'", '5', '{}']);
    case 'rowLabels':
    case 'colLabels':
      return r.pick(["['a', 'b']", "['<x>', '\"']", '[1, 2]', "'ab'", "['a', 'b', 'c']"]);
    default:
      return genArg({ ...g, depth: g.depth + 1 });
  }
}

/** An options object with 0–3 keys (known ones, sometimes an unknown one). */
function genOptions(g, keys = OPT_KEYS) {
  const r = g.r;
  const n = r.weighted([
    [15, 0],
    [45, 1],
    [28, 2],
    [12, 3],
  ]);
  const parts = [];
  const used = new Set();
  for (let k = 0; k < n; k++) {
    const key = r.chance(0.07) ? r.pick(UNKNOWN_KEYS) : r.pick(keys);
    if (used.has(key)) continue;
    used.add(key);
    parts.push(`${key}: ${genOptionValue(g, key)}`);
  }
  return parts.length ? `{ ${parts.join(', ')} }` : '{}';
}

const FUNCTIONS = [
  '() => 1',
  '() => torch.ones(2)',
  '(x) => x',
  "() => { throw new Error('boom'); }",
  'async () => 1',
  '() => undefined',
  '(m) => m',
  'function () { return this; }',
  '() => [torch.zeros(1), { a: torch.ones(1) }]',
  '(step) => 0.5',
  'Math.max',
];
const OBJECTS = [
  '{}',
  'Object.create(null)',
  'new Map()',
  'new Set([1])',
  '{ length: 2 }',
  '{ valueOf() { return 2; } }',
  'new Date(0)',
  'Object(3)',
  "Object('cpu')",
  '[]',
  'new Float32Array([1, 2, 3])',
  'new Float64Array(0)',
  'new BigInt64Array([1n, 2n])',
  'new Uint16Array(2)',
  'new Int32Array([1, -1])',
  'new Uint8Array([0, 1])',
  'new Int8Array([-1, 5])',
  'new ArrayBuffer(8)',
  "Buffer.from('abc')",
  'new Error("x")',
  '/re/',
  'Promise.resolve(1)',
  "new Proxy({}, { get() { throw new Error('proxy get'); }, ownKeys() { throw new Error('proxy keys'); } })",
  "{ get dim() { throw new Error('getter'); } }",
  'new Array(100000)',
  '{ [Symbol.iterator]: 1 }',
  '{ params: [torch.ones(2, { requiresGrad: true })], lr: 0.1 }',
  '{ then() {} }',
  "new Map([['a', torch.ones(2)], ['b', torch.zeros(3, { dtype: 'int64' })]])",
  '{ a: torch.ones(2), b: 1 }',
];
const NESTED = [
  '[[1, 2], [3, 4]]',
  '[[1, 2], [3]]',
  '[[[true]]]',
  '[1, [2]]',
  '[1n, 2n]',
  '[1, true]',
  "['a']",
  '[null]',
  '[undefined]',
  '[, 1]',
  '[[], []]',
  '[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]',
  '[NaN, Infinity]',
  '[0.5, 1.5]',
  '[-1, 2]',
  '[1, 2, 3, 4, 5, 6, 7, 8, 9]',
  '[2 ** 40, 1]',
  '[-0]',
  '[[1, 2], [3, 4], [5, 6]]',
  '[1n, 2]',
];
const MODULES = [
  'new torch.nn.ReLU()',
  'new torch.nn.Linear(3, 4)',
  'new torch.nn.Linear(4, 3)',
  'new torch.nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8 })',
  'new torch.nn.TransformerDecoderLayer(4, 2, { dimFeedforward: 8 })',
  'new torch.nn.LSTM(3, 4)',
  'new torch.nn.LayerNorm(4)',
  'new torch.nn.Sequential()',
];
const VIZ_SERIES = [
  "[{ name: 'a', values: [1, 0.5, 0.25] }]",
  "[{ name: 'a', values: [1, 2], color: 'red\"/><script>x</script><x a=\"' }]",
  "[{ name: '<b>', values: Array.from({ length: 200000 }, (_, i) => i % 7) }]",
  "[{ name: 'a', values: [NaN, Infinity], color: '#abc' }]",
  "[{ name: 'a', values: [1], color: 'rgb(1, 2, 3)' }, { name: 'b', values: [2], color: 'url(javascript:x)' }]",
  "[{ name: 1, values: ['x'] }]",
  '[null]',
  "[{ name: 'a', values: new Array(3) }]",
];
const PACKED = [
  'torch.nn.utils.rnn.packSequence([torch.randn(3, 3), torch.randn(2, 3)])',
  'torch.nn.utils.rnn.packSequence([torch.randn(2, 3), torch.randn(3, 3)], { enforceSorted: false })',
  'torch.nn.utils.rnn.packSequence([torch.randn(1, 3)])',
];

// Re-entrancy: values whose reading runs code (an array element getter, a Proxy trap, valueOf)
// that disposes the tensors already in scope (the receiver `t`, the first argument `a0`) or
// throws, while the library converts its arguments. The disposal is wrapped: a refusal ("in use
// by an async operation") is one of the right outcomes.
const HIT =
  "() => { for (const v of [typeof t !== 'undefined' ? t : null, typeof a0 !== 'undefined' ? a0 : null]) " +
  "{ try { if (v && typeof v.dispose === 'function') v.dispose(); } catch (e) { /* refused */ } } }";
function genHostile(g) {
  const r = g.r;
  const arr = r.pick(['[2, 3]', '[3]', '[-1]', '[1, 0]', '[0, 1]', '[1, 1]', '[6]']);
  switch (r.pick(['proxy', 'getter', 'valueOf', 'throws', 'proxyTensors'])) {
    case 'proxy':
      return `((hit) => new Proxy(${arr}, { get(o, k) { if (k === '0') hit(); return Reflect.get(o, k); } }))(${HIT})`;
    case 'getter':
      return `((hit) => { const a = ${arr}; const v = a[0]; Object.defineProperty(a, 0, { get() { hit(); return v; } }); return a; })(${HIT})`;
    case 'valueOf':
      return `((hit) => ({ valueOf() { hit(); return ${r.pick([0, 1, 2, -1])}; } }))(${HIT})`;
    case 'throws':
      return `(() => { const a = ${arr}; Object.defineProperty(a, 0, { get() { throw new Error('hostile getter'); } }); return a; })()`;
    default:
      return `((hit) => new Proxy([torch.ones(2), torch.ones(2)], { get(o, k) { if (k === '1') hit(); return Reflect.get(o, k); } }))(${HIT})`;
  }
}

function genArg(g) {
  const r = g.r;
  const deep = g.depth >= 2;
  const kind = r.weighted([
    [34, 'tensor'],
    [20, 'number'],
    [deep ? 0 : 9, 'options'],
    [8, 'shape'],
    [6, 'string'],
    [4, 'bool'],
    [2, 'null'],
    [3, 'undefined'],
    [2, 'bigint'],
    [deep ? 0 : 3, 'tensors'],
    [3, 'nested'],
    [deep ? 0 : 3, 'object'],
    [1.5, 'function'],
    [0.5, 'symbol'],
    [deep ? 0 : 1, 'module'],
    [deep ? 0 : 0.5, 'packed'],
    [deep ? 0 : 3, 'hostile'],
  ]);
  switch (kind) {
    case 'hostile':
      return genHostile(g);
    case 'tensor':
      return genTensor(g);
    case 'number':
      return genNumber(g);
    case 'options':
      return genOptions(g);
    case 'shape':
      return genShape(g);
    case 'string':
      return lit(r.pick(STRINGS));
    case 'bool':
      return lit(r.chance(0.5));
    case 'null':
      return 'null';
    case 'undefined':
      return 'undefined';
    case 'bigint':
      return lit(r.pick(BIGINTS));
    case 'tensors':
      return genTensorList(g);
    case 'nested':
      return r.pick(NESTED);
    case 'object':
      return r.pick(OBJECTS);
    case 'function':
      return r.pick(FUNCTIONS);
    case 'symbol':
      return "Symbol('s')";
    case 'module':
      return r.pick(MODULES);
    default:
      return r.pick(PACKED);
  }
}

// ---- layers with small valid arguments, and inputs that fit them ----------------------------------
const T = (s, d = 'float32') => ({ d, s });
const MHA_KEYS = ['keyPaddingMask', 'needWeights', 'attnMask', 'averageAttnWeights', 'isCausal'];
const ENC_KEYS = ['srcMask', 'srcKeyPaddingMask', 'isCausal', 'mask'];
const DEC_KEYS = [
  'tgtMask',
  'memoryMask',
  'tgtKeyPaddingMask',
  'memoryKeyPaddingMask',
  'tgtIsCausal',
  'memoryIsCausal',
];
const TR_KEYS = [...ENC_KEYS, ...DEC_KEYS, 'srcIsCausal'];
const ENC_LAYER = 'new torch.nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8 })';
const DEC_LAYER = 'new torch.nn.TransformerDecoderLayer(4, 2, { dimFeedforward: 8 })';
const RECIPES = [
  { src: 'new torch.nn.Linear(3, 4)', in: [T([2, 3])] },
  { src: "new torch.nn.Linear(3, 4, { bias: false, dtype: 'float64' })", in: [T([3], 'float64')] },
  { src: 'new torch.nn.Bilinear(3, 2, 4)', in: [T([5, 3]), T([5, 2])] },
  { src: 'new torch.nn.Identity()', in: [T([2, 3])] },
  { src: 'new torch.nn.Embedding(10, 3)', in: [T([2, 3], 'int64')] },
  { src: 'new torch.nn.Embedding(10, 3, { paddingIdx: 0, maxNorm: 1 })', in: [T([4], 'int64')] },
  { src: 'new torch.nn.Dropout(0.5)', in: [T([2, 3])] },
  { src: 'new torch.nn.LayerNorm(3)', in: [T([2, 3])] },
  { src: 'new torch.nn.LayerNorm([3, 4])', in: [T([2, 3, 4])] },
  { src: 'new torch.nn.ReLU()', in: [T([2, 3])] },
  { src: "new torch.nn.GELU({ approximate: 'tanh' })", in: [T([2, 3])] },
  { src: 'new torch.nn.Tanh()', in: [T([2, 3])] },
  { src: 'new torch.nn.Sigmoid()', in: [T([3])] },
  { src: 'new torch.nn.SiLU()', in: [T([2, 3])] },
  { src: 'new torch.nn.Softmax(1)', in: [T([2, 3])] },
  { src: 'new torch.nn.LogSoftmax(-1)', in: [T([2, 3])] },
  {
    src: 'new torch.nn.Sequential(new torch.nn.Linear(3, 4), new torch.nn.ReLU(), new torch.nn.Linear(4, 2))',
    in: [T([2, 3])],
  },
  { src: 'new torch.nn.ModuleList([new torch.nn.ReLU(), new torch.nn.Linear(3, 3)])', in: [T([2, 3])] },
  { src: 'new torch.nn.ModuleDict({ a: new torch.nn.ReLU() })', in: [T([2, 3])] },
  { src: 'new torch.nn.LSTM(3, 4)', in: [T([2, 1, 3]), { list: [T([1, 1, 4]), T([1, 1, 4])] }] },
  {
    src: 'new torch.nn.LSTM(3, 4, 2, { batchFirst: true, bidirectional: true })',
    in: [T([1, 2, 3]), { list: [T([4, 1, 4]), T([4, 1, 4])] }],
  },
  { src: 'new torch.nn.GRU(3, 4)', in: [T([2, 1, 3]), T([1, 1, 4])] },
  { src: "new torch.nn.RNN(3, 4, { nonlinearity: 'relu' })", in: [T([2, 3]), T([1, 4])] },
  { src: 'new torch.nn.LSTMCell(3, 4)', in: [T([2, 3]), { list: [T([2, 4]), T([2, 4])] }] },
  { src: 'new torch.nn.GRUCell(3, 4)', in: [T([2, 3]), T([2, 4])] },
  { src: 'new torch.nn.RNNCell(3, 4)', in: [T([3]), T([4])] },
  { src: 'new torch.nn.MultiheadAttention(4, 2)', in: [T([2, 3, 4]), T([2, 3, 4]), T([2, 3, 4])], opts: MHA_KEYS },
  {
    src: 'new torch.nn.MultiheadAttention(4, 2, { batchFirst: true, kdim: 3, vdim: 2 })',
    in: [T([3, 2, 4]), T([3, 2, 3]), T([3, 2, 2])],
    opts: MHA_KEYS,
  },
  { src: ENC_LAYER, in: [T([2, 3, 4])], opts: ENC_KEYS },
  {
    src: 'new torch.nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8, batchFirst: true, normFirst: true })',
    in: [T([3, 2, 4])],
    opts: ENC_KEYS,
  },
  { src: DEC_LAYER, in: [T([2, 3, 4]), T([2, 3, 4])], opts: DEC_KEYS },
  { src: `new torch.nn.TransformerEncoder(${ENC_LAYER}, 2)`, in: [T([2, 3, 4])], opts: ENC_KEYS },
  { src: `new torch.nn.TransformerDecoder(${DEC_LAYER}, 2)`, in: [T([2, 3, 4]), T([2, 3, 4])], opts: DEC_KEYS },
  {
    src: 'new torch.nn.Transformer({ dModel: 4, nhead: 2, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 8 })',
    in: [T([2, 3, 4]), T([2, 3, 4])],
    opts: TR_KEYS,
  },
  // frozen and in eval mode: these take the fused inference kernels (native/fast_*.cc) even in grad mode
  {
    src: 'new torch.nn.LSTM(3, 4, 2, { bidirectional: true, projSize: 2 }).requiresGrad_(false).eval()',
    in: [T([2, 1, 3]), { list: [T([4, 1, 2]), T([4, 1, 4])] }],
  },
  { src: 'new torch.nn.GRU(3, 4, { batchFirst: true }).requiresGrad_(false).eval()', in: [T([1, 2, 3]), T([1, 1, 4])] },
  {
    src: 'new torch.nn.MultiheadAttention(4, 2, { addBiasKv: true, kdim: 3, vdim: 2 }).requiresGrad_(false).eval()',
    in: [T([2, 3, 4]), T([2, 3, 3]), T([2, 3, 2])],
    opts: MHA_KEYS,
  },
  { src: `${ENC_LAYER}.requiresGrad_(false).eval()`, in: [T([2, 3, 4])], opts: ENC_KEYS },
  { src: `${DEC_LAYER}.requiresGrad_(false).eval()`, in: [T([2, 3, 4]), T([2, 3, 4])], opts: DEC_KEYS },
  { src: 'new torch.nn.MSELoss()', in: [T([2, 3]), T([2, 3])] },
  { src: 'new torch.nn.L1Loss()', in: [T([2, 3]), T([2, 3])] },
  { src: 'new torch.nn.SmoothL1Loss({ beta: 0.5 })', in: [T([2, 3]), T([2, 3])] },
  { src: 'new torch.nn.HuberLoss({ delta: 2 })', in: [T([2, 3]), T([2, 3])] },
  { src: 'new torch.nn.CrossEntropyLoss({ labelSmoothing: 0.1 })', in: [T([2, 3]), T([2], 'int64')] },
  { src: 'new torch.nn.CrossEntropyLoss({ weight: torch.ones(3), ignoreIndex: 1 })', in: [T([2, 3]), T([2], 'int64')] },
  { src: "new torch.nn.NLLLoss({ reduction: 'sum' })", in: [T([2, 3]), T([2], 'int64')] },
  { src: 'new torch.nn.BCELoss()', in: [{ src: 'torch.rand(2, 3)' }, { src: 'torch.rand(2, 3)' }] },
  { src: 'new torch.nn.BCEWithLogitsLoss({ posWeight: torch.ones(3) })', in: [T([2, 3]), T([2, 3])] },
  { src: "new torch.nn.KLDivLoss({ reduction: 'batchmean', logTarget: true })", in: [T([2, 3]), T([2, 3])] },
];

/** An argument that fits a recipe's input `hint` (most of the time), or any argument. */
function genFitting(g, hint) {
  const r = g.r;
  if (hint === undefined || r.chance(0.3)) return genArg(g);
  if (hint.src) return hint.src;
  if (hint.list) return `[${hint.list.map((h) => genFitting(g, h)).join(', ')}]`;
  return genTensor(g, {
    dtype: r.chance(0.9) ? hint.d : undefined,
    shape: hint.s,
    kind: r.chance(0.75) ? 'plain' : undefined,
  });
}

// ---- guided arguments: a signature per target, so that many calls get far enough to run --------------
// Tokens (space-separated): T (float tensor of the call's shape S0), T:2,3 (that shape), Ti / Ti:2 /
// Ti1 (int64 indices 0..2), Tb / Tb:2,2 (bool), T01 (uniform in [0, 1)), G (a scalar that requires
// grad, not a leaf), n (a dim), z (0 or 1), k (1..4), x (a number), b, s, D (dtype or device), f
// (function), A / A:3,2 (shape array), Rv / Rx / Rr (view, expand, repeat shapes for S0), P (a
// permutation of S0's dims), L (list of S0 tensors), LV (variable-length sequences), PK (packed
// sequence), PG (parameters with grads), M (module), ML / DL (encoder / decoder layer), SD
// (m.stateDict()), #4 (the number 4), I (an index item), PT (a file path or bytes to load), o /
// o:k1,k2 (options with those keys).
const BINARY = 'T';
const METHOD_SIGS = {
  add: 'T x',
  sub: 'T',
  mul: 'T',
  div: 'dv rm',
  pow: 'x',
  remainder: 'dv',
  maximum: BINARY,
  minimum: BINARY,
  eq: BINARY,
  ne: BINARY,
  lt: 'x',
  le: BINARY,
  gt: BINARY,
  ge: BINARY,
  logicalAnd: BINARY,
  logicalOr: BINARY,
  logicalXor: BINARY,
  allclose: 'T o:rtol,atol,equalNan',
  equal: BINARY,
  matmul: BINARY,
  mm: BINARY,
  bmm: BINARY,
  outer: BINARY,
  dot: BINARY,
  copy_: BINARY,
  add_: 'T x',
  sub_: 'x',
  mul_: BINARY,
  div_: 'x',
  expandAs: 'Rx',
  softmax: 'n o:dtype',
  logSoftmax: 'n',
  argmax: 'n b',
  argmin: 'n',
  cumsum: 'n',
  unsqueeze: 'n',
  squeeze: 'n',
  triu: 'n',
  tril: 'n',
  sum: 'n o:keepdim,dtype',
  mean: 'n b',
  prod: 'n b',
  all: 'n',
  any: 'n b',
  unbind: 'n',
  flip: 'n',
  max: 'n b',
  min: 'n',
  var: 'n o:unbiased,correction,keepdim',
  std: 'n o:correction',
  norm: 'x n b',
  transpose: 'n n',
  narrow: 'n z k',
  select: 'n z',
  slice: 'n z z k',
  chunk: 'k n',
  split: 'k n',
  gather: 'n Ti',
  indexSelect: 'n Ti1',
  maskedFill: 'Tb x',
  maskedFill_: 'Tb x',
  where: 'Tb T',
  reshape: 'Rv',
  view: 'Rv',
  expand: 'Rx',
  repeat: 'Rr',
  permute: 'P',
  flatten: 'n n',
  clamp: 'x x',
  clamp_: 'x x',
  fill_: 'x',
  uniform_: 'x x',
  normal_: 'x x',
  diagonal: 'z n n',
  index: 'I I',
  to: 'D',
  size: 'n',
  gelu: 'o:approximate',
  requiresGrad_: 'b',
  neg: '',
  abs: '',
  exp: '',
  log: '',
  sqrt: '',
  tanh: '',
  sigmoid: '',
  relu: '',
  isnan: '',
  contiguous: '',
  clone: '',
  detach: '',
  item: '',
  toArray: '',
  data: '',
  toString: '',
  backward: 'G o:retainGraph,createGraph',
  cuda: '',
  cpu: '',
  float: '',
  half: '',
  long: '',
  bool: '',
};
// TI: an integer tensor holding its dtype's extremes and -1 (the integer-division trap class).
const RECEIVER = { backward: 'G', retainGrad: 'G', item: 'T:', grad: 'G', div: 'TI', remainder: 'TI' };
const SIGS = {
  'torch.tidy': 'f',
  'torch.noGrad': 'f',
  'torch.enableGrad': 'f',
  'torch.keep': 'T',
  'torch.dispose': 'L',
  'torch.setGradEnabled': 'b',
  'torch.setNumThreads': 'NT',
  'torch.manualSeed': 'x',
  'torch.isTensor': 'T',
  'torch.dtypeCode': 's D',
  'torch.optDtypeCode': 's D',
  'torch.isFloatingPoint': 'D',
  'torch.zeros': 'A o:dtype,requiresGrad',
  'torch.ones': 'k k',
  'torch.empty': 'A',
  'torch.rand': 'k k o:dtype',
  'torch.randn': 'A o:requiresGrad,dtype',
  'torch.full': 'A x o:dtype',
  'torch.randint': 'z k A o:dtype',
  'torch.arange': 'x x x o:dtype',
  'torch.linspace': 'x x k',
  'torch.eye': 'k k o:dtype',
  'torch.randperm': 'k',
  'torch.tensor': 'A o:dtype,requiresGrad',
  'torch.zerosLike': 'T o:dtype',
  'torch.onesLike': 'T',
  'torch.randnLike': 'T',
  'torch.randLike': 'T o:dtype',
  'torch.emptyLike': 'T',
  'torch.fullLike': 'T x o:dtype',
  'torch.cat': 'L n',
  'torch.stack': 'L n',
  'torch.where': 'Tb T T',
  'torch.save': 'T s',
  'torch.load': 'PT o:mapLocation',
  'torch.saveSafetensors': 'o:a,b s',
  'torch.loadSafetensors': 'PTs o:device,withMetadata',
  'torch.nn.functional.linear': 'T:2,3 T:4,3 T:4',
  'torch.nn.functional.bilinear': 'T:5,3 T:5,2 T:4,3,2 T:4',
  'torch.nn.functional.dropout': 'T x b',
  'torch.nn.functional.layerNorm': 'T:2,3 A:3 o:weight,bias,eps',
  'torch.nn.functional.embedding': 'Ti:2,3 T:10,3 o:paddingIdx,maxNorm,normType,scaleGradByFreq,sparse',
  'torch.nn.functional.relu': 'T',
  'torch.nn.functional.gelu': 'T o:approximate',
  'torch.nn.functional.silu': 'T',
  'torch.nn.functional.tanh': 'T',
  'torch.nn.functional.sigmoid': 'T',
  'torch.nn.functional.softmax': 'T n',
  'torch.nn.functional.logSoftmax': 'T n',
  'torch.nn.functional.scaledDotProductAttention': 'T:2,3,4 T:2,3,4 T:2,3,4 o:attnMask,dropoutP,isCausal,scale',
  'torch.nn.functional.mseLoss': 'T T o:reduction',
  'torch.nn.functional.l1Loss': 'T T o:reduction',
  'torch.nn.functional.smoothL1Loss': 'T T o:reduction,beta',
  'torch.nn.functional.huberLoss': 'T T o:reduction,delta',
  'torch.nn.functional.binaryCrossEntropyWithLogits': 'T T o:reduction,weight,posWeight',
  'torch.nn.functional.binaryCrossEntropy': 'T01 T01 o:reduction,weight',
  'torch.nn.functional.crossEntropy': 'T:2,3 Ti:2 o:reduction,weight,ignoreIndex,labelSmoothing',
  'torch.nn.functional.nllLoss': 'T:2,3 Ti:2 o:reduction,weight,ignoreIndex',
  'torch.nn.functional.klDiv': 'T T o:reduction,logTarget',
  'torch.nn.init.calculateGain': 's x',
  'torch.nn.init.calculateFanInAndFanOut': 'T:3,4',
  'torch.nn.init.uniform_': 'T:3,4 x x',
  'torch.nn.init.normal_': 'T:3,4 x x',
  'torch.nn.init.constant_': 'T:3,4 x',
  'torch.nn.init.zeros_': 'T',
  'torch.nn.init.ones_': 'T',
  'torch.nn.init.xavierUniform_': 'T:3,4 x',
  'torch.nn.init.xavierNormal_': 'T:3,4 x',
  'torch.nn.init.kaimingUniform_': 'T:3,4 o:a,mode,nonlinearity',
  'torch.nn.init.kaimingNormal_': 'T:3,4 o:a,mode,nonlinearity',
  'torch.nn.init.orthogonal_': 'T:3,4 x',
  'torch.nn.masks.causal': 'k k o:diagonal,device',
  'torch.nn.masks.keyPadding': 'A k',
  'torch.nn.masks.padding': 'A k',
  'torch.nn.masks.toAdditive': 'Tb:2,2 o:dtype',
  'torch.nn.masks.mhaToSdpa': 'Tb:2,2',
  'torch.nn.masks.sdpaToMha': 'Tb:2,2',
  'torch.nn.masks.toSdpa': 'Tb:2,2',
  'torch.nn.masks.fromSdpa': 'Tb:2,2',
  'torch.nn.masks.findFullyMasked': 'Tb:2,2 Tb:3,2',
  'torch.nn.utils.clipGradNorm_': 'PG x x',
  'torch.nn.utils.clipGradValue_': 'PG x',
  'torch.nn.utils.rnn.padSequence': 'LV o:batchFirst,paddingValue,paddingSide',
  'torch.nn.utils.rnn.packSequence': 'LV o:enforceSorted',
  'torch.nn.utils.rnn.packPaddedSequence': 'T:3,2,3 A:3,2 o:batchFirst,enforceSorted',
  'torch.nn.utils.rnn.padPackedSequence': 'PK o:batchFirst,paddingValue,totalLength',
  'new nn.Linear': 'k k o:bias,dtype,device',
  'new nn.NonDynamicallyQuantizableLinear': 'k k',
  'new nn.Bilinear': 'k k k o:bias',
  'new nn.Embedding': 'k k o:paddingIdx,maxNorm,sparse,dtype',
  'new nn.Dropout': 'x',
  'new nn.LayerNorm': 'k o:eps,elementwiseAffine',
  'new nn.Softmax': 'n',
  'new nn.LogSoftmax': 'n',
  'new nn.GELU': 'o:approximate',
  'new nn.Parameter': 'T b',
  'new nn.LSTM': 'k k k o:batchFirst,bidirectional,dropout,bias',
  'new nn.GRU': 'k k o:numLayers,batchFirst',
  'new nn.RNN': 'k k o:nonlinearity,bidirectional',
  'new nn.LSTMCell': 'k k o:bias',
  'new nn.GRUCell': 'k k',
  'new nn.RNNCell': 'k k o:nonlinearity',
  'new nn.MultiheadAttention': '#4 #2 o:batchFirst,kdim,vdim,dropout,bias,addBiasKv,addZeroAttn',
  'new nn.TransformerEncoderLayer': '#4 #2 o:dimFeedforward,dropout,activation,normFirst,batchFirst,layerNormEps',
  'new nn.TransformerDecoderLayer': '#4 #2 o:dimFeedforward,activation,normFirst,batchFirst',
  'new nn.TransformerEncoder': 'ML k o:norm,enableNestedTensor,mask,maskCheck',
  'new nn.TransformerDecoder': 'DL k o:norm',
  'new nn.Transformer': 'o:dModel,nhead,numEncoderLayers,numDecoderLayers,dimFeedforward,batchFirst',
  'new nn.Sequential': 'M M',
  'new nn.ModuleList': 'LM',
  'new nn.ModuleDict': 'o:a,b',
  'new nn.CrossEntropyLoss': 'o:reduction,weight,ignoreIndex,labelSmoothing',
  'new nn.NLLLoss': 'o:reduction,weight',
  'new nn.MSELoss': 'o:reduction',
  'new nn.BCELoss': 'o:reduction,weight',
  'new nn.BCEWithLogitsLoss': 'o:posWeight,weight',
  'new nn.KLDivLoss': 'o:reduction,logTarget',
  'new nn.HuberLoss': 'o:delta',
  'new nn.SmoothL1Loss': 'o:beta',
  'Module.to': 'D',
  'Module.train': 'b',
  'Module.registerBuffer': 's T',
  'Module.registerParameter': 's PP',
  'Module.registerModule': 's M',
  'Module.loadStateDict': 'SD o:strict',
  'Module.apply': 'f',
  'Module.requiresGrad_': 'b',
  'Module.namedParameters': 's b',
  'torch.viz.lineChart': 'VS o:title,xLabel,yLabel,logY,width,height',
  'torch.viz.attentionHeatmap': 'T:2,3 o:rowLabels,colLabels,title,cellSize,average',
};
for (const [k, v] of Object.entries(METHOD_SIGS)) {
  SIGS[`Tensor.${k}`] = v;
  if (!SIGS[`torch.${k}`]) SIGS[`torch.${k}`] = `T ${v}`.trim();
}
const S0S = [[3, 3], [2, 3, 3], [3], [2, 3], []];

function shapeOf(g, spec) {
  return spec === undefined ? g.S0 : spec === '' ? [] : spec.split(',').map(Number);
}

/** The source of a value for signature token `tok` (most of the time; otherwise any argument). */
function genGuided(g, tok, exact = false) {
  const r = g.r;
  if (!exact && r.chance(0.12)) return genArg(g);
  const [head, spec] = tok.split(':');
  const S0 = g.S0;
  const plain = () => (r.chance(0.75) ? 'plain' : undefined);
  switch (head) {
    case 'T':
      return genTensor(g, { dtype: r.chance(0.8) ? 'float32' : undefined, shape: shapeOf(g, spec), kind: plain() });
    case 'Ti':
      return genTensor(g, { dtype: 'int64', shape: shapeOf(g, spec), kind: plain() });
    case 'Ti1':
      return genTensor(g, { dtype: 'int64', shape: [2], kind: plain() });
    case 'Tb':
      return genTensor(g, { dtype: 'bool', shape: shapeOf(g, spec), kind: plain() });
    case 'TI': {
      const dtype = r.pick(SIGNED_INTS);
      const [lo, hi] = INT_RANGE[dtype];
      const shape = shapeOf(g, spec);
      const fill = (d) =>
        d === shape.length ? r.pick([lo, lo, -1, 0, 1, 7, hi]) : Array.from({ length: shape[d] }, () => fill(d + 1));
      return `torch.tensor(${lit(fill(0))}, { dtype: '${dtype}' })`;
    }
    // dv: a divisor, -1 most often (scalar, or an integer tensor of another width that broadcasts); rm: a rounding mode
    case 'dv': {
      if (r.chance(0.5)) return lit(r.pick([-1, -1, 0, 2, -1.0, 0.5]));
      const shape = r.pick([[], [1], S0.length ? [S0[S0.length - 1]] : []]);
      const n = shape.reduce((a, b) => a * b, 1);
      return `torch.tensor(${lit(shape.length ? Array.from({ length: n }, () => r.pick([-1, -1, 2, 0, 3])) : r.pick([-1, 2]))}, { dtype: '${r.pick(SIGNED_INTS)}' })`;
    }
    case 'rm':
      return r.chance(0.8) ? lit(r.pick(['floor', 'trunc'])) : 'undefined';
    case 'T01':
      return `torch.rand(${lit(S0)})`;
    case 'G':
      return `${genTensor(g, { dtype: r.pick(['float32', 'float64']), shape: S0, kind: 'grad' })}.mul(2).sum()`;
    case 'n':
      return lit(r.pick([0, 1, -1, 0, 1, 2]));
    case 'z':
      return lit(r.pick([0, 1]));
    case 'k':
      return lit(r.range(1, 4));
    // thread counts, hostile ones included (libtorch starts them all at once: 1e6 used to hang)
    case 'NT':
      return lit(r.pick([1, 2, 3, 0, -1, 4096, 1e6, 2 ** 31, NaN, 2.5]));
    // viz series: markup in a color, very many points, non-finite values, wrong types
    case 'VS':
      return r.pick(VIZ_SERIES);
    case 'x':
      return lit(r.pick([0.5, 1, 2, -1, 0, 3, 0.1]));
    case 'b':
      return lit(r.chance(0.5));
    case 's':
      return lit(r.pick(['f.pt', 'weight', 'a', 'relu', 'tanh', 'leaky_relu', 'sigmoid', 'linear', 'x.y', '']));
    case 'D':
      return lit(r.pick(['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'bool', 'uint8', 'cpu']));
    case 'f':
      return r.pick([
        '() => torch.ones(2).add(1)',
        '() => torch.ones(2, { requiresGrad: true }).mul(2).sum()',
        '() => 3',
        "() => { throw new Error('boom'); }",
      ]);
    case 'A':
      return spec !== undefined ? `[${spec}]` : lit(r.pick([[2, 3], [3], [], [1, 2], [0], [2, 1, 2]]));
    case 'Rv':
      if (r.chance(0.1)) return genHostile(g);
      return lit(r.chance(0.5) ? [-1] : S0.slice().reverse());
    case 'Rx':
      return lit([2, ...S0]);
    case 'Rr':
      return lit([2, ...S0.map(() => 1)]);
    case 'P':
      if (r.chance(0.1)) return genHostile(g);
      return lit(S0.map((_, k) => S0.length - 1 - k));
    case 'L':
      return `[${genTensor(g, { shape: S0, kind: 'plain', dtype: 'float32' })}, ${genTensor(g, { shape: S0, kind: plain(), dtype: 'float32' })}]`;
    case 'LV':
      return `[${genTensor(g, { shape: [3, 3], kind: 'plain', dtype: 'float32' })}, ${genTensor(g, { shape: [r.range(1, 3), 3], kind: plain(), dtype: 'float32' })}]`;
    case 'LM':
      return `[${r.pick(MODULES)}, ${r.pick(MODULES)}]`;
    case 'PK':
      return r.pick(PACKED);
    case 'PG':
      return '((p) => (p.mul(2).sum().backward(), [p]))(torch.ones(3, { requiresGrad: true }))';
    case 'PP':
      return `new torch.nn.Parameter(${genTensor(g, { dtype: 'float32', kind: 'plain' })})`;
    case 'M':
      return r.pick(MODULES);
    case 'ML':
      return ENC_LAYER;
    case 'DL':
      return DEC_LAYER;
    case 'SD':
      return r.pick(['m.stateDict()', 'new torch.nn.Linear(3, 4).stateDict()', '{}', '{ weight: torch.ones(4, 3) }']);
    case 'I':
      return r.pick([
        '0',
        "':'",
        "'...'",
        'null',
        "'1:'",
        "'::2'",
        "'-1'",
        genTensor(g, { dtype: 'int64', shape: [2], kind: 'plain' }),
        genTensor(g, { dtype: 'bool', shape: [3], kind: 'plain' }),
      ]);
    case 'PT':
      return genPath(g, r.chance(0.2));
    case 'PTs':
      return genPath(g, r.chance(0.8));
    case 'o':
      return spec ? genOptions(g, spec.split(',')) : genOptions(g);
    default:
      return head.startsWith('#') ? head.slice(1) : genArg(g);
  }
}

/** A file (a path in the working directory, or its bytes) to load: valid, truncated, corrupted or random. */
function genPath(g, safe) {
  const r = g.r;
  const t = genTensor(g, { kind: 'plain' });
  const file = safe ? 'f.safetensors' : 'f.pt';
  const write = safe
    ? `torch.saveSafetensors({ a: ${t}, b: torch.ones(2) }, '${file}')`
    : `torch.save(${r.chance(0.5) ? t : `{ a: ${t}, b: [1, 'x', torch.ones(2)] }`}, '${file}')`;
  const fsr = "require('fs')";
  const how = r.weighted([
    [25, 'valid'],
    [25, 'flip'],
    [20, 'truncate'],
    [10, 'random'],
    [20, 'bytes'],
  ]);
  switch (how) {
    case 'valid':
      return `(${write}, '${file}')`;
    case 'flip': {
      const at = r.int(400),
        x = r.range(1, 255);
      return `(${write}, ((b) => (b[${at} % b.length] ^= ${x}, ${fsr}.writeFileSync('${file}', b)))(${fsr}.readFileSync('${file}')), '${file}')`;
    }
    case 'truncate':
      return `(${write}, ${fsr}.truncateSync('${file}', ${r.pick([0, 1, 8, 30, 64, 100, 200, 500])}), '${file}')`;
    case 'random': {
      const bytes = [];
      const n = r.pick([0, 4, 16, 64]);
      for (let k = 0; k < n; k++) bytes.push(r.int(256));
      const head = r.pick(['', '80, 75, 3, 4, ', '8, 0, 0, 0, 0, 0, 0, 0, 123, ']); // zip, safetensors
      return `new Uint8Array([${head}${bytes.join(', ')}])`;
    }
    default: {
      const at = r.int(300),
        x = r.range(1, 255);
      return `(${write}, ((b) => (b[${at} % b.length] ^= ${x}, new Uint8Array(b)))(${fsr}.readFileSync('${file}')))`;
    }
  }
}

/** The arguments of a guided call of `name`, or undefined when it has no signature. */
function guidedArgs(g, name) {
  const sig = Object.hasOwn(SIGS, name) ? SIGS[name] : undefined;
  if (sig === undefined) return undefined;
  const toks = sig ? sig.split(' ') : [];
  const r = g.r;
  if (toks.length && r.chance(0.1)) toks.pop();
  if (r.chance(0.1)) toks.push('?');
  return toks.map((t) => genGuided(g, t));
}

// ---- generic operators: torch.ops.<ns>.<name>.<overload>, arguments by schema type ----------------
// Every operator libtorch's dispatcher registered (torch.ops.names()), internals included, called
// through one overload with arguments built from its schema: each parameter type gets values of
// that type (mostly), hostile ones among them: int64 extremes, 0 and -1 where kernels divide,
// absurd sizes, out-of-range dims and indices, fixed-size lists (`int[2]`) of the wrong length,
// empty, expanded, overlapping (asStrided) and zero-size tensors, integer tensors holding INT_MIN /
// -1 / 0, sparse / mkldnn / quantized / meta tensors, a tensor given twice (out= aliasing an input),
// null for optionals. These are the classes native/aten_guards.cc closes (see its header).
const OP_TENSORS = [
  "torch.tensor([-(2 ** 63), -1, 0, 5], { dtype: 'int64' })",
  "torch.tensor([-128, -1, 0, 7], { dtype: 'int8' })",
  "torch.tensor([-32768, -1, 0, 7], { dtype: 'int16' })",
  "torch.tensor([-(2 ** 31), -1, 0, 7], { dtype: 'int32' })",
  "torch.tensor([1, 100, -100, 2], { dtype: 'int64' })",
  "torch.tensor([[0, 5], [-9, 1]], { dtype: 'int64' })",
  "torch.tensor([0, 0, 0], { dtype: 'int32' })",
  'torch.empty([0])',
  'torch.empty([2, 0])',
  "torch.empty([0, 3], { dtype: 'int64' })",
  'torch.ones(3).expand(2, 3)',
  'torch.randn(5).asStrided([3, 3], [1, 1])',
  'torch.randn(2, 3, 4, 5)',
  'torch.randn(1, 2, 3, 3)',
  'torch.randn(1, 2, 4, 4, 4)',
  'torch.tensor([NaN, Infinity, -Infinity, 0])',
  'torch.ops.aten.to_sparse(torch.randn(2, 3))',
  'torch.ops.aten.to_mkldnn(torch.randn(2, 3))',
  "torch.ops.aten._make_per_tensor_quantized_tensor(torch.tensor([1, 2, 3], { dtype: 'int8' }), 0.1, 0)",
  "torch.ops.aten.empty.memory_format([2, 3], { device: 'meta' })",
];
// (no 2^31: as a size that is a feasible 8 GiB allocation, which is slow, not wrong)
const OP_INTS = [
  0,
  1,
  2,
  3,
  -1,
  -2,
  4,
  100,
  -100,
  2 ** 40,
  2 ** 53,
  -(2 ** 53),
  2n ** 62n,
  -(2n ** 63n),
  2n ** 63n - 1n,
];
const OP_FLOATS = [0, -1, 0.5, 1, 2, NaN, Infinity, -Infinity, 1e308, 1e-300];
const OP_SCALARS = [0, -1, 1, 2, 0.5, NaN, Infinity, true, 64, -65, 2n ** 63n - 1n, -(2n ** 63n)];
const OP_STRINGS = ['floor', 'trunc', 'mean', 'sum', 'none', '', 'abc', 'reflect', 'tanh', 'fro', 'reduced', 'max'];
const OP_DTYPES = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int8', 'uint8', 'bool', 'complex64'];
const OP_DEVICES = ['cpu', 'cpu', 'meta', 'cuda', 'cuda:0', 'xyz', 'cpu:1'];

function genOpTensor(g, ctx) {
  const r = g.r;
  if (ctx.plain) {
    // one float tensor of the call's shape, given for every Tensor parameter
    if (!ctx.tensors.length) {
      ctx.decls.push(`const a0 = torch.randn(${lit(g.S0)});`);
      ctx.tensors.push('a0');
    }
    return 'a0';
  }
  if (ctx.tensors.length && r.chance(0.25)) return r.pick(ctx.tensors); // the same tensor twice
  const name = `a${ctx.decls.length}`;
  ctx.decls.push(`const ${name} = ${r.chance(0.5) ? r.pick(OP_TENSORS) : genTensor(g)};`);
  ctx.tensors.push(name);
  return name;
}

function genOpInt(g) {
  return g.r.chance(0.6) ? lit(g.r.pick(SMALL_INTS)) : lit(g.r.pick(OP_INTS));
}

/** A value for a parameter of schema type `t` (lib/aten.ts's parseType), or undefined to leave it out. */
function genSchemaValue(g, t, ctx) {
  const r = g.r;
  if (ctx.plain && !(t.base === 'Tensor' && !t.list)) {
    // ordinary values: what most calls of the op would pass
    if (t.optional) return 'null';
    const plain = {
      int: '1',
      SymInt: '1',
      float: '0.5',
      bool: 'false',
      Scalar: '2',
      str: "'mean'",
      ScalarType: "'float32'",
      Layout: "'strided'",
      Device: "'cpu'",
      MemoryFormat: "'contiguous_format'",
      Generator: 'null',
    }[t.base];
    if (t.list)
      return t.base === 'Tensor' ? `[${genOpTensor(g, ctx)}]` : plain === undefined ? undefined : `[${plain}]`;
    return plain;
  }
  if (t.optional && r.chance(0.2)) return 'null';
  if (r.chance(0.03)) return genArg(g); // anything at all
  if (t.list) {
    if (t.base === 'Tensor') {
      const n = r.weighted([
        [1, 0],
        [4, 1],
        [4, 2],
        [1, 3],
      ]);
      const els = [];
      for (let k = 0; k < n; k++) els.push(t.elemOptional && r.chance(0.3) ? 'null' : genOpTensor(g, ctx));
      return `[${els.join(', ')}]`;
    }
    const one = () =>
      t.base === 'bool'
        ? lit(r.chance(0.5))
        : t.base === 'float'
          ? lit(r.pick(OP_FLOATS))
          : t.base === 'Scalar'
            ? lit(r.pick(OP_SCALARS))
            : t.base === 'str'
              ? lit(r.pick(OP_STRINGS))
              : genOpInt(g);
    // int[N]: mostly N elements, else 0, 1 or N + 1
    const fixed = t.size !== undefined && t.size > 1 ? t.size : undefined;
    const n =
      fixed !== undefined && r.chance(0.7)
        ? fixed
        : r.pick([0, 1, 1, 2, 2, 3, 4, fixed === undefined ? 27 : fixed + 1]);
    if (t.base === 'int' || t.base === 'SymInt') {
      if (r.chance(0.3)) return genShape(g);
    }
    return `[${Array.from({ length: n }, one).join(', ')}]`;
  }
  switch (t.base) {
    case 'Tensor':
      return genOpTensor(g, ctx);
    case 'int':
    case 'SymInt':
      return genOpInt(g);
    case 'float':
      return lit(r.pick(OP_FLOATS));
    case 'bool':
      return lit(r.chance(0.5));
    case 'Scalar':
      return r.chance(0.1) ? genOpTensor(g, ctx) : lit(r.pick(OP_SCALARS));
    case 'str':
      return lit(r.pick(OP_STRINGS));
    case 'ScalarType':
      return lit(r.pick(OP_DTYPES));
    case 'Layout':
      return lit(r.chance(0.9) ? 'strided' : 'sparse_coo');
    case 'Device':
      return lit(r.pick(OP_DEVICES));
    case 'MemoryFormat':
      return lit(r.pick(['contiguous_format', 'preserve_format', 'channels_last', 'channels_last_3d']));
    case 'Generator':
      // the global generator, or a torch.Generator of its own
      return r.chance(0.5) ? 'null' : `new torch.Generator().manualSeed(${r.int(10)})`;
    default:
      return undefined; // a type the package cannot pass (Dimname, Storage, ...): left out
  }
}

/** The generic-operator targets, one per registered overload (schemas are read when first called). */
function opTargets(torch, weight) {
  // lib/aten.ts's schema parser: the module the loaded library required (the entry may be a wrapper)
  const aten = Object.values(require.cache).find((m) => typeof m?.exports?.parseSchema === 'function');
  const { parseSchema } = aten ? aten.exports : require(path.join(path.dirname(DIST), 'aten.js'));
  const schemas = new Map();
  const out = [];
  for (const full of torch.ops.names().sort()) {
    const [ns, rest] = full.split('::');
    const dot = rest.indexOf('.');
    const name = dot < 0 ? rest : rest.slice(0, dot);
    const ov = dot < 0 ? 'default' : rest.slice(dot + 1);
    if (!/^\w+$/.test(ns) || !/^\w+$/.test(name) || !/^\w+$/.test(ov)) continue;
    const ref = `torch.ops.${ns}.${name}`;
    out.push({
      name: `${ref}.${ov}`,
      weight,
      size: true,
      gen(g) {
        if (!schemas.has(full)) {
          let text;
          try {
            text = torch.ops[ns][name][ov].schema;
          } catch {
            text = undefined;
          }
          schemas.set(full, text ? parseSchema(0, text) : null);
        }
        const s = schemas.get(full);
        // a third of the calls pass ordinary values (the op's usual path); the others hostile ones
        const ctx = { decls: [], tensors: [], plain: g.r.chance(0.33) };
        const pos = [];
        const kw = [];
        for (const a of s ? s.args : []) {
          if (a.default !== undefined && (ctx.plain || g.r.chance(0.5))) continue;
          const v = genSchemaValue(g, a.type, ctx);
          if (v === undefined) continue;
          if (a.kwargOnly) kw.push(`${a.key}: ${v}`);
          else pos.push(v);
        }
        if (kw.length) pos.push(`{ ${kw.join(', ')} }`);
        // mostly the one overload; sometimes the packet, which resolves among the overloads
        const callee = g.r.chance(0.85) ? `${ref}.${ov}` : ref;
        return { decls: ctx.decls, call: `${callee}(${pos.join(', ')})` };
      },
    });
  }
  return out;
}

// ---- targets ---------------------------------------------------------------------------------------
const isClass = (f) => typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));
// Targets whose numbers may be sizes of what they allocate (see SIZE_SAFE).
const SIZE_TARGETS = new Set([
  'zeros',
  'ones',
  'empty',
  'rand',
  'randn',
  'full',
  'randint',
  'arange',
  'linspace',
  'eye',
  'randperm',
  'repeat',
  'expand',
  'causal',
  'keyPadding',
  'padding',
  'padSequence',
  'padPackedSequence',
  'packPaddedSequence',
  'packSequence',
]);

/** Every target of the API, each `{ name, weight, size, gen(g) -> { decls: [src], call: src } }`. */
function buildTargets(torch) {
  const targets = [];
  // Half of the calls of a target with a signature follow it (see SIGS); the others take anything.
  const args = (g, n, pre = [], name = undefined) => {
    const decls = [...pre];
    const names = [];
    const guided = name !== undefined && g.guided ? guidedArgs(g, name) : undefined;
    const srcs = guided || Array.from({ length: n }, () => genArg(g));
    srcs.forEach((src, k) => {
      decls.push(`const a${k} = ${src};`);
      names.push(`a${k}`);
    });
    return { decls, names };
  };
  const nArgs = (g) =>
    g.r.weighted([
      [10, 0],
      [30, 1],
      [30, 2],
      [20, 3],
      [10, 4],
    ]);
  const addNamespace = (ns, prefix, weight) => {
    for (const key of Object.keys(ns).sort()) {
      const f = ns[key];
      if (typeof f !== 'function') continue;
      const ctor = isClass(f);
      targets.push({
        name: `${prefix}.${key}`,
        weight,
        size: SIZE_TARGETS.has(key),
        gen(g) {
          const { decls, names } = args(g, nArgs(g), [], `${prefix}.${key}`);
          return { decls, call: `${ctor ? 'new ' : ''}${prefix}.${key}(${names.join(', ')})` };
        },
      });
    }
  };
  addNamespace(torch, 'torch', 1);
  addNamespace(torch.nn.functional, 'torch.nn.functional', 1.5);
  addNamespace(torch.nn.init, 'torch.nn.init', 1);
  addNamespace(torch.nn.masks, 'torch.nn.masks', 1);
  addNamespace(torch.nn.utils, 'torch.nn.utils', 1);
  addNamespace(torch.nn.utils.rnn, 'torch.nn.utils.rnn', 1.5);
  addNamespace(torch.jit, 'torch.jit', 1);
  addNamespace(torch.optim, 'torch.optim', 1);
  // torch.viz without writeSvg (which writes files where it is told)
  addNamespace({ lineChart: torch.viz.lineChart, attentionHeatmap: torch.viz.attentionHeatmap }, 'torch.viz', 1);

  // Tensor methods and accessors: the receiver is almost always a tensor.
  const proto = torch.Tensor.prototype;
  for (const key of Object.getOwnPropertyNames(proto).sort()) {
    if (key === 'constructor' || key.startsWith('_')) continue;
    const desc = Object.getOwnPropertyDescriptor(proto, key);
    if (desc.get || desc.set) {
      targets.push({
        name: `Tensor.${key}`,
        weight: 1,
        size: false,
        gen(g) {
          // (on a non-tensor receiver, through the prototype: `t.x` would fail before reaching the library)
          const recv = g.r.chance(0.95);
          const decls = [
            `const t = ${recv ? (g.guided && Object.hasOwn(RECEIVER, key) ? genGuided(g, RECEIVER[key], true) : genTensor(g)) : genArg(g)};`,
          ];
          if (desc.set && g.r.chance(0.5)) {
            decls.push(`const a0 = ${genArg(g)};`);
            return { decls, call: recv ? `t.${key} = a0` : `Reflect.set(torch.Tensor.prototype, '${key}', a0, t)` };
          }
          return { decls, call: recv ? `t.${key}` : `Reflect.get(torch.Tensor.prototype, '${key}', t)` };
        },
      });
      continue;
    }
    if (typeof desc.value !== 'function') continue;
    targets.push({
      name: `Tensor.${key}`,
      weight: 2,
      size: SIZE_TARGETS.has(key),
      gen(g) {
        const recv = g.r.chance(0.95);
        const self = !recv
          ? genArg(g)
          : g.guided
            ? genGuided(g, Object.hasOwn(RECEIVER, key) ? RECEIVER[key] : 'T', true)
            : genTensor(g);
        const { decls, names } = args(g, nArgs(g), [`const t = ${self};`], `Tensor.${key}`);
        return {
          decls,
          call: recv
            ? `t.${key}(${names.join(', ')})`
            : `torch.Tensor.prototype.${key}.call(t${names.map((n) => `, ${n}`).join('')})`,
        };
      },
    });
  }

  // Layer constructors with any arguments.
  for (const key of Object.keys(torch.nn).sort()) {
    const f = torch.nn[key];
    if (!isClass(f)) continue;
    targets.push({
      name: `new nn.${key}`,
      weight: 2,
      size: true,
      gen(g) {
        const { decls, names } = args(g, nArgs(g), [], `new nn.${key}`);
        return { decls, call: `new torch.nn.${key}(${names.join(', ')})` };
      },
    });
  }

  // forward() of layers built with valid arguments, on inputs that mostly fit, and forwardAsync()
  // of those that have one (the Promise is awaited).
  for (const rec of RECIPES) {
    const cls = rec.src.match(/^new torch\.nn\.(\w+)/)[1];
    for (const method of ['forward', 'forwardAsync']) {
      if (typeof torch.nn[cls].prototype[method] !== 'function') continue;
      targets.push({
        name: `${cls}.${method}`,
        weight: method === 'forward' ? 2 : 1,
        size: false,
        gen(g) {
          const decls = [`const m = ${rec.src};`];
          const names = [];
          const n = g.r.chance(0.8) ? rec.in.length : g.r.int(rec.in.length + 2);
          for (let k = 0; k < n; k++) {
            decls.push(`const a${k} = ${genFitting(g, rec.in[k])};`);
            names.push(`a${k}`);
          }
          if (rec.opts && g.r.chance(0.6)) {
            decls.push(`const a${n} = ${genOptions(g, rec.opts)};`);
            names.push(`a${n}`);
          }
          return { decls, call: `m.${method}(${names.join(', ')})` };
        },
      });
    }
  }

  // Optimizer methods (step, stepAsync, zeroGrad, stateDict, loadStateDict, addParamGroup) on a
  // small model whose gradients exist or not.
  const OPTIMIZERS = ['SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad'];
  const omethods = new Set();
  for (const o of OPTIMIZERS)
    for (let pr = torch.optim[o].prototype; pr && pr !== Object.prototype; pr = Object.getPrototypeOf(pr))
      for (const k of Object.getOwnPropertyNames(pr))
        if (
          k !== 'constructor' &&
          !k.startsWith('_') &&
          typeof Object.getOwnPropertyDescriptor(pr, k).value === 'function'
        )
          omethods.add(k);
  for (const key of [...omethods].sort()) {
    // Protected hooks for subclasses (TypeScript's `protected`), not API.
    if (['prepareUpdate', 'finishUpdate', 'checkGroup', 'pythonOnlyOptions'].includes(key)) continue;
    targets.push({
      name: `Optimizer.${key}`,
      weight: 1,
      size: false,
      gen(g) {
        const o = g.r.pick(OPTIMIZERS);
        const decls = [
          'const m = new torch.nn.Linear(3, 2);',
          `const opt = new torch.optim.${o}(m.parameters(), { lr: 0.1 });`,
        ];
        if (g.r.chance(0.7)) decls.push('m.forward(torch.randn(4, 3)).sum().backward();');
        const n = nArgs(g);
        const names = [];
        for (let k = 0; k < n; k++) {
          const special = g.r.chance(0.2)
            ? g.r.pick(['opt.stateDict()', '{ params: [torch.ones(2, { requiresGrad: true })] }', '() => 1', "'x'"])
            : undefined;
          decls.push(`const a${k} = ${special || genArg(g)};`);
          names.push(`a${k}`);
        }
        return { decls, call: `opt.${key}(${names.join(', ')})` };
      },
    });
  }

  // ScriptModule methods on TorchScript models from the test fixtures (when present).
  const jitDir = path.join(ROOT, 'test', 'fixtures', 'jit');
  const jitFiles = fs.existsSync(jitDir)
    ? fs
        .readdirSync(jitDir)
        .filter((f) => f.endsWith('.pt') && !f.includes('checkpoint'))
        .sort()
    : [];
  if (jitFiles.length) {
    const sproto = torch.jit.ScriptModule.prototype;
    for (const key of Object.getOwnPropertyNames(sproto).sort()) {
      const desc = Object.getOwnPropertyDescriptor(sproto, key);
      if (key === 'constructor' || key.startsWith('_') || typeof desc.value !== 'function') continue;
      targets.push({
        name: `ScriptModule.${key}`,
        weight: 1,
        size: false,
        gen(g) {
          const file = JSON.stringify(path.join(jitDir, g.r.pick(jitFiles)));
          const decls = [`const m = torch.jit.load(${file});`];
          const n = g.r.weighted([
            [10, 0],
            [25, 1],
            [25, 2],
            [20, 3],
            [20, 4],
          ]);
          const names = [];
          for (let k = 0; k < n; k++) {
            const special = g.r.chance(0.2)
              ? g.r.pick([
                  "'forward'",
                  "'encode'",
                  'torch.randn(4, 3)',
                  'torch.randn(5, 2, 10)',
                  '[1, 2]',
                  '{ a: torch.ones(2) }',
                ])
              : undefined;
            decls.push(`const a${k} = ${special || genArg(g)};`);
            names.push(`a${k}`);
          }
          return { decls, call: `m.${key}(${names.join(', ')})` };
        },
      });
    }
  }

  // The other Module methods, on the same layers.
  const mproto = torch.nn.Module.prototype;
  const methods = Object.getOwnPropertyNames(mproto).filter(
    (k) => k !== 'constructor' && typeof Object.getOwnPropertyDescriptor(mproto, k).value === 'function',
  );
  for (const key of methods.sort()) {
    targets.push({
      name: `Module.${key}`,
      weight: 1,
      size: true,
      gen(g) {
        const pre = [`const m = ${g.r.pick(RECIPES).src};`];
        if (g.guided && Object.hasOwn(SIGS, `Module.${key}`)) {
          const { decls, names } = args(g, 0, pre, `Module.${key}`);
          return { decls, call: `m.${key}(${names.join(', ')})` };
        }
        const n = nArgs(g);
        const decls = [...pre];
        const names = [];
        for (let k = 0; k < n; k++) {
          const special = g.r.chance(0.15)
            ? g.r.pick(['m.stateDict()', '[...m.parameters()]', "'weight'", 'm', "'cpu'", "'float64'"])
            : undefined;
          decls.push(`const a${k} = ${special || genArg(g)};`);
          names.push(`a${k}`);
        }
        return { decls, call: `m.${key}(${names.join(', ')})` };
      },
    });
  }
  // Generic operators (torch.ops): about a fifth of the calls.
  let total = 0;
  for (const t of targets) total += t.weight;
  const ops = opTargets(torch, 0);
  for (const t of ops) t.weight = total / 4 / ops.length;
  targets.push(...ops);
  return targets;
}

/** A call from the choices `r` reads: `{ target, decls, call, torchSeed }`. */
function planFrom(targets, r) {
  let total = 0;
  for (const t of targets) total += t.weight;
  let x = r.next() * total;
  let target = targets[targets.length - 1];
  for (const t of targets) {
    x -= t.weight;
    if (x < 0) {
      target = t;
      break;
    }
  }
  const g = {
    r,
    size: target.size,
    depth: 0,
    guided: r.chance(0.5),
    S0: r.weighted([
      [35, S0S[0]],
      [20, S0S[1]],
      [20, S0S[2]],
      [20, S0S[3]],
      [5, S0S[4]],
    ]),
  };
  const { decls, call } = target.gen(g);
  return { target: target.name, decls, call, torchSeed: r.int(CHOICE) };
}

// Shrinks a call's choices: fast-check's own shrinker for arrays of integers (shorter first, then
// each choice towards 0).
const CHOICES = fc.array(fc.nat({ max: CHOICE - 1 }), { maxLength: 1 << 20 });

/** The call replayed from `choices` (a choice past their end reads as 0). */
function replayChoices(targets, choices) {
  let k = 0;
  return planFrom(targets, new Rng(() => (k < choices.length ? choices[k++] : 0)));
}

/**
 * fast-check's arbitrary of calls to `targets`: it draws each choice a call's generators read (so a
 * call takes exactly the choices it needs), and shrinks a call by shrinking its choices. The first
 * choice picks the target, and stays: a call to another target would not be the same problem.
 */
class CallArbitrary extends fc.Arbitrary {
  constructor(targets) {
    super();
    this.targets = targets;
  }
  generate(mrng) {
    const choices = [];
    const plan = planFrom(
      this.targets,
      new Rng(() => {
        const c = mrng.nextInt(0, CHOICE - 1);
        choices.push(c);
        return c;
      }),
    );
    return new fc.Value(plan, { choices, shrinkContext: undefined });
  }
  canShrinkWithoutContext() {
    return false;
  }
  /** Shrinks the choices after the first (the target's): a smaller call to the same target. */
  shrink(_plan, context) {
    if (!context) return fc.Stream.nil();
    const [first, ...rest] = context.choices;
    return CHOICES.shrink(rest, context.shrinkContext).map((v) => {
      const choices = [first, ...v.value];
      return new fc.Value(replayChoices(this.targets, choices), { choices, shrinkContext: v.context });
    });
  }
}

/** Calls `start`..`start + count - 1` of `seed` (run `i` of `fc.check` is call `i`). */
function plansFor(targets, seed, start, count) {
  const plans = [];
  fc.check(
    fc.property(new CallArbitrary(targets), (plan) => {
      plans.push({ index: start + plans.length, ...plan });
      return true;
    }),
    { seed, path: String(start), numRuns: count },
  );
  return plans;
}

/** The call at a fast-check `path` of `seed`: `"i"` is call `i`, `"i:a:b"` a call shrunk from it. */
function planAt(targets, seed, at) {
  let plan;
  fc.check(
    fc.property(new CallArbitrary(targets), (p) => {
      plan = p;
      return false;
    }),
    { seed, path: String(at), endOnFailure: true },
  );
  if (!plan) throw new Error(`fuzz: no call at path ${at} of seed ${seed}`);
  return { index: Number(String(at).split(':')[0]), path: String(at), ...plan };
}

/** The call `index` of `seed`: `{ index, target, decls, call, torchSeed }` (deterministic). */
function planCall(targets, seed, index) {
  return planAt(targets, seed, String(index));
}

/** A standalone repro of a planned call. */
function reproOf(plan, requirePath = ROOT) {
  return [
    `const torch = require(${lit(requirePath)});`,
    `torch.manualSeed(${plan.torchSeed});`,
    ...plan.decls,
    `${plan.call};`,
  ].join('\n');
}

// ---- the child: runs calls and reports ---------------------------------------------------------------
// JavaScript errors that escaped from library code which did not check its arguments (the call
// still threw an Error, which the invariant allows, but the message does not say what was wrong).
const UNVALIDATED_RE =
  /Cannot read propert|Cannot set propert|is not a function|is not iterable|Cannot convert|is not a constructor|Cannot mix BigInt|Maximum call stack|Invalid array length|undefined is not|null is not|Do not know how to serialize|Cannot create property|Reduce of empty array/;
const NOISY_RE = /Exception raised from|frame #\d|\(most recent call first\)/;

function describeValue(v) {
  try {
    if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 100))}`;
    if (typeof v === 'symbol' || typeof v === 'bigint') return `the ${typeof v} ${String(v)}`;
    if (v === null || typeof v !== 'object') return `${typeof v === 'undefined' ? '' : `the ${typeof v} `}${String(v)}`;
    return `an object (${Object.prototype.toString.call(v)}, constructor ${v.constructor?.name})`;
  } catch {
    return 'an undescribable value';
  }
}

/** Tensors reachable from `v` (through arrays, Maps, Sets, plain objects and Modules). */
function collectTensors(torch, v, out, seen = new Set(), depth = 0) {
  if (v === null || (typeof v !== 'object' && typeof v !== 'function') || seen.has(v) || depth > 6) return;
  seen.add(v);
  try {
    if (v instanceof torch.Tensor) {
      out.push(v);
      return;
    }
    if (typeof v === 'function' || ArrayBuffer.isView(v) || util.types.isProxy(v)) return;
    if (v instanceof torch.nn.Module) {
      for (const p of v.parameters()) out.push(p);
      for (const b of v.buffers()) out.push(b);
      return;
    }
    if (Array.isArray(v)) {
      if (v.length <= 1000) for (const x of v) collectTensors(torch, x, out, seen, depth + 1);
      return;
    }
    if (v instanceof Map) {
      for (const [k, x] of v) {
        collectTensors(torch, k, out, seen, depth + 1);
        collectTensors(torch, x, out, seen, depth + 1);
      }
      return;
    }
    if (v instanceof Set) {
      for (const x of v) collectTensors(torch, x, out, seen, depth + 1);
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null)
      for (const k of Object.keys(v)) collectTensors(torch, v[k], out, seen, depth + 1);
  } catch {
    // a getter that throws: nothing more to collect there
  }
}

function newStats() {
  return {
    calls: 0,
    returns: 0,
    throws: {},
    perTarget: {},
    problems: [],
    unvalidated: {},
    setupErrors: 0,
    setupExamples: [],
  };
}

function compile(plan) {
  const names = plan.decls.map((d) => d.match(/^const (\w+) =/)[1]);
  return new Function(
    'torch',
    'require',
    `${plan.decls.join('\n')}\nreturn [() => ${plan.call}, [${names.join(', ')}]];`,
  );
}

function childMain(opts) {
  process.chdir(opts.tmp); // torch.save and friends write relative paths here
  const torch = require(opts.entry);
  const targets = buildTargets(torch);
  const threads = torch.getNumThreads();
  // The calls: those of the seed (generated a batch at a time), or given (a JSON file of plans).
  const given = opts.plans ? JSON.parse(fs.readFileSync(opts.plans, 'utf8')) : null;
  const { seed, deadline } = opts;
  const end = given ? given.length : opts.end;
  let i = opts.start;
  const send = (m) => process.send(m);

  const problem = (stats, kind, plan, extra) => {
    if (stats.problems.length < 200)
      stats.problems.push({
        kind,
        seed,
        index: plan.index,
        target: plan.target,
        call: plan.call,
        repro: reproOf(plan),
        ...extra,
      });
  };

  const runOne = (stats, plan) => {
    send({ t: 's', i, d: `${plan.target}: ${plan.call}`.slice(0, 300), tg: plan.target });
    stats.calls++;
    stats.perTarget[plan.target] ??= [0, 0];
    const pt = stats.perTarget[plan.target];
    pt[0]++;
    torch.setGradEnabled(true);
    if (torch.getNumThreads() !== threads) torch.setNumThreads(threads);
    torch.manualSeed(plan.torchSeed);
    const before = torch.memory().tensors;
    const escaped = [];
    let scopeFailed = false;
    try {
      torch.tidy(() => {
        let thunk, argv;
        try {
          [thunk, argv] = compile(plan)(torch, require);
        } catch (e) {
          stats.setupErrors++;
          if (stats.setupExamples.length < 5)
            stats.setupExamples.push({ index: i, error: String(e?.message), repro: reproOf(plan) });
          return;
        }
        collectTensors(torch, argv, escaped);
        let result,
          threw = false,
          err;
        try {
          result = thunk();
        } catch (e) {
          threw = true;
          err = e;
        }
        if (!threw) {
          stats.returns++;
          pt[1]++;
          collectTensors(torch, result, escaped);
          if (result && typeof result.then === 'function') {
            // An async call: its tensors are in use until it settles (dispose would refuse them);
            // they and the tensors it resolves with are disposed then, before the batch's report.
            const inputs = escaped.splice(0);
            pending.push(
              Promise.resolve(result)
                .then(
                  (v) => {
                    const out = [];
                    collectTensors(torch, v, out);
                    return out;
                  },
                  () => [],
                )
                .then((out) => {
                  for (const t of [...inputs, ...out]) {
                    try {
                      t.dispose();
                    } catch (e) {
                      problem(stats, 'dispose threw', plan, { error: describeValue(e?.message) });
                      break;
                    }
                  }
                }),
            );
          }
          return;
        }
        if (!(err instanceof Error)) {
          stats.throws.nonError = (stats.throws.nonError || 0) + 1;
          problem(stats, 'non-Error throw', plan, { thrown: describeValue(err) });
          return;
        }
        const cls = err.constructor?.name || err.name || 'Error';
        stats.throws[cls] = (stats.throws[cls] || 0) + 1;
        const msg = err.message;
        if (typeof msg !== 'string' || msg.trim() === '') {
          problem(stats, 'empty message', plan, { errorClass: cls, message: describeValue(msg) });
          return;
        }
        // (a method called on a non-tensor receiver may fail as JavaScript does)
        if (
          (UNVALIDATED_RE.test(msg) && !plan.call.includes('torch.Tensor.prototype')) ||
          NOISY_RE.test(msg) ||
          msg.length > 2000
        ) {
          const kind = UNVALIDATED_RE.test(msg) ? 'unvalidated' : 'noisy';
          const key = `${plan.target} | ${cls}: ${msg.slice(0, 160).replace(/\d+/g, 'N')}`;
          stats.unvalidated[key] ??= {
            kind,
            n: 0,
            index: i,
            target: plan.target,
            errorClass: cls,
            message: msg.slice(0, 400),
            repro: reproOf(plan),
          };
          stats.unvalidated[key].n++;
        }
      });
    } catch (e) {
      // The call returned or threw, and then its tidy failed while disposing what it made.
      problem(stats, 'tidy threw', plan, { error: describeValue(e?.message) });
      scopeFailed = true;
    }
    for (const t of escaped) {
      try {
        t.dispose();
      } catch (e) {
        if (!scopeFailed) problem(stats, 'dispose threw', plan, { error: describeValue(e?.message) });
        break;
      }
    }
    // Parameters (and what modules keep) outlive tidy by design and wait for the GC: a call that
    // leaves tensors is only a suspect until the batch's tensors are still there after a GC.
    const after = torch.memory().tensors;
    if (after > before) suspects.push({ plan, tensors: after - before });
  };
  let suspects = [];
  let pending = []; // the batch's async calls (see runOne)

  const finish = () => {
    if (global.gc) global.gc();
    // FinalizationRegistry callbacks run after a collection, on later turns of the event loop.
    setTimeout(() => {
      if (global.gc) global.gc();
      setTimeout(() => {
        send({ t: 'done', next: i, mem: torch.memory() });
        process.disconnect();
      }, 20);
    }, 20);
  };

  // Collects garbage and lets the FinalizationRegistry callbacks run, then calls `k`.
  const settle = (k) => {
    if (!global.gc) {
      setImmediate(k);
      return;
    }
    global.gc();
    setImmediate(() => {
      global.gc();
      setTimeout(k, 1);
    });
  };
  let base = null; // live tensors between batches, after a GC

  const step = () => {
    if (i >= end || Date.now() > deadline) {
      finish();
      return;
    }
    const from = i;
    suspects = [];
    pending = [];
    const batchEnd = Math.min(end, i + BATCH);
    const stats = newStats();
    try {
      const plans = given ? given.slice(i, batchEnd) : plansFor(targets, seed, i, batchEnd - i);
      torch.tidy(() => {
        while (i < batchEnd) {
          runOne(stats, plans[i - from]);
          i++;
        }
      });
    } catch (e) {
      stats.problems.push({ kind: 'batch tidy threw', seed, index: i, error: describeValue(e?.message) });
      i = batchEnd;
    }
    const report = () => {
      const mem = torch.memory();
      if (base !== null && mem.tensors > base) {
        suspects.sort((a, b) => b.tensors - a.tensors);
        for (const s of suspects.slice(0, 5))
          problem(stats, 'leak', s.plan, { tensors: s.tensors, batchLeak: mem.tensors - base });
        if (!suspects.length)
          stats.problems.push({
            kind: 'leak',
            seed,
            index: from,
            description: `calls ${from}..${i - 1} (no single suspect)`,
            tensors: mem.tensors - base,
          });
      }
      base = mem.tensors;
      send({ t: 'b', from, to: i, stats, mem });
      setImmediate(step);
    };
    const settled = () => {
      if (suspects.length) settle(() => settle(report));
      else report();
    };
    if (pending.length) Promise.all(pending).then(settled);
    else settled();
  };
  settle(() => {
    base = torch.memory().tensors;
    send({ t: 'ready', mem: torch.memory() });
    setImmediate(step);
  });
}

// ---- the parent: forks children, watches them, merges their reports -----------------------------------
const parentTargets = new Map();
/** The targets of `entry`, in the parent (which regenerates calls: they are deterministic). */
function targetsOf(entry) {
  if (!parentTargets.has(entry)) parentTargets.set(entry, buildTargets(require(entry)));
  return parentTargets.get(entry);
}

/** The full repro of call `index`. */
function reproFor(seed, index, entry) {
  try {
    return reproOf(planCall(targetsOf(entry), seed, index));
  } catch (e) {
    return `(could not regenerate: ${e?.message})`;
  }
}

function mergeStats(report, s) {
  report.calls += s.calls;
  report.returns += s.returns;
  for (const [k, n] of Object.entries(s.throws)) report.throws[k] = (report.throws[k] || 0) + n;
  for (const [k, [c, r]] of Object.entries(s.perTarget)) {
    report.perTarget[k] ??= [0, 0];
    const pt = report.perTarget[k];
    pt[0] += c;
    pt[1] += r;
  }
  for (const p of s.problems) {
    const list =
      p.kind === 'non-Error throw'
        ? report.nonErrorThrows
        : p.kind === 'empty message'
          ? report.emptyMessages
          : p.kind === 'leak'
            ? report.leaks
            : p.kind === 'tidy threw' || p.kind === 'dispose threw'
              ? report.scopeErrors
              : report.harnessProblems;
    if (list.length < 500) list.push(p);
  }
  for (const [k, u] of Object.entries(s.unvalidated)) {
    const have = report.unvalidated[k];
    if (have) have.n += u.n;
    else report.unvalidated[k] = u;
  }
  report.setupErrors += s.setupErrors;
  for (const e of s.setupExamples) if (report.setupExamples.length < 10) report.setupExamples.push(e);
}

/** Runs one child from `start`; resolves with the index to continue from. */
function runChild(opts, start, end, deadline, report, tmp, log) {
  return new Promise((resolve) => {
    const child = cp.fork(
      __filename,
      [
        '--child',
        '--seed',
        String(opts.seed),
        '--start',
        String(start),
        '--end',
        String(end),
        '--deadline',
        String(deadline),
        '--tmp',
        tmp,
        '--entry',
        opts.entry,
        ...(opts.plansFile ? ['--plans', opts.plansFile] : []),
      ],
      { silent: true, execArgv: ['--expose-gc'] },
    );
    let tail = '';
    const keep = (d) => {
      tail = (tail + d).slice(-6000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let last = Date.now(),
      started = -1,
      batchEnd = start,
      done = null,
      ready = null,
      hung = false;
    child.on('message', (m) => {
      last = Date.now();
      if (m.t === 's') {
        started = m.i;
        report._lastDesc = m.d;
        report._lastTarget = m.tg;
      } else if (m.t === 'b') {
        batchEnd = m.to;
        mergeStats(report, m.stats);
        if (log) log(report);
      } else if (m.t === 'ready') ready = m.mem;
      else if (m.t === 'done') done = m;
    });
    const timer = setInterval(() => {
      if (Date.now() - last > HANG_MS) {
        hung = true;
        child.kill('SIGKILL');
      }
    }, 500);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      if (done) {
        report.segments.push({ start, next: done.next, memStart: ready, memEnd: done.mem });
        // Its calls all reported; what is left is its teardown (the last GC's finalizers, exit
        // handlers, libtorch's static destructors). A crash, an abort, a non-zero exit or a hang
        // there is a problem too (the calls' results stand).
        if (hung || code !== 0 || signal) {
          const rec = {
            kind: hung ? 'child hung after done' : 'child failed after done',
            seed: opts.seed,
            index: null,
            description: `the child that ran calls ${start}..${done.next - 1} ${
              hung
                ? `did not exit within ${HANG_MS / 1000} s`
                : signal
                  ? `was killed by signal ${signal}`
                  : `exited with code ${code}`
            } after reporting done (in its teardown: finalizers, exit handlers, static destructors)`,
            exitCode: code,
            signal: hung ? null : signal,
            output: tail.slice(-3000),
          };
          report.harnessProblems.push(rec);
          if (log) log(report, rec);
        }
        resolve({ next: done.next, progress: true });
        return;
      }
      // Crash or hang: the last announced call is the culprit (calls batchEnd..started-1 ran, but
      // their outcomes were lost with the child).
      const index = started >= batchEnd ? started : null;
      if (index !== null) report.lostCalls += index - batchEnd;
      const rec = {
        kind: hung ? 'hang' : 'crash',
        seed: opts.seed,
        index,
        description: index !== null ? report._lastDesc : '(before its first call)',
        target: index !== null ? report._lastTarget : undefined,
        exitCode: code,
        signal,
        output: tail.slice(-3000),
        repro:
          index === null ? undefined : opts.plans ? reproOf(opts.plans[index]) : reproFor(opts.seed, index, opts.entry),
      };
      (hung ? report.hangs : report.crashes).push(rec);
      if (log) log(report, rec);
      resolve({ next: index !== null ? index + 1 : batchEnd, progress: index !== null || batchEnd > start });
    });
  });
}

function newReport(seed, start, calls) {
  return {
    seed,
    start,
    requested: calls,
    calls: 0,
    returns: 0,
    throws: {},
    crashes: [],
    hangs: [],
    nonErrorThrows: [],
    emptyMessages: [],
    leaks: [],
    scopeErrors: [],
    harnessProblems: [],
    lostCalls: 0,
    setupErrors: 0,
    setupExamples: [],
    unvalidated: {},
    perTarget: {},
    segments: [],
  };
}

// ---- shrinking -----------------------------------------------------------------------------------------
/** Runs `plans` in a child of their own; resolves with its (raw) report. */
async function runPlans(plans, { seed, entry, tmp }) {
  const report = newReport(seed, 0, plans.length);
  const given = plans.map((p, k) => ({ ...p, index: k }));
  const plansFile = path.join(tmp, 'plans.json');
  fs.writeFileSync(plansFile, JSON.stringify(given));
  let next = 0;
  while (next < given.length) {
    const seg = await runChild({ seed, entry, plans: given, plansFile }, next, given.length, 8.64e15, report, tmp);
    if (!seg.progress) break;
    next = seg.next;
  }
  return report;
}

// What makes a shrunk call "the same problem": the kind, and the target, of the original.
const SHRINKABLE = [
  ['crashes', (r, t) => r.crashes.some((p) => p.index !== null && p.target === t)],
  ['nonErrorThrows', (r, t) => r.nonErrorThrows.some((p) => p.target === t)],
  ['emptyMessages', (r, t) => r.emptyMessages.some((p) => p.target === t)],
  ['scopeErrors', (r, t) => r.scopeErrors.some((p) => p.target === t)],
  ['leaks', (r, t) => r.leaks.some((p) => p.target === t)],
];

/**
 * Shrinks call `index` of `seed` with fast-check: it replays the call from its path and tries
 * smaller ones, each in a child of its own, until `same(report)` no longer holds or `budget.left`
 * child runs are spent. Resolves with `{ runs, path, call, repro, replay }`, or `{ runs,
 * reproduced: false }` when the call alone does not show the problem (it needed the calls before it).
 */
async function shrinkCall(index, same, { seed, entry, tmp, budget }) {
  const targets = targetsOf(entry);
  let runs = 0;
  const result = await fc.check(
    fc.asyncProperty(new CallArbitrary(targets), async (plan) => {
      if (budget.left <= 0) return true; // budget spent: the smallest call so far stands
      budget.left--;
      runs++;
      return !same(await runPlans([plan], { seed, entry, tmp }), plan.target);
    }),
    { seed, path: String(index), numRuns: 1 },
  );
  if (!result.failed) return { runs, reproduced: runs === 0 ? null : false };
  const plan = { index, ...result.counterexample[0] };
  const at = result.counterexamplePath;
  return {
    runs,
    path: at,
    call: `${plan.target}: ${plan.call}`,
    repro: reproOf(plan),
    replay: `node test/fuzz/fuzz.js --seed ${seed} --replay ${at}`,
  };
}

/**
 * Shrinks the first problem of each kind (a hang excepted: each try would wait 10 s), each within
 * an equal share of the `shrinkRuns` child runs (what one leaves goes to the next).
 */
async function shrinkProblems(report, opts) {
  let left = opts.shrinkRuns;
  const firsts = [];
  for (const [list, same] of SHRINKABLE) {
    const p = report[list].find((x) => x.index !== null && x.index !== undefined);
    if (p) firsts.push([p, same]);
  }
  for (const kind of ['unvalidated', 'noisy']) {
    const u = Object.values(report.unvalidated).find((x) => x.kind === kind);
    if (u) firsts.push([u, (r, t) => Object.values(r.unvalidated).some((x) => x.kind === kind && x.target === t)]);
  }
  for (const [k, [p, same]] of firsts.entries()) {
    const budget = { left: Math.floor(left / (firsts.length - k)) };
    if (budget.left <= 0) break;
    left -= budget.left;
    try {
      p.shrunk = await shrinkCall(p.index, same, { ...opts, budget });
      // fast-check's smaller value can print longer (a tensor's values for a plain number): the
      // original call is a counterexample too, so keep whichever repro reads shorter
      if (p.shrunk.repro && p.repro && p.shrunk.repro.length > p.repro.length)
        p.shrunk = {
          ...p.shrunk,
          path: String(p.index),
          call: `${p.target}: ${p.call}`,
          repro: p.repro,
          replay: `node test/fuzz/fuzz.js --seed ${opts.seed} --replay ${p.index}`,
        };
      left += budget.left;
    } catch (e) {
      p.shrunk = { error: String(e?.message) };
    }
  }
}

/** Completes a report: totals, memory, `ok`. */
function finish(report, t0, next) {
  delete report._lastDesc;
  delete report._lastTarget;
  report.next = next;
  report.elapsedSec = (Date.now() - t0) / 1000;
  report.executed = report.calls + report.crashes.length + report.hangs.length + report.lostCalls;
  report.callsPerSec = Math.round(report.executed / report.elapsedSec);
  const segs = report.segments;
  report.memory = {
    tensorsAtStart: segs.length ? segs[0].memStart.tensors : null,
    tensorsAtEnd: segs.length ? segs[segs.length - 1].memEnd.tensors : null,
    // summed over the children that finished (a crashed child's tensors died with it)
    leakedTensors: segs.reduce((n, s) => n + s.memEnd.tensors - s.memStart.tensors, 0),
  };
  report.unvalidated = Object.values(report.unvalidated).sort((a, b) => b.n - a.n);
  // Every category counts: a leaking call and an unchecked argument (a JavaScript runtime error
  // or a C++ backtrace that escaped the argument checks) are findings too.
  report.ok =
    !report.crashes.length &&
    !report.hangs.length &&
    !report.nonErrorThrows.length &&
    !report.emptyMessages.length &&
    !report.leaks.length &&
    !report.scopeErrors.length &&
    !report.harnessProblems.length &&
    !report.unvalidated.length &&
    Math.abs(report.memory.leakedTensors) <= 5;
  return report;
}

/**
 * Fuzzes `calls` calls of `seed` from index `start`; resolves with the report (see `summary`).
 * `timeSec` stops early (between batches) once that much time has passed. `entry` is the module
 * to fuzz (default: the package's dist/index.js).
 */
async function run({
  calls = 100000,
  seed = 1,
  start = 0,
  timeSec,
  verbose = false,
  entry = DIST,
  shrinkRuns = SHRINK_RUNS,
} = {}) {
  const t0 = Date.now();
  const deadline = timeSec ? t0 + timeSec * 1000 : 8.64e15;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-fuzz-'));
  const report = newReport(seed, start, calls);
  let lastLog = 0;
  const log = verbose
    ? (r, rec) => {
        if (rec) console.error(`[fuzz] ${rec.kind} at seed ${rec.seed} index ${rec.index}: ${rec.description}`);
        else if (Date.now() - lastLog > 2000) {
          lastLog = Date.now();
          console.error(
            `[fuzz] ${r.calls} calls, ${r.returns} returned, ${r.crashes.length} crashes, ${r.hangs.length} hangs`,
          );
        }
      }
    : undefined;
  let next = start,
    stuck = 0;
  const end = start + calls;
  try {
    while (next < end && Date.now() < deadline) {
      const seg = await runChild({ seed, entry }, next, end, deadline, report, tmp, log);
      next = seg.next;
      stuck = seg.progress ? 0 : stuck + 1;
      if (stuck >= 2) {
        report.harnessProblems.push({
          kind: 'child fails before its first call',
          output: report.crashes.at(-1)?.output,
        });
        break;
      }
    }
    if (shrinkRuns > 0) await shrinkProblems(report, { seed, entry, tmp, shrinkRuns });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return finish(report, t0, next);
}

// ---- report ----------------------------------------------------------------------------------------
/** What shrinking found, for a problem's line. */
function shrunkNote(sh) {
  if (!sh) return '';
  if (sh.replay) return `; minimal call (${sh.runs} shrink runs): ${sh.call.slice(0, 200)}; replay: ${sh.replay}`;
  if (sh.reproduced === false) return '; does not happen alone (needs the calls before it): rerun its batch';
  return '';
}

/** The kinds of problem a report lists per call (the harness's own problems aside). */
const CALL_PROBLEMS = ['crashes', 'hangs', 'nonErrorThrows', 'emptyMessages', 'leaks', 'scopeErrors'];
const callProblems = (report) => CALL_PROBLEMS.flatMap((k) => report[k]);

/** Every problem of a report, one per line with its seed, index and call. */
function problems(report) {
  const out = [];
  const one = (p) =>
    `${p.kind} at seed ${p.seed} index ${p.index}: ${p.description || `${p.target}: ${p.call}`}` +
    `${p.signal ? ` (signal ${p.signal})` : p.exitCode ? ` (exit code ${p.exitCode})` : ''}` +
    `${p.thrown ? ` threw ${p.thrown}` : ''}${p.errorClass ? ` ${p.errorClass} with message ${p.message}` : ''}` +
    `${p.tensors ? ` (+${p.tensors} tensors)` : ''}${p.error ? `: ${p.error}` : ''}${shrunkNote(p.shrunk)}`;
  for (const p of [...callProblems(report), ...report.harnessProblems]) out.push(one(p));
  for (const u of report.unvalidated || []) {
    out.push(
      `unchecked argument (${u.kind}) at seed ${report.seed} index ${u.index}: ${u.target}: ${u.errorClass}: ` +
        `${String(u.message).split('\n')[0].slice(0, 200)}${u.n > 1 ? ` (${u.n} calls)` : ''}${shrunkNote(u.shrunk)}`,
    );
  }
  if (report.memory && Math.abs(report.memory.leakedTensors) > 5)
    out.push(
      `live tensors went from ${report.memory.tensorsAtStart} to ${report.memory.tensorsAtEnd} (${report.memory.leakedTensors} leaked in all)`,
    );
  return out;
}

function summary(report) {
  const pct = (n) => `${((100 * n) / Math.max(1, report.calls)).toFixed(1)}%`;
  const lines = [];
  lines.push(
    `fuzz: seed ${report.seed}, calls ${report.start}..${report.next - 1}: ${report.executed} calls in ${report.elapsedSec.toFixed(1)} s (${report.callsPerSec} calls/s)`,
  );
  lines.push(
    `  returned ${report.returns} (${pct(report.returns)}), threw ${report.calls - report.returns}: ` +
      Object.entries(report.throws)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${n}`)
        .join(', '),
  );
  const pts = Object.entries(report.perTarget);
  const ran = pts.filter(([, [, r]]) => r > 0).length;
  lines.push(`  targets: ${pts.length} called, ${ran} returned normally at least once`);
  lines.push(
    `  crashes ${report.crashes.length}, hangs ${report.hangs.length}, non-Error throws ${report.nonErrorThrows.length}, ` +
      `empty messages ${report.emptyMessages.length}, leaking calls ${report.leaks.length}, tidy failures ${report.scopeErrors.length}, ` +
      `harness problems ${report.harnessProblems.length}, calls lost in crashes ${report.lostCalls}`,
  );
  lines.push(
    `  live tensors: ${report.memory.tensorsAtStart} at start, ${report.memory.tensorsAtEnd} at end (${report.memory.leakedTensors} leaked)`,
  );
  if (report.setupErrors) lines.push(`  argument set-up threw ${report.setupErrors} times (fuzzer-side, not counted)`);
  if (report.unvalidated.length) {
    lines.push(
      `  unchecked arguments (a JavaScript runtime error, or a C++ backtrace, escaped): ${report.unvalidated.length} kinds, e.g.`,
    );
    for (const u of report.unvalidated.slice(0, 10))
      lines.push(
        `    [${u.n}x, index ${u.index}] ${u.target}: ${u.errorClass}: ${u.message.split('\n')[0].slice(0, 150)}`,
      );
  }
  const ps = problems(report);
  if (ps.length) {
    lines.push('PROBLEMS:');
    for (const p of ps) lines.push(`  ${p}`);
    for (const p of [
      ...callProblems(report),
      ...(report.unvalidated || []).map((u) => ({ ...u, kind: `unchecked argument (${u.kind})` })),
    ].slice(0, 20))
      if (p.shrunk?.repro)
        lines.push(
          `--- minimal repro of ${p.kind} at index ${p.index} (fast-check shrank it in ${p.shrunk.runs} child runs; ` +
            `replay: ${p.shrunk.replay}):\n${p.shrunk.repro}`,
        );
      else if (p.repro) lines.push(`--- repro of ${p.kind} at index ${p.index}:\n${p.repro}`);
    for (const p of report.harnessProblems.slice(0, 5))
      if (p.output) lines.push(`--- output of ${p.kind}:\n${p.output.slice(-1500)}`);
  } else {
    lines.push(
      'OK: no crashes, hangs, non-Error throws, empty messages, leaks, tidy failures, harness problems or unchecked arguments',
    );
  }
  return lines.join('\n');
}

// ---- command line ------------------------------------------------------------------------------------
const USAGE = `Usage:
  node test/fuzz/fuzz.js [--calls N] [--seed S] [--start I] [--time SEC] [--json [FILE]] [--verbose] [--shrink-runs N]
  node test/fuzz/fuzz.js --seed S --print I[,J...]     the repro of call I of seed S (or of a fast-check path I:a:b)
  node test/fuzz/fuzz.js --seed S --replay PATH        runs the call at a fast-check path (what a report prints)

  --calls N         calls to make (default 100000)
  --seed S          the seed (default 1)
  --start I         the first call's index (default 0)
  --time SEC        stop after SEC seconds (between batches)
  --json [FILE]     write the report there (default fuzz-report-<seed>.json) instead of printing it
  --verbose         progress and problems on stderr as they come
  --shrink-runs N   child runs that shrinking may take, in all (default ${SHRINK_RUNS}; 0: no shrinking)
  --help            this text`;

/** The command line's options (node:util parseArgs; an unknown option is an error). */
function parseCli(argv) {
  // \`--json\` without a file means the default file: parseArgs' string options need a value.
  const args = argv.map((a, k) =>
    a === '--json' && (k + 1 >= argv.length || argv[k + 1].startsWith('-')) ? '--json=' : a,
  );
  const { values } = util.parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      calls: { type: 'string' },
      seed: { type: 'string' },
      start: { type: 'string' },
      time: { type: 'string' },
      json: { type: 'string' },
      verbose: { type: 'boolean' },
      print: { type: 'string' },
      replay: { type: 'string' },
      'shrink-runs': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      // the child's, from the parent
      child: { type: 'boolean' },
      end: { type: 'string' },
      deadline: { type: 'string' },
      tmp: { type: 'string' },
      entry: { type: 'string' },
      plans: { type: 'string' },
    },
  });
  const num = (name, fallback, min = 0) => {
    const v = values[name];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min)
      throw new Error(`fuzz: --${name} expects an integer >= ${min}, got '${v}'`);
    return n;
  };
  return {
    ...values,
    calls: num('calls', 100000, 1),
    seed: num('seed', 1),
    start: num('start', 0),
    time: num('time', undefined, 1),
    shrinkRuns: num('shrink-runs', SHRINK_RUNS),
    end: num('end', undefined),
    deadline: num('deadline', undefined),
  };
}

module.exports = { run, summary, problems, planCall, planAt, plansFor, buildTargets, reproOf, CallArbitrary };

async function replay(seed, at) {
  const plan = planAt(targetsOf(DIST), seed, at);
  console.log(`// seed ${seed}, path ${at}\n${reproOf(plan)}\n`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-fuzz-'));
  try {
    const report = finish(await runPlans([plan], { seed, entry: DIST, tmp }), Date.now(), 1);
    const ps = problems(report);
    console.log(
      ps.length ? `PROBLEMS:\n  ${ps.join('\n  ')}` : 'OK: the call returned or threw an Error with a message',
    );
    return report.ok;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function main() {
  let a;
  try {
    a = parseCli(process.argv.slice(2));
  } catch (e) {
    console.error(`${e.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (a.help) {
    console.log(USAGE);
  } else if (a.child) {
    childMain({
      seed: a.seed,
      start: a.start,
      end: a.end,
      deadline: a.deadline,
      tmp: a.tmp,
      entry: a.entry,
      plans: a.plans,
    });
  } else if (a.print !== undefined) {
    const targets = targetsOf(DIST);
    for (const at of a.print.split(','))
      console.log(`// seed ${a.seed}, path ${at}\n${reproOf(planAt(targets, a.seed, at))}\n`);
  } else if (a.replay !== undefined) {
    replay(a.seed, a.replay).then(
      (ok) => {
        process.exitCode = ok ? 0 : 1;
      },
      (e) => {
        console.error(e);
        process.exitCode = 2;
      },
    );
  } else {
    run({
      calls: a.calls,
      seed: a.seed,
      start: a.start,
      timeSec: a.time,
      verbose: !!a.verbose,
      shrinkRuns: a.shrinkRuns,
    }).then(
      (report) => {
        if (a.json !== undefined)
          fs.writeFileSync(a.json === '' ? `fuzz-report-${report.seed}.json` : a.json, JSON.stringify(report, null, 2));
        else console.log(JSON.stringify({ ...report, perTarget: undefined, segments: undefined }, null, 2));
        console.log(summary(report));
        process.exitCode = report.ok ? 0 : 1;
      },
      (e) => {
        console.error(e);
        process.exitCode = 2;
      },
    );
  }
}

if (require.main === module) main();
