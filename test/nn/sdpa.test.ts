// nn.functional.scaledDotProductAttention with PyTorch 2 semantics (spec §2, §7): bool mask
// true = ALLOWED (the opposite of MultiheadAttention), float masks added, isCausal = top-left
// tril(ones(L, S)), scale defaults to 1/√E, a query with no allowed key gives 0 (PyTorch >= 2.5).
// Reference values: the formula softmax(q kᵀ·scale + mask) v in float64 by
// test/fixtures/gen/gen_attention_fixtures.py (1.13 has no public SDPA), and the same formula composed
// from our own tensor ops. These tests hold for libtorch 1.13 (our composed kernel) and 2.x
// (libtorch's scaled_dot_product_attention): nothing here differs between them beyond 1e-5.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError, fromEncoded } from '../helpers';

const { nn } = torch;
const F = nn.functional;
const sdpa = F.scaledDotProductAttention;
type Tensor = torch.Tensor;

interface SdpaCase {
  query: string;
  key: string;
  value: string;
  attnMask: string | null;
  isCausal: boolean;
  scale: number | null;
  out: Encoded;
  gradOut?: string;
  grads?: { query: Encoded; key: Encoded; value: Encoded };
}
interface SdpaFixture {
  tensors: Record<string, Encoded>;
  sdpa: Record<string, SdpaCase>;
}

const fx = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'attention.json'), 'utf8'),
) as SdpaFixture;
const TOL = { rtol: 1e-5, atol: 1e-5 };
const named = (n: string, requiresGrad = false): Tensor => fromEncoded(fx.tensors[n], { requiresGrad });
const arr = (t: Tensor) => t.toArray() as never;

function optsOf(c: SdpaCase): torch.nn.functional.SdpaOptions {
  const o: torch.nn.functional.SdpaOptions = {};
  if (c.attnMask) o.attnMask = named(c.attnMask);
  if (c.isCausal) o.isCausal = true;
  if (c.scale !== null) o.scale = c.scale;
  return o;
}

/** The formula, from our own ops: softmax(q kᵀ·scale + bias) v, with a row of no allowed key → 0. */
function formula(q: Tensor, k: Tensor, v: Tensor, o: torch.nn.functional.SdpaOptions = {}): Tensor {
  const Lq = q.shape[q.dim() - 2],
    Sk = k.shape[k.dim() - 2];
  const scale = o.scale ?? 1 / Math.sqrt(q.shape[q.dim() - 1]);
  let scores = q.matmul(k.transpose(-2, -1)).mul(scale);
  if (o.isCausal) scores = scores.maskedFill(torch.ones([Lq, Sk], { dtype: 'bool' }).tril().logicalNot(), -Infinity);
  if (o.attnMask) {
    const m = o.attnMask;
    scores = scores.add(
      m.dtype === 'bool' ? torch.zeros(m.shape as number[]).maskedFill(m.logicalNot(), -Infinity) : m,
    );
  }
  const fully = scores.eq(-Infinity).all(-1, true);
  const w = scores.maskedFill(fully, 0).softmax(-1).maskedFill(fully, 0);
  return w.matmul(v);
}

const fullyMaskedCases = Object.keys(fx.sdpa).filter((n) => n.startsWith('fullyMasked'));
const regularCases = Object.keys(fx.sdpa).filter((n) => !n.startsWith('fullyMasked'));

function describeCase(c: SdpaCase): string {
  const shape = fx.tensors[c.query].shape.length;
  const mask = c.attnMask ? `${fx.tensors[c.attnMask].dtype} mask [${fx.tensors[c.attnMask].shape.join(', ')}]` : '';
  return [`${shape}-D`, mask, c.isCausal ? 'isCausal' : '', c.scale !== null ? `scale ${c.scale}` : '']
    .filter(Boolean)
    .join(', ');
}

