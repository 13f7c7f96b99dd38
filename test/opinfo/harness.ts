// Replays the OpInfo fixture (test/fixtures/opinfo/opinfo.json.gz, written by
// test/fixtures/gen/gen_opinfo_fixtures.py) through the public API of the package.
//
// An OpInfo name resolves by PyTorch name -> camelCase: `index_select` -> `torch.indexSelect` and
// `x.indexSelect`, `add_` -> `x.add_`, `nn.functional.log_softmax` -> `torch.nn.functional.logSoftmax`,
// `linalg.vector_norm` -> `torch.linalg.vectorNorm`. Positional arguments go as in PyTorch;
// keyword arguments go in one trailing options object with camelCase keys. Nothing here is
// specific to one op: a binding added to the package is picked up by the next run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import * as torch from '../../lib';
import { decodeValue } from '../helpers';

export interface Encoded {
  dtype: torch.DType;
  shape: number[];
  values: (number | boolean | string)[];
}

/** An argument tree: tensors, dtypes, non-finite floats, lists, numbers, strings, null. */
export type Arg =
  | { tensor: Encoded; grad?: boolean }
  | { dtype: torch.DType }
  | { float: string }
  | { ref: number }
  | Arg[]
  | number
  | boolean
  | string
  | null;

export interface Moments {
  dtype: string;
  shape: number[];
  mean: number | null;
  std: number | null;
}

export interface Sample {
  dtype: string;
  input: Arg;
  args: Arg[];
  kwargs: Record<string, Arg>;
  variants: Variant[];
  kind: 'exact' | 'random' | 'nondeterministic';
  output?: Arg;
  moments?: Moments[];
  grads?: (Encoded | null)[];
  projected?: number[];
  gradError?: string;
  shrunk?: number;
  /** the same call with keyword arguments in their positional slots, where PyTorch allows it */
  positional?: { args: Arg[]; kwargs: Record<string, Arg> };
}

export type Variant = 'function' | 'method' | 'inplace';

export interface OpEntry {
  name: string;
  variant: string;
  key: string;
  namespace: string;
  public: Variant[];
  autograd: boolean;
  samples: Sample[];
  skipped: Record<string, string>;
  reason?: string;
  noFloatKernel?: boolean;
}

export interface OpFixture {
  torch: string;
  ops: OpEntry[];
}

export const ROOT = process.cwd();
export const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'opinfo', 'opinfo.json.gz');
export const EXPECTED = path.join(ROOT, 'test', 'opinfo', 'expected_pass.json');

export function loadFixture(): OpFixture {
  return JSON.parse(zlib.gunzipSync(fs.readFileSync(FIXTURE)).toString('utf8')) as OpFixture;
}

export function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** The rows of the coverage table. */
export const ROWS = ['torch', 'Tensor', 'Tensor (in-place)', 'nn.functional', 'linalg', 'special', 'fft'] as const;
export type Row = (typeof ROWS)[number];

const PREFIXED: Record<string, Row> = {
  'nn.functional': 'nn.functional',
  linalg: 'linalg',
  special: 'special',
  fft: 'fft',
};

/** (row, variant) pairs an OpInfo entry has in PyTorch's public API. */
export function rowsOf(op: OpEntry): [Row, Variant][] {
  const pre = PREFIXED[op.namespace];
  if (pre !== undefined) return op.public.includes('function') ? [[pre, 'function']] : [];
  if (op.namespace !== 'torch') return [];
  const rows: [Row, Variant][] = [];
  if (op.public.includes('function')) rows.push(['torch', 'function']);
  if (op.public.includes('method')) rows.push(['Tensor', 'method']);
  if (op.public.includes('inplace')) rows.push(['Tensor (in-place)', 'inplace']);
  return rows;
}

/** How a variant is spelled in the package: `torch.linalg.vectorNorm`, `Tensor.add_`, ... */
export function jsName(op: OpEntry, variant: Variant): string {
  const pre = PREFIXED[op.namespace];
  if (pre !== undefined) {
    const rest = camel(op.name.slice(op.namespace.length + 1));
    return pre === 'nn.functional' ? `torch.nn.functional.${rest}` : `torch.${pre}.${rest}`;
  }
  if (variant === 'function') return `torch.${camel(op.name)}`;
  if (variant === 'method') return `Tensor.${camel(op.name)}`;
  return `Tensor.${camel(op.name)}_`;
}

type Fn = (...a: unknown[]) => unknown;

