// The fused inference kernels of native/fast_attention.cc against the reference path
// (torch.backends.fastPath(false): libtorch's ops step by step, which the fixture suites check
// against PyTorch): random configurations of every MultiheadAttention option, and
// scaled_dot_product_attention's masks, plus the cases that must NOT take the fast path.

import { expect } from 'chai';

import * as torch from '../../lib';
import { native } from '../../lib/native';
import { prng } from '../helpers';

const { nn } = torch;
const F = nn.functional;
type Tensor = torch.Tensor;
type DType = 'float32' | 'float64';

/** Largest |a - b| / max(1, |b|); NaN must sit where the reference has NaN. */
function relDiff(a: Tensor, b: Tensor, what: string): number {
  expect(a.shape, `${what} shape`).to.deep.equal(b.shape);
  const x = a.toArray() as unknown as number[];
  const y = b.toArray() as unknown as number[];
  const xs = (x as unknown[]).flat(Number.POSITIVE_INFINITY) as number[];
  const ys = (y as unknown[]).flat(Number.POSITIVE_INFINITY) as number[];
  let worst = 0;
  for (let i = 0; i < ys.length; i++) {
    if (Number.isNaN(ys[i])) {
      expect(Number.isNaN(xs[i]), `${what}[${i}]: reference is NaN, fast path gave ${xs[i]}`).to.equal(true);
      continue;
    }
    const d = Math.abs(xs[i] - ys[i]) / Math.max(1, Math.abs(ys[i]));
    if (!(d <= worst)) worst = d; // a NaN d (fast NaN, reference not) becomes the worst
  }
  return worst;
}

function stat(k: 'mha' | 'sdpa' | 'onednnGemm'): number {
  return torch.backends.fastPathStats()[k];
}

/** Runs fn on the fast path and on the reference path, checking which path each took. */
function both<T>(kind: 'mha' | 'sdpa', fn: () => T, fastExpected = true): [T, T] {
  const before = stat(kind);
  const fast = fn();
  expect(stat(kind) - before, `${kind} fast path taken`).to.equal(fastExpected ? 1 : 0);
  torch.backends.fastPath(false);
  try {
    const mid = stat(kind);
    const ref = fn();
    expect(stat(kind), 'reference path does not count').to.equal(mid);
    return [fast, ref];
  } finally {
    torch.backends.fastPath(true);
  }
}

const TOL = 1e-6;