// =============================================================================================
describe('F.scaledDotProductAttention: forward and gradients equal the formula (float64 reference)', () => {
  it('the fixture has 12 regular and 3 fully masked cases', () => {
    expect(regularCases, 'regular cases').to.have.length(12);
    expect(fullyMaskedCases, 'fully masked cases').to.have.length(3);
  });

  for (const name of regularCases) {
    const c = fx.sdpa[name];
    it(`${name} (${describeCase(c)})`, () => {
      const q = named(c.query, true),
        k = named(c.key, true),
        v = named(c.value, true);
      const out = sdpa(q, k, v, optsOf(c));
      expectClose(out, c.out, TOL, `${name} output`);
      out.mul(named(c.gradOut!)).sum().backward();
      for (const [n, g] of [
        ['query', q.grad!],
        ['key', k.grad!],
        ['value', v.grad!],
      ] as const)
        expect(g.isfinite().all().itemBool(), `${name} grad ${n} is finite`).to.equal(true);
      expectClose(q.grad!, c.grads!.query, TOL, `${name} grad query`);
      expectClose(k.grad!, c.grads!.key, TOL, `${name} grad key`);
      expectClose(v.grad!, c.grads!.value, TOL, `${name} grad value`);
    });
  }

  it('equals the formula composed from our ops, forward and backward', () => {
    for (const name of regularCases) {
      const c = fx.sdpa[name];
      const q1 = named(c.query, true),
        k1 = named(c.key, true),
        v1 = named(c.value, true);
      const q2 = named(c.query, true),
        k2 = named(c.key, true),
        v2 = named(c.value, true);
      const o = optsOf(c);
      const a = sdpa(q1, k1, v1, o),
        b = formula(q2, k2, v2, o);
      expectClose(a, arr(b), TOL, `${name} vs formula`);
      const g = named(c.gradOut!);
      a.mul(g).sum().backward();
      b.mul(g).sum().backward();
      expectClose(q1.grad!, arr(q2.grad!), TOL, `${name} grad q`);
      expectClose(k1.grad!, arr(k2.grad!), TOL, `${name} grad k`);
      expectClose(v1.grad!, arr(v2.grad!), TOL, `${name} grad v`);
    }
  });
});