/** The package's callable for a variant, or undefined when the package has none. */
export function resolve(op: OpEntry, variant: Variant): ((input: unknown, ...a: unknown[]) => unknown) | undefined {
  const lib = torch as unknown as Record<string, unknown>;
  const pre = PREFIXED[op.namespace];
  if (pre !== undefined) {
    const nsObj = (pre === 'nn.functional' ? (lib.nn as Record<string, unknown>).functional : lib[pre]) as
      | Record<string, unknown>
      | undefined;
    const f = nsObj?.[camel(op.name.slice(op.namespace.length + 1))];
    return typeof f === 'function' ? (f as Fn) : undefined;
  }
  if (variant === 'function') {
    const f = lib[camel(op.name)];
    return typeof f === 'function' ? (f as Fn) : undefined;
  }
  const m = camel(op.name) + (variant === 'inplace' ? '_' : '');
  const proto = torch.Tensor.prototype as unknown as Record<string, unknown>;
  const d = findDescriptor(proto, m);
  if (d === undefined || typeof d.value !== 'function') return undefined;
  return (input: unknown, ...a: unknown[]) => {
    if (!(input instanceof torch.Tensor)) throw new TypeError(`${m}: the sample's input is not a Tensor`);
    const f = (input as unknown as Record<string, Fn>)[m];
    return f.apply(input, a);
  };
}

function findDescriptor(o: object | null, k: string): PropertyDescriptor | undefined {
  for (let p = o; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    const d = Object.getOwnPropertyDescriptor(p, k);
    if (d !== undefined) return d;
  }
  return undefined;
}

export function fromEncoded(e: Encoded, requiresGrad = false): torch.Tensor {
  const values = e.values.map(decodeValue);
  let flat: torch.Tensor;
  // an empty list carries no dtype of its own (torch.tensor([]) is float32)
  if (values.length === 0) flat = torch.zeros([0], { dtype: e.dtype });
  else if (e.dtype === 'bool') flat = torch.tensor(values as boolean[]);
  else if (e.dtype === 'int64') flat = torch.tensor((values as number[]).map((v) => BigInt(v)));
  else flat = torch.tensor(values as number[], { dtype: e.dtype });
  const t = flat.reshape(e.shape);
  if (requiresGrad) t.requiresGrad_(true);
  return t;
}

function isObj(a: Arg): a is Exclude<Arg, Arg[] | number | boolean | string | null> {
  return typeof a === 'object' && a !== null && !Array.isArray(a);
}

/**
 * Builds the JS value of an argument tree; tensors marked `grad` are pushed onto `leaves`, every
 * tensor onto `all`, and `{ref: i}` stands for `refs[i]`.
 */
export function decode(a: Arg, leaves: torch.Tensor[], all: torch.Tensor[], refs: torch.Tensor[] = []): unknown {
  if (Array.isArray(a)) return a.map((v) => decode(v, leaves, all, refs));
  if (!isObj(a)) return a;
  if ('ref' in a) return refs[a.ref];
  if ('tensor' in a) {
    const t = fromEncoded(a.tensor, a.grad === true);
    if (a.grad) leaves.push(t);
    all.push(t);
    return t;
  }
  if ('dtype' in a) return a.dtype;
  return decodeValue(a.float);
}

export interface Tol {
  rtol: number;
  atol: number;
}

const TOL: Record<string, Tol> = {
  float32: { rtol: 1e-5, atol: 1e-5 },
  float64: { rtol: 1e-9, atol: 1e-10 },
  float16: { rtol: 1e-3, atol: 1e-3 },
  bfloat16: { rtol: 1e-2, atol: 1e-2 },
};
const GRAD_TOL: Record<string, Tol> = {
  float32: { rtol: 1e-4, atol: 1e-4 },
  float64: { rtol: 1e-8, atol: 1e-8 },
};

function jsValues(t: torch.Tensor): (number | boolean)[] {
  const d = t.data();
  const out: (number | boolean)[] = [];
  const isBool = t.dtype === 'bool';
  for (let i = 0; i < d.length; i++) {
    const v = d[i] as number | bigint;
    out.push(isBool ? v !== 0 : Number(v));
  }
  return out;
}

function closeNum(x: number, y: number, tol: Tol): boolean {
  if (Number.isNaN(y)) return Number.isNaN(x);
  if (!Number.isFinite(y)) return x === y;
  return Math.abs(x - y) <= tol.atol + tol.rtol * Math.abs(y);
}

/** Compares a tensor with its encoding; returns a message or undefined. */
export function compareTensor(actual: unknown, e: Encoded, where: string, tol?: Tol): string | undefined {
  if (!(actual instanceof torch.Tensor)) return `${where}: expected a Tensor, got ${describe(actual)}`;
  if (actual.dtype !== e.dtype) return `${where}: dtype ${actual.dtype}, PyTorch gives ${e.dtype}`;
  if (JSON.stringify(actual.shape) !== JSON.stringify(e.shape))
    return `${where}: shape [${actual.shape}], PyTorch gives [${e.shape}]`;
  const got = jsValues(actual);
  const want = e.values.map(decodeValue);
  const t = tol ?? TOL[e.dtype];
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const g = got[i];
    const ok = t !== undefined && typeof w === 'number' ? closeNum(g as number, w, t) : g === w;
    if (!ok) return `${where}: element ${i} is ${g}, PyTorch gives ${w}`;
  }
  return undefined;
}