describe('fast attention kernels (native/fast_attention.cc)', () => {
  let saved: boolean;
  before(() => {
    saved = torch.backends.fastPath();
    torch.backends.fastPath(true);
  });
  after(() => {
    torch.backends.fastPath(saved);
  });

  it('MultiheadAttention: 600 random configurations match the reference path', function () {
    this.timeout(60000);
    const rnd = prng(20261202);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    let worst = 0;
    let nanCases = 0;
    for (let iter = 0; iter < 600; iter++) {
      torch.tidy(() => {
        torch.manualSeed(iter);
        const dtype: DType = rnd() < 0.7 ? 'float32' : 'float64';
        const H = pick([1, 2, 3, 4]);
        const E = H * pick([1, 2, 3, 5, 8]);
        const L = 1 + Math.floor(rnd() * 6);
        const mode = pick(['self', 'kv', 'sep'] as const);
        const S = mode === 'self' ? L : 1 + Math.floor(rnd() * 6);
        const N = 1 + Math.floor(rnd() * 4);
        const batched = rnd() < 0.8;
        const batchFirst = rnd() < 0.5;
        const otherDims = mode !== 'self' && rnd() < 0.3;
        const kdim = otherDims ? 1 + Math.floor(rnd() * 7) : E;
        const vdim = otherDims ? (mode === 'kv' ? kdim : 1 + Math.floor(rnd() * 7)) : E;
        const bias = rnd() < 0.75;
        const addBiasKv = rnd() < 0.3;
        const addZeroAttn = rnd() < 0.3;
        const mha = new nn.MultiheadAttention(E, H, { bias, addBiasKv, addZeroAttn, kdim, vdim, batchFirst }).to(dtype);
        mha.eval();
        if (addBiasKv) torch.noGrad(() => mha.bias_k?.normal_());
        const shape = (len: number, d: number) => (batched ? (batchFirst ? [N, len, d] : [len, N, d]) : [len, d]);
        const query = torch.randn(shape(L, E), { dtype });
        const key = mode === 'self' ? query : torch.randn(shape(S, kdim), { dtype });
        const value = mode === 'sep' ? torch.randn(shape(S, vdim), { dtype }) : key;

        const amKind = pick(['none', 'none', 'bool', 'uint8', 'float', 'causal', 'bool3', 'float3'] as const);
        const nb = batched ? N * H : H;
        let attnMask: Tensor | null = null;
        if (amKind === 'bool' || amKind === 'uint8') {
          attnMask = torch.rand([L, S]).lt(0.3);
          if (amKind === 'uint8') attnMask = attnMask.to('uint8');
        } else if (amKind === 'float') attnMask = torch.randn([L, S], { dtype: pick(['float32', 'float64'] as const) });
        else if (amKind === 'causal') attnMask = nn.masks.causal(L, S);
        else if (amKind === 'bool3') attnMask = torch.rand([nb, L, S]).lt(0.3);
        else if (amKind === 'float3') attnMask = torch.randn([nb, L, S], { dtype });

        const kpKind = pick(['none', 'bool', 'lengths', 'float', 'full'] as const);
        let keyPaddingMask: Tensor | null = null;
        const kpShape = batched ? [N, S] : [S];
        if (kpKind === 'bool') keyPaddingMask = torch.rand(kpShape).lt(0.3);
        else if (kpKind === 'full')
          keyPaddingMask = torch.rand(kpShape).lt(0.6); // often whole rows padded
        else if (kpKind === 'float') keyPaddingMask = torch.randn(kpShape, { dtype });
        else if (kpKind === 'lengths') {
          const lengths = Array.from({ length: batched ? N : 1 }, () => Math.floor(rnd() * (S + 1)));
          keyPaddingMask = nn.masks.keyPadding(lengths, S);
          if (!batched) keyPaddingMask = keyPaddingMask.reshape([S]);
        }
        const needWeights = rnd() < 0.6;
        const averageAttnWeights = rnd() < 0.5;
        const opts = { attnMask, keyPaddingMask, needWeights, averageAttnWeights };
        const what = `case ${iter}: ${JSON.stringify({ dtype, E, H, L, S, N, mode, batched, batchFirst, kdim, vdim, bias, addBiasKv, addZeroAttn, amKind, kpKind, needWeights, averageAttnWeights })}`;
        const [[o1, w1], [o2, w2]] = both('mha', () => torch.noGrad(() => mha.forward(query, key, value, opts)));
        if (o2.isnan().any().itemBool()) nanCases++;
        worst = Math.max(worst, relDiff(o1, o2, `${what} output`));
        expect(o1.dtype).to.equal(dtype);
        expect(w1 === null, `${what} weights presence`).to.equal(w2 === null);
        if (w1 !== null && w2 !== null) worst = Math.max(worst, relDiff(w1, w2, `${what} weights`));
        expect(worst, what).to.be.at.most(TOL);
      });
    }
    expect(nanCases, 'some configurations have fully masked rows').to.be.greaterThan(0);
    console.log(`      max relative difference over 600 configurations: ${worst.toExponential(2)}`);
  });

  it('larger sizes (per-head GEMMs instead of loops, parallel over batch and heads) match', function () {
    this.timeout(30000);
    let worst = 0;
    const threads = torch.getNumThreads();
    for (const nt of [1, 2])
      for (const [E, H, L, S, N, bf, dtype] of [
        [64, 2, 24, 20, 3, false, 'float32'],
        [96, 3, 40, 40, 2, true, 'float64'],
        [64, 1, 20, 33, 1, true, 'float32'],
        [32, 2, 8, 70, 2, false, 'float32'], // S >= 64: one vectorised softmax over all rows
        [16, 2, 3, 80, 3, true, 'float64'],
        // per-head GEMMs (40*48*64 and 70*70*32 multiply-adds) large enough for oneDNN
        [128, 2, 40, 48, 2, false, 'float32'],
        [64, 2, 70, 70, 2, true, 'float32'],
      ] as const) {
        const gemms = stat('onednnGemm');
        torch.tidy(() => {
          torch.setNumThreads(nt);
          torch.manualSeed(E + L);
          const mha = new nn.MultiheadAttention(E, H, { batchFirst: bf, addBiasKv: S < 64, addZeroAttn: S < 64 })
            .to(dtype)
            .eval();
          const q = torch.randn(bf ? [N, L, E] : [L, N, E], { dtype });
          const kv = torch.randn(bf ? [N, S, E] : [S, N, E], { dtype });
          const opts = {
            attnMask: torch.rand([L, S]).lt(0.2),
            keyPaddingMask: nn.masks.keyPadding([S, 0, 5].slice(0, N), S),
            averageAttnWeights: false,
          };
          const [[o1, w1], [o2, w2]] = both('mha', () => torch.noGrad(() => mha.forward(q, kv, kv, opts)));
          worst = Math.max(worst, relDiff(o1, o2, `E=${E} output`), relDiff(w1 as Tensor, w2 as Tensor, 'weights'));
          const q2 = bf ? q : q.transpose(0, 1); // (N, L, E), non-contiguous when transposed
          const kv2 = bf ? kv : kv.transpose(0, 1);
          const causal = both(
            'sdpa',
            () => torch.noGrad(() => F.scaledDotProductAttention(q2, kv2, kv2, { isCausal: true })),
            sdpaFused(),
          );
          worst = Math.max(worst, relDiff(causal[0], causal[1], `E=${E} sdpa`));
        });
        // The in-projection (L*N x 3E x E multiply-adds) is large enough for oneDNN in every float
        // case here; float64 always stays with the BLAS.
        const viaOnednn = torch.config().onednnGemm && dtype === 'float32';
        expect(stat('onednnGemm') > gemms, `E=${E} ${dtype}: GEMMs run by oneDNN`).to.equal(viaOnednn);
      }
    torch.setNumThreads(threads);
    expect(worst).to.be.at.most(TOL);
  });

  it('fully masked rows give NaN on both paths', () => {
    torch.tidy(() => {
      const mha = new nn.MultiheadAttention(8, 2).eval();
      const x = torch.randn([3, 2, 8]);
      const keyPaddingMask = torch.tensor([
        [true, true, true],
        [false, true, true],
      ]);
      const [[o1], [o2]] = both('mha', () => torch.noGrad(() => mha.forward(x, x, x, { keyPaddingMask })));
      relDiff(o1, o2, 'output');
      expect(o1.select(1, 0).isnan().all().itemBool()).to.equal(true);
      expect(o1.select(1, 1).isnan().any().itemBool()).to.equal(false);
    });
  });

  it('training with dropout and anything under grad mode take the reference path; backward works', () => {
    torch.tidy(() => {
      const mha = new nn.MultiheadAttention(8, 2, { dropout: 0.5 });
      const x = torch.randn([3, 2, 8]);
      // train mode, dropout active: never fused, even without grad
      both('mha', () => torch.noGrad(() => mha.forward(x, x, x)), false);
      mha.eval();
      // grad mode with parameters requiring grad: reference path, gradients flow
      const before = stat('mha');
      const [out] = mha.forward(x, x, x);
      expect(stat('mha')).to.equal(before);
      out.sum().backward();
      expect(mha.out_proj.weight.grad).to.not.equal(null);
      expect(mha.in_proj_weight?.grad?.abs().sum().item()).to.be.greaterThan(0);
      // grad mode with nothing requiring grad: fused
      for (const p of mha.parameters()) p.requiresGrad_(false);
      const b2 = stat('mha');
      mha.forward(x, x, x);
      expect(stat('mha')).to.equal(b2 + 1);
      // an input requiring grad: reference path
      const xg = torch.randn([3, 2, 8]).requiresGrad_(true);
      const b3 = stat('mha');
      const [o3] = mha.forward(xg, xg, xg);
      expect(stat('mha')).to.equal(b3);
      o3.sum().backward();
      expect(xg.grad).to.not.equal(null);
    });
  });

  it('training with dropout 0 and float64 take the fast path', () => {
    torch.tidy(() => {
      const mha = new nn.MultiheadAttention(6, 3, { batchFirst: true }).to('float64');
      const x = torch.randn([2, 4, 6], { dtype: 'float64' });
      const [[o1, w1], [o2, w2]] = both('mha', () => torch.noGrad(() => mha.forward(x, x, x)));
      expect(relDiff(o1, o2, 'output')).to.be.at.most(TOL);
      expect(relDiff(w1 as Tensor, w2 as Tensor, 'weights')).to.be.at.most(TOL);
    });
  });

  it('forwardAsync takes the fast path and matches forward', async () => {
    const mha = new nn.MultiheadAttention(8, 2).eval();
    for (const p of mha.parameters()) p.requiresGrad_(false);
    const q = torch.randn([4, 3, 8]);
    const kv = torch.randn([5, 3, 8]);
    const attnMask = nn.masks.causal(4, 5);
    const keyPaddingMask = nn.masks.keyPadding([5, 3, 1], 5);
    const opts = { attnMask, keyPaddingMask };
    const before = stat('mha');
    const [a1, aw1] = await mha.forwardAsync(q, kv, kv, opts);
    expect(stat('mha')).to.equal(before + 1);
    torch.backends.fastPath(false);
    let ref: [Tensor, Tensor | null];
    try {
      ref = torch.noGrad(() => mha.forward(q, kv, kv, opts));
    } finally {
      torch.backends.fastPath(true);
    }
    expect(relDiff(a1, ref[0], 'output')).to.be.at.most(TOL);
    expect(relDiff(aw1 as Tensor, ref[1] as Tensor, 'weights')).to.be.at.most(TOL);
    for (const t of [a1, aw1 as Tensor, ref[0], ref[1] as Tensor, q, kv, attnMask, keyPaddingMask]) t.dispose();
  });

  it('a dtype mismatch is refused before any kernel runs', () => {
    torch.tidy(() => {
      const mha = new nn.MultiheadAttention(4, 2).eval();
      const x = torch.randn([2, 1, 4]);
      const before = stat('mha');
      // int-valued inputs are refused in TypeScript; a float64 query with float32 weights too:
      // only float32/float64 with matching parameters are fused
      expect(() => torch.noGrad(() => mha.forward(x.double(), x.double(), x.double()))).to.throw(TypeError);
      expect(stat('mha')).to.equal(before);
    });
  });

  it('scaledDotProductAttention: random masks, causal, scale match the reference path', function () {
    this.timeout(30000);
    const rnd = prng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    let worst = 0;
    for (let iter = 0; iter < 300; iter++) {
      torch.tidy(() => {
        torch.manualSeed(1000 + iter);
        const dtype: DType = rnd() < 0.7 ? 'float32' : 'float64';
        const batch = pick([[], [2], [2, 3]] as number[][]);
        const L = 1 + Math.floor(rnd() * 6),
          S = 1 + Math.floor(rnd() * 6),
          D = 1 + Math.floor(rnd() * 6),
          Dv = 1 + Math.floor(rnd() * 6);
        const q = torch.randn([...batch, L, D], { dtype });
        const k = torch.randn([...batch, S, D], { dtype });
        const v = torch.randn([...batch, S, Dv], { dtype });
        const mk = pick(['none', 'bool', 'boolB', 'float', 'floatB', 'sparse'] as const);
        let attnMask: Tensor | undefined;
        if (mk === 'bool') attnMask = torch.rand([L, S]).lt(0.7);
        else if (mk === 'sparse')
          attnMask = torch.rand([...batch, L, S]).lt(0.2); // rows with no key
        else if (mk === 'boolB') attnMask = torch.rand([...batch, 1, S]).lt(0.7);
        else if (mk === 'float') attnMask = torch.randn([L, S], { dtype });
        else if (mk === 'floatB') attnMask = torch.randn([...batch, L, S], { dtype });
        const isCausal = attnMask === undefined && rnd() < 0.4;
        const scale = rnd() < 0.3 ? 0.1 + rnd() : undefined;
        const what = `case ${iter}: ${JSON.stringify({ dtype, batch, L, S, D, Dv, mk, isCausal, scale })}`;
        const before = stat('sdpa');
        const fast = torch.noGrad(() => F.scaledDotProductAttention(q, k, v, { attnMask, isCausal, scale }));
        const took = stat('sdpa') - before;
        torch.backends.fastPath(false);
        let ref: Tensor;
        try {
          const mid = stat('sdpa');
          ref = torch.noGrad(() => F.scaledDotProductAttention(q, k, v, { attnMask, isCausal, scale }));
          expect(stat('sdpa')).to.equal(mid);
        } finally {
          torch.backends.fastPath(true);
        }
        // libtorch >= 2.1 keeps its own kernel; the fused one serves 1.13 / 2.0
        expect(took, what).to.equal(sdpaFused() ? 1 : 0);
        worst = Math.max(worst, relDiff(fast, ref, what));
        expect(worst, what).to.be.at.most(TOL);
      });
    }
  });

  it('scaledDotProductAttention: dropout and gradients take the reference path', () => {
    torch.tidy(() => {
      const q = torch.randn([2, 3, 4]).requiresGrad_(true);
      const k = torch.randn([2, 5, 4]);
      const v = torch.randn([2, 5, 4]);
      const before = stat('sdpa');
      const out = F.scaledDotProductAttention(q, k, v);
      out.sum().backward();
      expect(q.grad).to.not.equal(null);
      torch.noGrad(() => F.scaledDotProductAttention(q, k, v, { dropoutP: 0.5 }));
      expect(stat('sdpa')).to.equal(before);
    });
  });

  it('Transformer encoder and decoder layers: 120 random configurations fused in one call match', function () {
    this.timeout(30000);
    const rnd = prng(99);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    let worst = 0;
    for (let iter = 0; iter < 120; iter++) {
      torch.tidy(() => {
        torch.manualSeed(5000 + iter);
        const dtype: DType = rnd() < 0.7 ? 'float32' : 'float64';
        const H = pick([1, 2, 4]);
        const E = H * pick([2, 3, 4]);
        const T = 1 + Math.floor(rnd() * 5),
          S = 1 + Math.floor(rnd() * 5),
          N = 1 + Math.floor(rnd() * 3);
        const batched = rnd() < 0.8;
        const batchFirst = rnd() < 0.5;
        const decoder = rnd() < 0.5;
        const normFirst = rnd() < 0.5;
        const activation = pick(['relu', 'gelu'] as const);
        // eval mode, or training with dropout 0
        const train = rnd() < 0.3;
        const o = {
          dimFeedforward: 1 + Math.floor(rnd() * 16),
          dropout: train ? 0 : 0.1,
          activation,
          normFirst,
          batchFirst,
        };
        const layer = decoder ? new nn.TransformerDecoderLayer(E, H, o) : new nn.TransformerEncoderLayer(E, H, o);
        layer.to(dtype);
        if (train) layer.train();
        else layer.eval();
        const shape = (len: number) => (batched ? (batchFirst ? [N, len, E] : [len, N, E]) : [len, E]);
        const x = torch.randn(shape(T), { dtype });
        const mem = torch.randn(shape(S), { dtype });
        const kp = (len: number) => {
          if (rnd() < 0.4) return null;
          const m = nn.masks.keyPadding(
            Array.from({ length: batched ? N : 1 }, () => 1 + Math.floor(rnd() * len)),
            len,
          );
          return batched ? m : m.reshape([len]);
        };
        const causal = rnd() < 0.5 ? nn.masks.causal(T) : null;
        const what = `case ${iter}: ${JSON.stringify({ dtype, E, H, T, S, N, batched, batchFirst, decoder, normFirst, activation, train })}`;
        const decOpts = {
          tgtMask: causal,
          tgtKeyPaddingMask: kp(T),
          memoryKeyPaddingMask: kp(S),
          memoryMask: rnd() < 0.3 ? torch.rand([T, S]).lt(0.3) : null,
        };
        const encOpts = { srcMask: causal, srcKeyPaddingMask: kp(T) };
        const run = () =>
          torch.noGrad(() =>
            decoder
              ? (layer as torch.nn.TransformerDecoderLayer).forward(x, mem, decOpts)
              : (layer as torch.nn.TransformerEncoderLayer).forward(x, encOpts),
          );
        const before = torch.backends.fastPathStats().layer;
        const fast = run();
        expect(torch.backends.fastPathStats().layer - before, what).to.equal(1);
        torch.backends.fastPath(false);
        let ref: Tensor;
        try {
          ref = run();
          expect(torch.backends.fastPathStats().layer - before, what).to.equal(1);
        } finally {
          torch.backends.fastPath(true);
        }
        worst = Math.max(worst, relDiff(fast, ref, what));
        expect(worst, what).to.be.at.most(TOL);
      });
    }
    expect(worst).to.be.at.most(TOL);
  });

  it('a TransformerEncoder stack fuses each layer and matches', () => {
    torch.tidy(() => {
      const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true });
      const enc = new nn.TransformerEncoder(layer, 3).eval();
      const x = torch.randn([2, 5, 8]);
      const opts = { mask: nn.masks.causal(5), srcKeyPaddingMask: nn.masks.keyPadding([5, 2], 5) };
      const before = torch.backends.fastPathStats().layer;
      const fast = torch.noGrad(() => enc.forward(x, opts));
      expect(torch.backends.fastPathStats().layer - before).to.equal(3);
      torch.backends.fastPath(false);
      try {
        expect(
          relDiff(
            fast,
            torch.noGrad(() => enc.forward(x, opts)),
            'stack',
          ),
        ).to.be.at.most(TOL);
      } finally {
        torch.backends.fastPath(true);
      }
    });
  });

  it('Transformer layers: forwardAsync takes the fused layer on the pool and matches', async () => {
    const enc = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, normFirst: true }).eval();
    const dec = new nn.TransformerDecoderLayer(8, 2, { dimFeedforward: 16, activation: 'gelu' }).eval();
    const custom = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, activation: (t) => t.tanh() }).eval();
    // grad mode stays on across the await: nothing may require grad for the fused path
    for (const m of [enc, dec, custom]) for (const p of m.parameters()) p.requiresGrad_(false);
    const x = torch.randn([3, 2, 8]);
    const mem = torch.randn([4, 2, 8]);
    const causal = nn.masks.causal(3);
    const pad = nn.masks.keyPadding([4, 1], 4);
    const before = torch.backends.fastPathStats().layer;
    const e1 = await enc.forwardAsync(x, { srcMask: causal });
    const d1 = await dec.forwardAsync(x, mem, { tgtMask: causal, memoryKeyPaddingMask: pad });
    const c1 = await custom.forwardAsync(x);
    expect(torch.backends.fastPathStats().layer - before).to.equal(2);
    torch.backends.fastPath(false);
    try {
      torch.tidy(() => {
        torch.noGrad(() => {
          expect(relDiff(e1, enc.forward(x, { srcMask: causal }), 'encoder')).to.be.at.most(TOL);
          const d2 = dec.forward(x, mem, { tgtMask: causal, memoryKeyPaddingMask: pad });
          expect(relDiff(d1, d2, 'decoder')).to.be.at.most(TOL);
          expect(relDiff(c1, custom.forward(x), 'custom activation')).to.be.at.most(TOL);
        });
      });
    } finally {
      torch.backends.fastPath(true);
    }
    torch.dispose([e1, d1, c1, x, mem, causal, pad]);
  });

  it('Transformer layers: grad mode, a custom activation, active dropout compose step by step', () => {
    torch.tidy(() => {
      const enc = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
      const x = torch.randn([3, 2, 8]);
      const layerHits = () => torch.backends.fastPathStats().layer;
      const b0 = layerHits();
      enc.eval();
      enc.forward(x).sum().backward(); // grad mode, parameters require grad
      expect(enc.linear1.weight.grad).to.not.equal(null);
      enc.train();
      torch.noGrad(() => enc.forward(x)); // dropout 0.1 active
      const custom = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, activation: (t) => t.tanh() }).eval();
      torch.noGrad(() => custom.forward(x));
      expect(layerHits()).to.equal(b0);
      enc.eval();
      torch.noGrad(() => enc.forward(x));
      expect(layerHits()).to.equal(b0 + 1);
    });
  });

  it('Transformer layers: argument errors keep the layer context with the fast path on', () => {
    torch.tidy(() => {
      const dec = new nn.TransformerDecoderLayer(8, 2, { dimFeedforward: 16 }).eval();
      const x = torch.randn([3, 2, 8]);
      const mem = torch.randn([4, 2, 8]);
      expect(() => torch.noGrad(() => dec.forward(x, mem, { memoryMask: torch.zeros([3, 5], { dtype: 'bool' }) })))
        .to.throw(RangeError)
        .with.property('message')
        .that.matches(/^TransformerDecoderLayer\.forward: in multihead_attn/);
    });
  });

  it('transformerLayer (native): a decoder call without memory, an unknown activation', () => {
    torch.tidy(() => {
      const enc = new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8 }).eval();
      const x = torch.randn([2, 1, 4]);
      const sa = enc.self_attn.prepare('t', x, x, x, {})[0];
      const layer = {
        x: x._h,
        normFirst: false,
        activation: 0,
        linear1Weight: enc.linear1.weight._h,
        linear2Weight: enc.linear2.weight._h,
        eps1: 1e-5,
        eps2: 1e-5,
        eps3: 1e-5,
      };
      expect(() => native.transformerLayer(sa, layer, sa)).to.throw(RangeError, /needs layer\.memory/);
      expect(() => native.transformerLayer(sa, { ...layer, activation: 2 })).to.throw(RangeError, /relu.*gelu/);
    });
  });
});

/** Whether this libtorch uses the fused sdpa (>= 2.1 keeps libtorch's own kernel). */
function sdpaFused(): boolean {
  const [major, minor] = torch.libtorchVersion.split('.').map(Number);
  return major < 2 || (major === 2 && minor < 1);
}
