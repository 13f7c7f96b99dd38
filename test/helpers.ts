// Shared helpers for the tensor integration tests: value comparison with tolerance and the
// PyTorch fixture (test/fixtures/tensor_ops.json, written by test/fixtures/gen/gen_tensor_fixtures.py).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../lib';

/** A tensor as the fixture stores it: shape, dtype and flat row-major values. */
export interface Encoded {
  shape: number[];
  dtype: torch.DType;
  /** numbers, booleans, or 'nan' / 'inf' / '-inf' for non-finite floats */
  values: (number | boolean | string)[];
}

export interface GradCase {
  out: Encoded;
  grads: Record<string, Encoded>;
}

export type IndexSpecItem = number | string | null | { tensor: Encoded };

export interface Fixture {
  inputs: Record<string, Encoded>;
  outputs: Record<string, Encoded | Encoded[] | GradCase>;
  index: { input: string; spec: IndexSpecItem[]; out: Encoded }[];
  gradfn: Record<string, string>;
}

export type Nested = number | boolean | Nested[];

export interface Tolerance {
  /** relative tolerance (default 1e-5) */
  rtol?: number;
  /** absolute tolerance (default 1e-6) */
  atol?: number;
}

let cached: Fixture | undefined;

/** The PyTorch fixture (loaded once; tests run from the repository root). */
export function fixture(): Fixture {
  if (!cached) {
    const file = path.join(process.cwd(), 'test', 'fixtures', 'tensor_ops.json');
    cached = JSON.parse(fs.readFileSync(file, 'utf8')) as Fixture;
  }
  return cached;
}

/** A fixture value: numbers and booleans as they are, NaN and ±Infinity as 'nan' / 'inf' / '-inf'. */
export function decodeValue(v: number | boolean | string): number | boolean {
  if (typeof v !== 'string') return v;
  if (v === 'nan') return NaN;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  throw new Error(`fixture: unexpected value ${JSON.stringify(v)}`);
}