// =============================================================================================
describe('F.scaledDotProductAttention: semantics', () => {
  const c3 = () => fx.sdpa.plain3d;
  const q3 = () => named(c3().query),
    k3 = () => named(c3().key),
    v3 = () => named(c3().value);

  it('output shape (..., L, Ev); the default scale is 1/√E; scale: 1/√E is the default', () => {
    const out = sdpa(q3(), k3(), v3());
    expect([...out.shape]).to.deep.equal([3, 4, 6]);
    expectClose(
      sdpa(q3(), k3(), v3(), { scale: 1 / Math.sqrt(8) }),
      arr(out),
      { rtol: 1e-6, atol: 1e-6 },
      'explicit default scale',
    );
    expect(sdpa(q3(), k3(), v3(), { scale: 1 }).sub(out).abs().max().item() as number).to.be.greaterThan(1e-3);
  });

  it('bool true = ALLOWED: a bool mask equals its float (0 where true, -inf where false) version', () => {
    const m = named(fx.sdpa.boolMask3d.attnMask!);
    const f = torch.zeros([4, 5]).maskedFill(m.logicalNot(), -Infinity);
    const a = sdpa(q3(), k3(), v3(), { attnMask: m }),
      b = sdpa(q3(), k3(), v3(), { attnMask: f });
    expectClose(a, arr(b), { rtol: 1e-6, atol: 1e-6 }, 'bool vs float');
    // the MHA polarity (true = blocked) is a different mask
    const c = sdpa(q3(), k3(), v3(), { attnMask: nn.masks.toAdditive(m) });
    expect(c.sub(a).abs().max().item() as number).to.be.greaterThan(1e-2);
  });

  it('an all-true bool mask or an all-zero float mask changes nothing', () => {
    const plain = sdpa(q3(), k3(), v3());
    expectClose(sdpa(q3(), k3(), v3(), { attnMask: torch.ones([4, 5], { dtype: 'bool' }) }), arr(plain), {
      rtol: 1e-6,
      atol: 1e-6,
    });
    expectClose(sdpa(q3(), k3(), v3(), { attnMask: torch.zeros([4, 5]) }), arr(plain), { rtol: 1e-6, atol: 1e-6 });
  });

  it('isCausal equals the top-left tril(ones(L, S)) bool mask (L != S) and its float version', () => {
    const a = sdpa(q3(), k3(), v3(), { isCausal: true });
    const tril = torch.ones([4, 5], { dtype: 'bool' }).tril();
    expectClose(sdpa(q3(), k3(), v3(), { attnMask: tril }), arr(a), { rtol: 1e-6, atol: 1e-6 }, 'tril mask');
    expectClose(
      sdpa(q3(), k3(), v3(), { attnMask: nn.masks.mhaToSdpa(nn.masks.causal(4, 5)) }),
      arr(a),
      { rtol: 1e-6, atol: 1e-6 },
      'mhaToSdpa(causal)',
    );
    // query 0 sees key 0 only: its output is v[:, 0]
    expectClose(a.select(1, 0), arr(v3().select(1, 0)), { rtol: 1e-6, atol: 1e-6 }, 'row 0 = v0');
  });

  it('masks broadcast: (L, S), (N, 1, L, S), (1, H, 1, S) on 4-D inputs equal the expanded mask', () => {
    for (const name of ['floatMask2dOn4d', 'boolMaskBatchBroadcast4d', 'floatMaskHeadBroadcast4d']) {
      const c = fx.sdpa[name];
      const q = named(c.query),
        k = named(c.key),
        v = named(c.value),
        m = named(c.attnMask!);
      const full = m.expand(2, 2, 4, 5).contiguous();
      expectClose(
        sdpa(q, k, v, { attnMask: m }),
        arr(sdpa(q, k, v, { attnMask: full })),
        { rtol: 1e-6, atol: 1e-6 },
        name,
      );
    }
  });

  it('3-D and 4-D agree: a 4-D batch equals its flattened 3-D version; 2-D equals a batch of one', () => {
    const c = fx.sdpa.plain4d;
    const q = named(c.query),
      k = named(c.key),
      v = named(c.value);
    const o4 = sdpa(q, k, v);
    const o3 = sdpa(q.reshape([4, 4, 4]), k.reshape([4, 5, 4]), v.reshape([4, 5, 3]));
    expectClose(o4, arr(o3.reshape([2, 2, 4, 3])), { rtol: 1e-6, atol: 1e-6 }, '4-D vs 3-D');
    const o2 = sdpa(q3().select(0, 1), k3().select(0, 1), v3().select(0, 1));
    expectClose(o2, arr(sdpa(q3(), k3(), v3()).select(0, 1)), { rtol: 1e-6, atol: 1e-6 }, '2-D');
  });

  it('non-contiguous (transposed) inputs give the same result', () => {
    const q = q3(),
      k = k3(),
      v = v3();
    const qt = q.transpose(0, 1).contiguous().transpose(0, 1);
    expect(qt.isContiguous()).to.equal(false);
    expectClose(sdpa(qt, k, v), arr(sdpa(q, k, v)), { rtol: 1e-6, atol: 1e-6 });
  });

  it('dropoutP 0 is the default; dropoutP > 0 drops (SDPA has no training flag)', () => {
    const plain = sdpa(q3(), k3(), v3());
    expect(sdpa(q3(), k3(), v3(), { dropoutP: 0 }).equal(plain)).to.equal(true);
    torch.manualSeed(3);
    const d = sdpa(q3(), k3(), v3(), { dropoutP: 0.5 });
    expect([...d.shape]).to.deep.equal([3, 4, 6]);
    expect(d.isfinite().all().itemBool()).to.equal(true);
    expect(d.sub(plain).abs().max().item() as number).to.be.greaterThan(1e-3);
  });
});

// =============================================================================================
describe('F.scaledDotProductAttention: a query with no allowed key gives 0, not NaN (PyTorch >= 2.5)', () => {
  for (const name of fullyMaskedCases) {
    const c = fx.sdpa[name];
    it(`${name} (${describeCase(c)}): forward`, () => {
      const out = sdpa(named(c.query), named(c.key), named(c.value), optsOf(c));
      expectClose(out, c.out, TOL, `${name} output`);
      expect(out.isnan().any().itemBool(), 'no NaN').to.equal(false);
    });
  }

  it('the other rows are unchanged by the blocked row', () => {
    const c = fx.sdpa.fullyMaskedBool,
      ref = fx.sdpa.boolMask3d; // the same mask except row 1
    const out = sdpa(named(c.query), named(c.key), named(c.value), optsOf(c));
    const outRef = sdpa(named(ref.query), named(ref.key), named(ref.value), optsOf(ref));
    expect(out.select(1, 1).abs().max().item()).to.equal(0);
    for (const r of [0, 2, 3])
      expectClose(out.select(1, r), arr(outRef.select(1, r)), { rtol: 1e-6, atol: 1e-6 }, `row ${r}`);
  });

  for (const name of fullyMaskedCases) {
    const c = fx.sdpa[name];
    // Was a bug on libtorch 1.13 (NaN q.grad in the blocked row and NaN k.grad in every row of
    // that batch element, since the row was zeroed only after at::softmax); native/attention.cc
    // now replaces the blocked row's scores by 0 before the softmax and its output by 0 after
    // (_safe_softmax), so the gradients are finite: 0 for that query row and no contribution to
    // k and v. Expected values: the formula with that row's softmax replaced by 0 (float64).
    it(`${name}: gradients are finite and equal PyTorch 2.5+'s (_safe_softmax)`, () => {
      const q = named(c.query, true),
        k = named(c.key, true),
        v = named(c.value, true);
      const out = sdpa(q, k, v, optsOf(c));
      out.mul(named(c.gradOut!)).sum().backward();
      for (const [n, g] of [
        ['query', q.grad!],
        ['key', k.grad!],
        ['value', v.grad!],
      ] as const)
        expect(g.isfinite().all().itemBool(), `${name} grad ${n} is finite`).to.equal(true);
      expectClose(q.grad!, c.grads!.query, TOL, `${name} grad query`);
      expectClose(k.grad!, c.grads!.key, TOL, `${name} grad key`);
      expectClose(v.grad!, c.grads!.value, TOL, `${name} grad value`);
    });
  }
});