function describe(v: unknown): string {
  if (v instanceof torch.Tensor) return `Tensor(${v.dtype}, [${v.shape}])`;
  if (Array.isArray(v)) return `array(${v.length})`;
  return typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? String(v));
}

/** Compares an output tree; returns a message or undefined. */
export function compareOut(actual: unknown, expected: Arg, where: string): string | undefined {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${where}: expected ${expected.length} results, got ${describe(actual)}`;
    if (actual.length !== expected.length)
      return `${where}: ${actual.length} results, PyTorch gives ${expected.length}`;
    for (let i = 0; i < expected.length; i++) {
      const m = compareOut(actual[i], expected[i], `${where}[${i}]`);
      if (m) return m;
    }
    return undefined;
  }
  if (isObj(expected)) {
    if ('tensor' in expected) return compareTensor(actual, expected.tensor, where);
    if ('float' in expected) {
      const w = decodeValue(expected.float) as number;
      return typeof actual === 'number' && closeNum(actual, w, TOL.float64)
        ? undefined
        : `${where}: ${describe(actual)}, PyTorch gives ${expected.float}`;
    }
    return `${where}: unexpected dtype result`;
  }
  if (typeof expected === 'number') {
    const a = typeof actual === 'bigint' ? Number(actual) : actual;
    return typeof a === 'number' && closeNum(a, expected, TOL.float64)
      ? undefined
      : `${where}: ${describe(actual)}, PyTorch gives ${expected}`;
  }
  return actual === expected ? undefined : `${where}: ${describe(actual)}, PyTorch gives ${JSON.stringify(expected)}`;
}

function flatTensors(v: unknown): torch.Tensor[] {
  if (v instanceof torch.Tensor) return [v];
  if (Array.isArray(v)) return v.flatMap(flatTensors);
  return [];
}

/** R_k[i] = ((5 i + 3 k) % 11 - 5) / 8, the generator's projection pattern. */
function projection(o: torch.Tensor, k: number): torch.Tensor {
  const n = o.numel();
  const r: number[] = [];
  for (let i = 0; i < n; i++) r.push((((5 * i + 3 * k) % 11) - 5) / 8);
  return torch.tensor(r, { dtype: o.dtype }).reshape([...o.shape]);
}

function checkMoments(actual: unknown, ms: Moments[]): string | undefined {
  const ts = flatTensors(actual);
  if (ts.length !== ms.length) return `${ts.length} tensors, PyTorch gives ${ms.length}`;
  for (let k = 0; k < ms.length; k++) {
    const t = ts[k];
    const m = ms[k];
    if (t.dtype !== m.dtype) return `output ${k}: dtype ${t.dtype}, PyTorch gives ${m.dtype}`;
    if (JSON.stringify(t.shape) !== JSON.stringify(m.shape))
      return `output ${k}: shape [${t.shape}], PyTorch gives [${m.shape}]`;
    if (m.mean === null || t.numel() < 8) continue;
    const v = jsValues(t).map(Number);
    const n = v.length;
    const mean = v.reduce((s, x) => s + x, 0) / n;
    const sd = m.std ?? 0;
    // a loose band: samples are small, so this catches wrong distributions, not noise
    if (Math.abs(mean - m.mean) > 6 * (sd / Math.sqrt(n)) + 0.25 * Math.abs(m.mean) + 1e-6)
      return `output ${k}: mean ${mean}, PyTorch's sample mean ${m.mean} (std ${sd})`;
    if (m.std !== null && n > 1) {
      const s = Math.sqrt(v.reduce((acc, x) => acc + (x - mean) ** 2, 0) / (n - 1));
      if (Math.abs(s - m.std) > m.std * (0.3 + 3 / Math.sqrt(n)) + 1e-6)
        return `output ${k}: std ${s}, PyTorch's sample std ${m.std}`;
    }
  }
  return undefined;
}