/** Builds the tensor an encoded fixture entry describes (with torch.tensor, as a user would). */
export function fromEncoded(e: Encoded, opts: { requiresGrad?: boolean } = {}): torch.Tensor {
  const values = e.values.map(decodeValue);
  let flat: torch.Tensor;
  // the dtype is given even where the values imply it: an empty array would otherwise be float32
  if (e.dtype === 'bool') flat = torch.tensor(values as boolean[], { dtype: 'bool' });
  else if (e.dtype === 'int64')
    flat = torch.tensor(
      (values as number[]).map((v) => BigInt(v)),
      { dtype: 'int64' },
    );
  else flat = torch.tensor(values as number[], { dtype: e.dtype });
  const t = flat.reshape(e.shape);
  flat.dispose();
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** A fixture input by name (a fresh leaf tensor each call). */
export function input(name: string, opts: { requiresGrad?: boolean } = {}): torch.Tensor {
  const e = fixture().inputs[name];
  if (e === undefined) throw new Error(`fixture: no input named ${name}`);
  return fromEncoded(e, opts);
}

/** A fixture output (one tensor) by name. */
export function output(name: string): Encoded {
  const e = fixture().outputs[name];
  if (e === undefined) throw new Error(`fixture: no output named ${name}`);
  if (Array.isArray(e) || !('values' in e)) throw new Error(`fixture: ${name} is not a single tensor`);
  return e;
}

/** A fixture output that is a list of tensors (max(dim), chunk, split). */
export function outputs(name: string): Encoded[] {
  const e = fixture().outputs[name];
  if (!Array.isArray(e)) throw new Error(`fixture: ${name} is not a list of tensors`);
  return e;
}

/** An autograd case: the value and the gradient of each input. */
export function gradCase(name: string): GradCase {
  const e = fixture().outputs[`grad.${name}`];
  if (e === undefined || Array.isArray(e) || !('grads' in e)) throw new Error(`fixture: no grad case ${name}`);
  return e;
}

function shapeOf(v: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

function flatten(v: Nested, out: (number | boolean)[] = []): (number | boolean)[] {
  if (Array.isArray(v)) for (const x of v) flatten(x, out);
  else out.push(v);
  return out;
}

function isEncoded(v: unknown): v is Encoded {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'values' in v && 'shape' in v;
}

function flatValues(t: torch.Tensor): (number | boolean)[] {
  const d = t.data();
  const isBool = t.dtype === 'bool';
  const out: (number | boolean)[] = new Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    out[i] = isBool ? v !== 0 : typeof v === 'bigint' ? Number(v) : v;
  }
  return out;
}

function close(actual: number, expected: number, rtol: number, atol: number): boolean {
  if (Number.isNaN(expected)) return Number.isNaN(actual);
  if (!Number.isFinite(expected)) return actual === expected;
  return Math.abs(actual - expected) <= atol + rtol * Math.abs(expected);
}

/**
 * Checks a tensor's shape and values against nested arrays / a number, or against a fixture
 * entry (whose dtype is checked too). Floats compare with tolerance, NaN equals NaN; ints
 * and bools compare exactly.
 */
export function expectClose(t: torch.Tensor, expected: Nested | Encoded, tol: Tolerance = {}, what = 'tensor'): void {
  expect(t, `${what} is a Tensor`).to.be.instanceOf(torch.Tensor);
  const rtol = tol.rtol ?? 1e-5;
  const atol = tol.atol ?? 1e-6;
  let shape: number[];
  let values: (number | boolean)[];
  if (isEncoded(expected)) {
    shape = expected.shape;
    values = expected.values.map(decodeValue);
    expect(t.dtype, `${what} dtype`).to.equal(expected.dtype);
  } else {
    shape = shapeOf(expected);
    values = flatten(expected);
  }
  expect([...t.shape], `${what} shape`).to.deep.equal(shape);
  const actual = flatValues(t);
  expect(actual.length, `${what} numel`).to.equal(values.length);
  for (let i = 0; i < values.length; i++) {
    const e = values[i],
      a = actual[i];
    if (typeof e === 'boolean' || typeof a === 'boolean') {
      expect(a, `${what}[flat ${i}]`).to.equal(e);
    } else if (!close(a, e, rtol, atol)) {
      expect.fail(
        `${what}[flat ${i}]: expected ${e}, got ${a} (rtol ${rtol}, atol ${atol})\n` +
          `  actual:   [${actual.slice(0, 24).join(', ')}${actual.length > 24 ? ', …' : ''}]\n` +
          `  expected: [${values.slice(0, 24).join(', ')}${values.length > 24 ? ', …' : ''}]`,
      );
    }
  }
}

/** Shape, dtype and exact values (for integer-valued results). */
export function expectExact(t: torch.Tensor, expected: Nested, dtype?: torch.DType, what = 'tensor'): void {
  if (dtype !== undefined) expect(t.dtype, `${what} dtype`).to.equal(dtype);
  expectClose(t, expected, { rtol: 0, atol: 0 }, what);
}

/**
 * Runs `fn`, which must throw an instance of `cls` whose message matches every pattern; returns
 * the error.
 */
export function expectError<E extends Error>(
  fn: () => unknown,
  cls: new (...args: never[]) => E,
  ...patterns: (RegExp | string)[]
): E {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) expect.fail(`expected a ${cls.name} to be thrown, but nothing was thrown`);
  if (!(thrown instanceof cls)) {
    expect.fail(`expected a ${cls.name}, got ${(thrown as Error)?.constructor?.name}: ${(thrown as Error)?.message}`);
  }
  const err = thrown as E;
  expect(err).to.be.instanceOf(Error);
  for (const p of patterns) {
    if (typeof p === 'string') expect(err.message, 'error message').to.include(p);
    else expect(err.message, 'error message').to.match(p);
  }
  expect(err.message, 'no C++ backtrace in the message').to.not.match(/Exception raised from|frame #\d/);
  return err;
}

/** Turns a fixture index spec into `Tensor.index` items. */
export function indexItems(spec: IndexSpecItem[]): torch.IndexItem[] {
  return spec.map((s) => (s !== null && typeof s === 'object' ? fromEncoded(s.tensor) : s));
}

/** A readable name for an index spec: `[0, ':', tensor([1, 0])]`. */
export function describeSpec(spec: IndexSpecItem[]): string {
  return `[${spec
    .map((s) => {
      if (s === null) return 'null';
      if (typeof s === 'string') return `'${s}'`;
      if (typeof s === 'number') return String(s);
      return `${s.tensor.dtype} tensor ${JSON.stringify(s.tensor.values)} shape [${s.tensor.shape}]`;
    })
    .join(', ')}]`;
}

// ---- shared by the async, hostile-file and race tests -------------------------------------------

/** Two tensors are the same exactly: shape, dtype and every value. */
export function expectSame(a: torch.Tensor, b: torch.Tensor, what = 'output'): void {
  expect(a.shape, `${what}: shape`).to.deep.equal(b.shape);
  expect(a.dtype, `${what}: dtype`).to.equal(b.dtype);
  expect(a.equal(b), `${what}: values differ`).to.equal(true);
}

/** The Error a Promise rejects with; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the Promise to reject');
}

/** A full garbage collection now (mocha runs with --expose-gc). */
export function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run mocha with --expose-gc');
  g();
}

/**
 * Frees the garbage earlier tests left (tensors they dropped without dispose), so that a test that
 * counts live tensors is not disturbed when a GC collects them in the middle of it: a full GC runs
 * the finalizers of large tensors at once, and the FinalizationRegistry callbacks of small ones run
 * on a later turn of the event loop, so wait for those and collect again.
 */
export async function settleGarbage(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** A seeded PRNG (mulberry32), so that every run tries the same variants. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * How far `fn` raised the process's peak resident memory, in bytes (getrusage's ru_maxrss: a
 * high-water mark, so a growth already reached earlier in the run is not counted again). A bound
 * on what `fn` allocated that does not depend on how loaded the machine is, unlike a time limit.
 */
export function peakRssGrowth(fn: () => void): number {
  const before = process.resourceUsage().maxRSS;
  fn();
  return (process.resourceUsage().maxRSS - before) * 1024;
}

/** 256 MiB: far more than any test here needs, far less than a huge allocation that was not refused. */
export const MAX_PEAK_GROWTH = 256 * 2 ** 20;

/**
 * A loaded checkpoint as the serialization tests read it: they walk values of every kind (and
 * assert each one at run time), so they give `torch.load` this unchecked type instead of spelling
 * out every fixture's structure. Code that knows its checkpoint names the type it expects.
 */
export type Loaded = any;

/** Runs `fn` with torch.backends.fastPath set to `on`, then restores the previous setting. */
export function withFastPath<T>(on: boolean, fn: () => T): T {
  const before = torch.backends.fastPath();
  torch.backends.fastPath(on);
  try {
    return fn();
  } finally {
    torch.backends.fastPath(before);
  }
}