// =============================================================================================
describe('F.scaledDotProductAttention: errors', () => {
  const fn = /F\.scaledDotProductAttention/;
  const r = (...s: number[]) => torch.randn(s);

  it('attnMask and isCausal together', () => {
    expectError(
      () =>
        sdpa(r(3, 4, 8), r(3, 5, 8), r(3, 5, 8), { attnMask: torch.ones([4, 5], { dtype: 'bool' }), isCausal: true }),
      TypeError,
      fn,
      /attnMask/,
      /isCausal/,
    );
  });

  it('shape mismatches: q/k last dim, k/v length, different ranks, 1-D inputs', () => {
    expectError(() => sdpa(r(3, 4, 8), r(3, 5, 6), r(3, 5, 8)), RangeError, fn, /query/, /key/, /8/, /6/);
    expectError(() => sdpa(r(3, 4, 8), r(3, 5, 8), r(3, 6, 8)), RangeError, fn, /key/, /value/, /5/, /6/);
    expectError(() => sdpa(r(3, 4, 8), r(1, 3, 5, 8), r(1, 3, 5, 8)), RangeError, fn, /\[3, 4, 8\]/, /\[1, 3, 5, 8\]/);
    expectError(() => sdpa(r(8), r(8), r(8)), RangeError, fn);
  });

  it('a mask that does not broadcast to (..., L, S) throws (and nothing crashes)', () => {
    expectError(() => sdpa(r(3, 4, 8), r(3, 5, 8), r(3, 5, 8), { attnMask: torch.zeros([5, 4]) }), Error);
    expectError(
      () => sdpa(r(3, 4, 8), r(3, 5, 8), r(3, 5, 8), { attnMask: torch.ones([2, 4, 5], { dtype: 'bool' }) }),
      Error,
    );
  });

  it('integer masks: int32, int64, uint8', () => {
    for (const dtype of ['int32', 'int64', 'uint8'] as const)
      expectError(
        () => sdpa(r(3, 4, 8), r(3, 5, 8), r(3, 5, 8), { attnMask: torch.ones([4, 5], { dtype }) }),
        TypeError,
        fn,
        /attnMask/,
        new RegExp(dtype),
      );
  });

  it('argument types', () => {
    expectError(() => sdpa([1] as unknown as Tensor, r(3, 5, 8), r(3, 5, 8)), TypeError, fn, /query/);
    expectError(
      () => sdpa(r(3, 4, 8), r(3, 5, 8), r(3, 5, 8), { attnMask: [[true]] as unknown as Tensor }),
      TypeError,
      fn,
      /attnMask/,
    );
    expectError(
      () => sdpa(r(3, 4, 8), r(3, 5, 8), r(3, 5, 8), { isCausal: 1 as unknown as boolean }),
      TypeError,
      fn,
      /isCausal/,
    );
    expectError(() => sdpa(r(3, 4, 8), r(3, 5, 8), r(3, 5, 8), { dropoutP: 1.5 }), RangeError, fn, /dropoutP/);
    expectError(
      () => sdpa(r(3, 4, 8), r(3, 5, 8), r(3, 5, 8), { scale: '2' as unknown as number }),
      TypeError,
      fn,
      /scale/,
    );
  });
});
