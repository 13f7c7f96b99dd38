// Property tests over a seeded random matrix of shapes and dtypes:
//
// 1. the elementwise (unary, binary with broadcasting and type promotion, Python-number operands)
//    and reduction families against PyTorch's values AND result dtypes, and PyTorch's errors
//    (test/fixtures/properties.json, written by test/fixtures/gen/gen_property_fixtures.py);
// 2. every reduction gives the same result whether `dim` / `keepdim` come positionally, in the
//    options object, or mixed, as a method and as a torch function;
// 3. algebraic properties on random tensors drawn with fast-check (fixed seed).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';
import * as fc from 'fast-check';

import * as torch from '../../lib';
import { decodeValue, type Encoded, fromEncoded } from '../helpers';

type Value = Encoded | number | boolean | number[] | null | { dtype: torch.DType };

interface Case {
  id: string;
  kind: 'binary' | 'unary' | 'reduction';
  op: string;
  input: Encoded;
  args: Value[];
  kwargs: Record<string, Value>;
  out: Encoded | Encoded[] | { error: string };
}

const FIXTURE = path.join(process.cwd(), 'test', 'fixtures', 'properties.json');
const cases = (JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as { cases: Case[] }).cases;

const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

function isEncoded(v: unknown): v is Encoded {
  return typeof v === 'object' && v !== null && 'values' in v && 'shape' in v;
}

function decodeArg(v: Value): unknown {
  if (isEncoded(v)) return fromEncoded(v);
  if (typeof v === 'object' && v !== null && 'dtype' in v && !Array.isArray(v)) return v.dtype;
  return v;
}

const TOL: Record<string, { rtol: number; atol: number }> = {
  float32: { rtol: 1e-5, atol: 1e-5 },
  float64: { rtol: 1e-10, atol: 1e-12 },
};

/** Why `t` differs from PyTorch's `e` (dtype, shape, values), or undefined. */
function differs(t: unknown, e: Encoded, where: string): string | undefined {
  if (!(t instanceof torch.Tensor)) return `${where}: expected a Tensor, got ${typeof t}`;
  if (t.dtype !== e.dtype) return `${where}: dtype ${t.dtype}, PyTorch gives ${e.dtype}`;
  if (JSON.stringify(t.shape) !== JSON.stringify(e.shape))
    return `${where}: shape [${t.shape}], PyTorch gives [${e.shape}]`;
  const got = t.data();
  const tol = TOL[e.dtype];
  for (let i = 0; i < e.values.length; i++) {
    const w = decodeValue(e.values[i]);
    const g = e.dtype === 'bool' ? got[i] !== 0 : Number(got[i]);
    let ok: boolean;
    if (typeof w === 'boolean' || tol === undefined) ok = g === w;
    else if (Number.isNaN(w)) ok = Number.isNaN(g);
    else if (!Number.isFinite(w)) ok = g === w;
    else ok = Math.abs((g as number) - w) <= tol.atol + tol.rtol * Math.abs(w);
    if (!ok) return `${where}: element ${i} is ${g}, PyTorch gives ${w}`;
  }
  return undefined;
}

function call(c: Case): unknown {
  const x = fromEncoded(c.input);
  const args = c.args.map(decodeArg);
  const keys = Object.keys(c.kwargs);
  if (keys.length > 0) args.push(Object.fromEntries(keys.map((k) => [camel(k), decodeArg(c.kwargs[k])])));
  const m = (x as unknown as Record<string, (...a: unknown[]) => unknown>)[camel(c.op)];
  if (typeof m !== 'function') throw new Error(`Tensor.${camel(c.op)} does not exist`);
  return m.apply(x, args);
}

/**
 * Cases that disagree with PyTorch today: pending (not failing) until the binding they name is
 * fixed. Every rule names the method that is wrong and how.
 */
const PENDING: { when: (c: Case) => boolean; why: string }[] = [];
const pendingWhy = (c: Case): string | undefined => PENDING.find((p) => p.when(c))?.why;