/** Runs one sample through one variant; returns a failure message or undefined. */
export function runSample(
  fn: (input: unknown, ...a: unknown[]) => unknown,
  s: Sample,
  variant: Variant,
  name: string,
  form: { args: Arg[]; kwargs: Record<string, Arg> } = s,
): string | undefined {
  // in-place spellings (x.add_, and methods whose PyTorch name ends in _, like zero_) work on a copy
  const inPlace = variant === 'inplace' || name.endsWith('_');
  return torch.tidy(() => {
    // the sample's own call first: its tensors (`all`) and those that require grad (`leaves`),
    // in the order of the recorded gradients; the positional form refers to them by index
    const leaves: torch.Tensor[] = [];
    const all: torch.Tensor[] = [];
    const input = decode(s.input, leaves, all);
    let args = s.args.map((a) => decode(a, leaves, all));
    let kwargs = Object.fromEntries(Object.entries(s.kwargs).map(([k, v]) => [k, decode(v, leaves, all)]));
    if (form !== s) {
      args = form.args.map((a) => decode(a, [], [], all));
      kwargs = Object.fromEntries(Object.entries(form.kwargs).map(([k, v]) => [k, decode(v, [], [], all)]));
    }
    const keys = Object.keys(kwargs);
    if (keys.length > 0) {
      const opts: Record<string, unknown> = {};
      for (const k of keys) opts[camel(k)] = kwargs[k];
      args.push(opts);
    }
    let callInput = input;
    if (inPlace) {
      // PyTorch's in-place call works on a copy of the input (a leaf that requires grad cannot be modified)
      if (!(input instanceof torch.Tensor)) return `${name}: in-place sample without a Tensor input`;
      callInput = torch.noGrad(() => input.clone());
    }
    let out: unknown;
    if (s.kind === 'random') torch.manualSeed(0); // the same draws on every run: no flaky moments
    try {
      out = inPlace ? torch.noGrad(() => fn(callInput, ...args)) : fn(callInput, ...args);
    } catch (e) {
      return `${name} threw: ${(e as Error).message?.split('\n')[0]}`;
    }
    if (inPlace && out !== callInput) return `${name}: the in-place call did not return its input`;
    if (s.kind !== 'exact') return checkMoments(out, s.moments ?? []);
    const m = compareOut(out, s.output ?? null, 'output');
    if (m) return `${name}: ${m}`;
    if (s.grads === undefined || inPlace) return undefined;
    const outs = flatTensors(out);
    let proj: torch.Tensor | undefined;
    for (const k of s.projected ?? []) {
      const o = outs[k];
      if (!o.requiresGrad) return `${name}: output ${k} does not require grad`;
      const term = o.mul(projection(o, k)).sum();
      proj = proj === undefined ? term : proj.add(term);
    }
    if (proj === undefined) return undefined;
    try {
      proj.backward();
    } catch (e) {
      return `${name} backward threw: ${(e as Error).message?.split('\n')[0]}`;
    }
    for (let i = 0; i < s.grads.length; i++) {
      const want = s.grads[i];
      const got = leaves[i].grad;
      if (want === null) {
        if (got !== null && jsValues(got).some((v) => v !== 0)) return `${name}: grad ${i} is not zero`;
        continue;
      }
      const gm = compareTensor(
        got ?? torch.zerosLike(leaves[i]),
        want,
        `grad of tensor input ${i}`,
        GRAD_TOL[want.dtype],
      );
      if (gm) return `${name}: ${gm}`;
    }
    return undefined;
  });
}

export type Status = 'pass' | 'fail' | 'missing' | 'left out';

export interface Result {
  op: OpEntry;
  row: Row;
  variant: Variant;
  js: string;
  status: Status;
  detail: string;
  samples: number;
}

/** Runs every (OpInfo entry, public variant) pair. */
export function runAll(fx: OpFixture): Result[] {
  const results: Result[] = [];
  for (const op of fx.ops) {
    for (const [row, variant] of rowsOf(op)) {
      const js = jsName(op, variant);
      const samples = op.samples.filter((s) => s.variants.includes(variant));
      const base = { op, row, variant, js, samples: samples.length };
      if (samples.length === 0) {
        const why = op.reason ?? `no sample reproduced by PyTorch's ${variant} variant`;
        results.push({ ...base, status: 'left out', detail: why });
        continue;
      }
      const fn = resolve(op, variant);
      if (fn === undefined) {
        results.push({ ...base, status: 'missing', detail: `${js} does not exist` });
        continue;
      }
      let detail = '';
      for (const s of samples) {
        let m = runSample(fn, s, variant, js);
        if (m !== undefined && s.positional !== undefined && runSample(fn, s, variant, js, s.positional) === undefined)
          m = undefined;
        if (m !== undefined) {
          detail = `${s.dtype} sample: ${m}`;
          break;
        }
      }
      results.push({ ...base, status: detail ? 'fail' : 'pass', detail });
    }
  }
  return results;
}

export function resultKey(r: { op: OpEntry; variant: Variant }): string {
  return `${r.op.key}|${r.variant}`;
}