describe('properties: elementwise and reduction families against PyTorch (values and dtypes)', () => {
  for (const kind of ['unary', 'binary', 'reduction'] as const) {
    describe(kind, () => {
      for (const c of cases.filter((k) => k.kind === kind)) {
        const expectation = 'error' in c.out ? `throws (PyTorch: ${c.out.error})` : 'matches PyTorch';
        const title = `${c.id} ${expectation}`;
        const why = pendingWhy(c);
        if (why !== undefined) {
          it.skip(`${title} [pending: ${why}]`);
          continue;
        }
        it(title, () => {
          torch.tidy(() => {
            const out = c.out;
            if ('error' in out) {
              expect(() => call(c), `${c.id} should throw as PyTorch does`).to.throw();
              return;
            }
            const r = call(c);
            if (Array.isArray(out)) {
              expect(Array.isArray(r), `${c.id}: expected ${out.length} results`).to.equal(true);
              const rs = r as unknown[];
              expect(rs.length).to.equal(out.length);
              out.forEach((e, i) => {
                const m = differs(rs[i], e, `${c.id} result ${i}`);
                if (m) expect.fail(m);
              });
            } else {
              const m = differs(r, out, c.id);
              if (m) expect.fail(m);
            }
          });
        });
      }
    });
  }
});

// ---- dim / keepdim: positional, options, mixed -------------------------------------------------

type Call = (x: torch.Tensor) => unknown;
interface Reduction {
  name: string;
  /** PyTorch's positional arguments for (dim, keepdim) */
  positional: (dim: number | number[], keepdim: boolean) => unknown[];
  /** the options object */
  named: (dim: number | number[], keepdim: boolean) => Record<string, unknown>;
  /** the mixed form: dim by position, the rest by name */
  mixed: (dim: number | number[], keepdim: boolean) => unknown[];
  /** dims a test uses (int and, where PyTorch takes one, a list) */
  dims: (number | number[])[];
  input?: 'float' | 'bool';
}

const plain = (name: string, list: boolean, input?: 'bool'): Reduction => ({
  name,
  positional: (d, k) => [d, k],
  named: (d, k) => ({ dim: d, keepdim: k }),
  mixed: (d, k) => [d, { keepdim: k }],
  dims: list ? [1, -1, [0, 2]] : [1, -1],
  input,
});

const REDUCTIONS: Reduction[] = [
  plain('sum', true),
  plain('mean', true),
  plain('nansum', true),
  plain('nanmean', true),
  plain('prod', false),
  plain('amax', true),
  plain('amin', true),
  plain('logsumexp', true),
  plain('argmax', false),
  plain('argmin', false),
  plain('all', false, 'bool'),
  plain('any', false, 'bool'),
  plain('max', false),
  plain('min', false),
  plain('median', false),
  plain('nanmedian', false),
  plain('mode', false),
  // std / var: PyTorch's positional order is (dim, unbiased, keepdim)
  ...(['std', 'var'] as const).map(
    (name): Reduction => ({
      name,
      positional: (d, k) => [d, true, k],
      named: (d, k) => ({ dim: d, unbiased: true, keepdim: k }),
      mixed: (d, k) => [d, { unbiased: true, keepdim: k }],
      dims: [1, -1, [0, 2]],
    }),
  ),
  {
    name: 'norm',
    positional: (d, k) => [2, d, k],
    named: (d, k) => ({ p: 2, dim: d, keepdim: k }),
    mixed: (d, k) => [2, d, { keepdim: k }],
    dims: [1, [0, 2]],
  },
  {
    name: 'kthvalue',
    positional: (d, k) => [2, d, k],
    named: (d, k) => ({ k: 2, dim: d, keepdim: k }),
    mixed: (d, k) => [2, d, { keepdim: k }],
    dims: [1, -1],
  },
  {
    name: 'aminmax',
    // dim and keepdim are keyword-only in PyTorch: the options object is the only spelling
    positional: (d, k) => [{ dim: d, keepdim: k }],
    named: (d, k) => ({ dim: d, keepdim: k }),
    mixed: (d, k) => [{ dim: d, keepdim: k }],
    dims: [1, -1],
  },
];

/** Forms a hand-written method rejects today (lib/tensor.ts): pending, named here, until it goes generated. */
const REJECTS: Record<string, string[]> = {};

function same(a: unknown, b: unknown, what: string): void {
  if (Array.isArray(b)) {
    expect(Array.isArray(a), `${what}: an array`).to.equal(true);
    const as = a as unknown[];
    expect(as.length, `${what}: results`).to.equal(b.length);
    b.forEach((bi, i) => {
      same(as[i], bi, `${what}[${i}]`);
    });
    return;
  }
  if (!(a instanceof torch.Tensor) || !(b instanceof torch.Tensor)) expect.fail(`${what}: not a Tensor`);
  expect(a.dtype, `${what} dtype`).to.equal(b.dtype);
  expect(a.shape, `${what} shape`).to.deep.equal(b.shape);
  expect(Array.from(a.data(), Number), `${what} values`).to.deep.equal(Array.from(b.data(), Number));
}

describe('properties: dim / keepdim positionally, in the options object, or mixed give the same result', () => {
  const X = (kind?: 'float' | 'bool'): torch.Tensor => {
    const vals = Array.from({ length: 24 }, (_v, i) => ((i * 7) % 11) - 5 + (i % 3) * 0.25);
    const t = torch.tensor(vals).reshape([2, 3, 4]);
    return kind === 'bool' ? t.gt(0) : t;
  };
  for (const r of REDUCTIONS) {
    for (const dim of r.dims) {
      for (const keepdim of [false, true]) {
        const label = `(dim ${JSON.stringify(dim)}, keepdim ${keepdim})`;
        const forms: Record<string, { text: string; f: Call }> = {
          positional: {
            text: `x.${r.name}(${r
              .positional(dim, keepdim)
              .map((v) => JSON.stringify(v))
              .join(', ')})`,
            f: (x) =>
              (x as unknown as Record<string, (...a: unknown[]) => unknown>)[r.name](...r.positional(dim, keepdim)),
          },
          options: {
            text: `x.${r.name}(${JSON.stringify(r.named(dim, keepdim))})`,
            f: (x) => (x as unknown as Record<string, (...a: unknown[]) => unknown>)[r.name](r.named(dim, keepdim)),
          },
          mixed: {
            text: `x.${r.name}(${r
              .mixed(dim, keepdim)
              .map((v) => JSON.stringify(v))
              .join(', ')})`,
            f: (x) => (x as unknown as Record<string, (...a: unknown[]) => unknown>)[r.name](...r.mixed(dim, keepdim)),
          },
        };
        const fnForms: Record<string, { text: string; f: Call }> = {};
        const tf = (torch as unknown as Record<string, unknown>)[r.name];
        if (typeof tf === 'function') {
          const g = tf as (...a: unknown[]) => unknown;
          fnForms['torch positional'] = {
            text: `torch.${r.name}(x, ...)`,
            f: (x) => g(x, ...r.positional(dim, keepdim)),
          };
          fnForms['torch options'] = { text: `torch.${r.name}(x, {...})`, f: (x) => g(x, r.named(dim, keepdim)) };
          fnForms['torch mixed'] = { text: `torch.${r.name}(x, dim, {...})`, f: (x) => g(x, ...r.mixed(dim, keepdim)) };
        }
        const rejects = REJECTS[r.name] ?? [];
        // the reference: the first form this binding accepts
        const refName = ['positional', 'options', 'mixed'].find((k) => !rejects.includes(k)) ?? 'positional';
        const ref = forms[refName];
        for (const [k, form] of Object.entries({ ...forms, ...fnForms })) {
          if (k === refName) continue;
          const base = k.replace('torch ', '');
          // torch.norm is lib/ops_python.ts's (PyTorch's Python torch.norm), not the Tensor method forwarded
          const viaMethod = !k.startsWith('torch ') || r.name !== 'norm';
          const title = `${r.name} ${label}: ${form.text} equals ${ref.text}`;
          if (viaMethod && rejects.includes(base)) {
            it.skip(`${title} [pending: the hand-written Tensor.${r.name} rejects the ${base} form]`);
            continue;
          }
          it(title, () => {
            torch.tidy(() => {
              const x = X(r.input);
              same(form.f(x), ref.f(x), form.text);
            });
          });
        }
      }
    }
  }
});

// ---- algebraic properties (fast-check, fixed seed) ------------------------------------------------

const shapeArb = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 3 });
const valuesFor = (shape: number[]) =>
  fc.array(fc.integer({ min: -20, max: 20 }), {
    minLength: shape.reduce((a, b) => a * b, 1),
    maxLength: shape.reduce((a, b) => a * b, 1),
  });
/** A broadcasting pair of shapes: b is a with some dims set to 1 and some leading dims dropped. */
const pairArb = shapeArb.chain((a) =>
  fc
    .tuple(fc.array(fc.boolean(), { minLength: a.length, maxLength: a.length }), fc.integer({ min: 0, max: a.length }))
    .map(([ones, drop]) => [a, a.map((s, i) => (ones[i] ? 1 : s)).slice(drop)] as const),
);
const tensorsArb = pairArb.chain(([sa, sb]) =>
  fc.tuple(valuesFor(sa), valuesFor(sb)).map(([va, vb]) => ({ sa, sb, va, vb })),
);
const FC = { seed: 1234, numRuns: 60 };

describe('properties: algebraic laws on random broadcasting pairs (fast-check, seed 1234)', () => {
  const mk = (v: number[], s: readonly number[], dtype: torch.DType) => torch.tensor(v, { dtype }).reshape([...s]);

  it('add and mul commute and broadcast to torch.broadcastShapes', () => {
    fc.assert(
      fc.property(tensorsArb, ({ sa, sb, va, vb }) =>
        torch.tidy(() => {
          const a = mk(va, sa, 'float64');
          const b = mk(vb, sb, 'float64');
          const ab = a.add(b);
          same(ab, b.add(a), 'a + b');
          same(a.mul(b), b.mul(a), 'a * b');
          expect(ab.shape).to.deep.equal(torch.broadcastShapes([...sa], [...sb]));
          return true;
        }),
      ),
      FC,
    );
  });

  it('sum over every dim equals the full sum, and sum(dim, keepdim) keeps the rank', () => {
    fc.assert(
      fc.property(tensorsArb, ({ sa, va }) =>
        torch.tidy(() => {
          const a = mk(va, sa, 'int64');
          const all = sa.map((_s, i) => i);
          if (all.length > 0) {
            same(a.sum(all), a.sum(), 'sum(all dims)');
            expect(a.sum(all, true).ndim).to.equal(a.ndim);
          }
          expect(a.sum().dtype).to.equal('int64');
          return true;
        }),
      ),
      FC,
    );
  });

  it('comparisons partition: lt, eq and gt are exclusive and cover every element', () => {
    fc.assert(
      fc.property(tensorsArb, ({ sa, sb, va, vb }) =>
        torch.tidy(() => {
          const a = mk(va, sa, 'int64');
          const b = mk(vb, sb, 'int64');
          const n = a.lt(b).long().add(a.eq(b).long()).add(a.gt(b).long());
          expect(n.dtype).to.equal('int64');
          expect(Array.from(n.data(), Number).every((v) => v === 1)).to.equal(true);
          same(a.le(b), a.lt(b).logicalOr(a.eq(b)), 'le = lt or eq');
          return true;
        }),
      ),
      FC,
    );
  });

  it('maximum(a, b) + minimum(a, b) = a + b, and amax over a dim is the maximum of its slices', () => {
    fc.assert(
      fc.property(tensorsArb, ({ sa, sb, va, vb }) =>
        torch.tidy(() => {
          const a = mk(va, sa, 'float32');
          const b = mk(vb, sb, 'float32');
          same(a.maximum(b).add(a.minimum(b)), a.add(b), 'max + min');
          if (a.ndim > 0) {
            const m = a.amax(0);
            const slices = a.unbind(0);
            same(
              m,
              slices.reduce((p, q) => p.maximum(q)),
              'amax(0)',
            );
          }
          return true;
        }),
      ),
      FC,
    );
  });
});
