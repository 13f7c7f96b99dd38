import { expect } from 'chai';
import * as torch from '../../lib';
import { settleGarbage } from '../helpers';

const { nn } = torch;

function maxDiff(a: torch.Tensor, b: torch.Tensor): number {
  return torch.tidy(() => a.sub(b).abs().max().item() as number);
}

describe('nn.AttentionCache: incremental decoding with MultiheadAttention', () => {
  for (const batchFirst of [false, true]) {
    it(`decoding T steps one at a time equals the full causal forward (batchFirst ${batchFirst})`, () => {
      torch.manualSeed(1);
      const [T, N, E] = [7, 3, 16];
      const mha = new nn.MultiheadAttention(E, 4, { batchFirst }).eval();
      const x = torch.randn(batchFirst ? [N, T, E] : [T, N, E]);
      const pad = nn.masks.keyPadding([7, 5, 6], T);
      torch.noGrad(() => {
        const [full, fullW] = mha.forward(x, x, x, { attnMask: nn.masks.causal(T), keyPaddingMask: pad });
        const cache = new nn.AttentionCache();
        const outs: torch.Tensor[] = [];
        for (let t = 0; t < T; t++) {
          const xt = x.narrow(batchFirst ? 1 : 0, t, 1);
          const [y, w] = torch.tidy(() => mha.forward(xt, xt, xt, { cache, keyPaddingMask: pad.narrow(1, 0, t + 1) }));
          expect(cache.length).to.equal(t + 1);
          expect(w?.shape).to.deep.equal([N, 1, t + 1]);
          // the step's weights are the full forward's row t (over the steps so far)
          expect(maxDiff(w as torch.Tensor, (fullW as torch.Tensor).narrow(1, t, 1).narrow(2, 0, t + 1))).to.be.below(
            1e-5,
          );
          outs.push(y);
        }
        const inc = torch.cat(outs, batchFirst ? 1 : 0);
        // rows past a sequence's length are padding in both: compare the valid steps
        expect(maxDiff(inc.mul(1), full)).to.be.below(1e-5);
        cache.dispose();
        expect(cache.length).to.equal(0);
      });
    });
  }

  it('a static cache projects the encoder memory once (cross-attention), and every step costs the same ops', () => {
    torch.manualSeed(2);
    const [S, N, E] = [5, 2, 8];
    const mha = new nn.MultiheadAttention(E, 2).eval();
    const memory = torch.randn([S, N, E]);
    const q = torch.randn([4, N, E]);
    torch.noGrad(() => {
      const [full] = mha.forward(q, memory, memory);
      const cache = new nn.AttentionCache({ static: true });
      const opCounts: number[] = [];
      for (let t = 0; t < 4; t++) {
        const fused = torch.backends.fastPathStats().linear;
        const { result, ops } = torch.profiler.recordOps(() =>
          torch.tidy(() => mha.forward(q.narrow(0, t, 1), memory, memory, { cache, needWeights: false })[0]),
        );
        // aten::linear calls plus those the fused small-product Linear took
        opCounts.push(ops.filter((o) => o === 'aten::linear').length + torch.backends.fastPathStats().linear - fused);
        expect(maxDiff(result, full.narrow(0, t, 1))).to.be.below(1e-5);
      }
      // q and out projections every step; k and v only at the first
      expect(opCounts).to.deep.equal([4, 2, 2, 2]);
      cache.dispose();
    });
  });

  it('a self-attention step does not recompute the prefix: its op count does not grow with t', () => {
    const mha = new nn.MultiheadAttention(8, 2).eval();
    const cache = new nn.AttentionCache();
    const counts: number[] = [];
    torch.noGrad(() => {
      for (let t = 0; t < 12; t++) {
        const x = torch.randn([1, 2, 8]);
        const fused = torch.backends.fastPathStats().linear;
        const { ops } = torch.profiler.recordOps(() =>
          torch.tidy(() => mha.forward(x, x, x, { cache, needWeights: false })[0]),
        );
        // small projections take the fused Linear (counted, not recorded as aten::linear)
        const fusedLinears = torch.backends.fastPathStats().linear - fused;
        counts.push(ops.filter((o) => o === 'aten::linear' || o === 'aten::bmm').length + fusedLinears);
        x.dispose();
      }
    });
    expect(new Set(counts.slice(1)).size).to.equal(1);
    cache.dispose();
  });

  it('reorder selects and duplicates batch rows (beam search)', () => {
    torch.manualSeed(3);
    const mha = new nn.MultiheadAttention(8, 2).eval();
    const x = torch.randn([3, 2, 8]);
    torch.noGrad(() => {
      const a = new nn.AttentionCache();
      for (let t = 0; t < 3; t++)
        torch.tidy(() => mha.forward(x.narrow(0, t, 1), x.narrow(0, t, 1), x.narrow(0, t, 1), { cache: a }));
      a.reorder(torch.tensor([1, 1, 0], { dtype: 'int64' }));
      expect(a.key?.shape).to.deep.equal([6, 3, 4]);
      // the reordered cache equals a cache built from the reordered inputs
      const xr = x.indexSelect(1, torch.tensor([1, 1, 0], { dtype: 'int64' }));
      const b = new nn.AttentionCache();
      for (let t = 0; t < 3; t++)
        torch.tidy(() => mha.forward(xr.narrow(0, t, 1), xr.narrow(0, t, 1), xr.narrow(0, t, 1), { cache: b }));
      expect(maxDiff(a.key as torch.Tensor, b.key as torch.Tensor)).to.equal(0);
      expect(maxDiff(a.value as torch.Tensor, b.value as torch.Tensor)).to.equal(0);
      a.dispose();
      b.dispose();
    });
  });

  it('the cache survives tidy scopes and frees what it replaces', async () => {
    const mha = new nn.MultiheadAttention(8, 2).eval();
    const cache = new nn.AttentionCache();
    const x = torch.randn([1, 2, 8]);
    await settleGarbage(); // earlier tests' dropped tensors must not be collected while this counts
    torch.noGrad(() => {
      torch.tidy(() => {
        mha.forward(x, x, x, { cache });
      });
      const before = torch.memory().tensors;
      for (let t = 0; t < 5; t++)
        torch.tidy(() => {
          mha.forward(x, x, x, { cache });
        });
      expect(torch.memory().tensors).to.equal(before); // still two cached tensors, the old ones freed
      expect(cache.length).to.equal(6);
    });
    cache.dispose();
    x.dispose();
  });

  it('gradients flow through cached steps (training a decoder incrementally works too)', () => {
    const mha = new nn.MultiheadAttention(4, 1);
    const cache = new nn.AttentionCache();
    const x = torch.randn([1, 1, 4], { requiresGrad: true });
    const [y1] = mha.forward(x, x, x, { cache });
    const [y2] = mha.forward(x, x, x, { cache });
    y1.add(y2).sum().backward();
    expect(x.grad?.abs().sum().item()).to.be.greaterThan(0);
    expect(mha.in_proj_weight?.grad).to.not.equal(null);
    cache.dispose();
  });

  it('refuses what a cache cannot do, with messages that say why', () => {
    const cache = new nn.AttentionCache();
    const x = torch.randn([1, 2, 8]);
    expect(() => new nn.MultiheadAttention(8, 2, { addBiasKv: true }).forward(x, x, x, { cache })).to.throw(
      RangeError,
      /addBiasKv or addZeroAttn/,
    );
    const mha = new nn.MultiheadAttention(8, 2);
    expect(() => mha.forward(x, x, x, { cache: {} as torch.nn.AttentionCache })).to.throw(
      TypeError,
      /nn.AttentionCache/,
    );
    torch.noGrad(() => mha.forward(x, x, x, { cache }));
    expect(() => mha.forward(x, x, x, { cache, attnMask: nn.masks.causal(1) })).to.throw(
      RangeError,
      /covers every cached step/,
    );
    const x3 = torch.randn([1, 3, 8]);
    expect(() => mha.forward(x3, x3, x3, { cache })).to.throw(RangeError, /holds 2 batch rows but query has 3/);
    expect(() => new nn.AttentionCache({ statik: true } as never)).to.throw(TypeError, /unknown option 'statik'/);
    expect(() => cache.reorder([0] as never)).to.throw(TypeError, /int64 Tensor/);
    cache.dispose();
  });

  for (const [normFirst, batchFirst] of [
    [false, false],
    [true, true],
  ]) {
    it(`nn.TransformerDecoder with a TransformerDecoderCache equals the full causal forward (normFirst ${normFirst}, batchFirst ${batchFirst})`, () => {
      torch.manualSeed(4);
      const [T, S, N, E] = [6, 5, 2, 16];
      const layer = new nn.TransformerDecoderLayer(E, 4, { dimFeedforward: 32, normFirst, batchFirst });
      const dec = new nn.TransformerDecoder(layer, 2, { norm: new nn.LayerNorm([E]) }).eval();
      const seq = (L: number) => (batchFirst ? [N, L, E] : [L, N, E]);
      const tgt = torch.randn(seq(T));
      const memory = torch.randn(seq(S));
      const memPad = nn.masks.keyPadding([5, 3], S);
      torch.noGrad(() => {
        const full = dec.forward(tgt, memory, { tgtMask: nn.masks.causal(T), memoryKeyPaddingMask: memPad });
        const cache = new nn.TransformerDecoderCache();
        const steps: torch.Tensor[] = [];
        const linearsPerStep: number[] = [];
        for (let t = 0; t < T; t++) {
          const fused = torch.backends.fastPathStats().linear;
          const { result, ops } = torch.profiler.recordOps(() =>
            dec.forward(tgt.narrow(batchFirst ? 1 : 0, t, 1), memory, { cache, memoryKeyPaddingMask: memPad }),
          );
          steps.push(result);
          // aten::linear calls plus those the fused small-product Linear took
          linearsPerStep.push(
            ops.filter((o) => o === 'aten::linear').length + torch.backends.fastPathStats().linear - fused,
          );
          expect(cache.length).to.equal(t + 1);
        }
        expect(maxDiff(torch.cat(steps, batchFirst ? 1 : 0), full)).to.be.below(1e-5);
        // per layer: self q, k, v, out + cross q, out + 2 feed-forward = 8; the memory's k, v only at step 0
        expect(linearsPerStep).to.deep.equal([20, 16, 16, 16, 16, 16]);
        // beam search: reordering the rows of every layer's caches
        cache.reorder(torch.tensor([1, 0], { dtype: 'int64' }));
        expect(cache.layers).to.have.length(2);
        cache.dispose();
        expect(cache.length).to.equal(0);
      });
    });
  }

  it('a decoder layer refuses a cache of the wrong kind', () => {
    const layer = new nn.TransformerDecoderLayer(8, 2);
    const x = torch.randn([1, 1, 8]);
    expect(() => layer.forward(x, x, { cache: new nn.AttentionCache() as never })).to.throw(
      TypeError,
      /nn.TransformerDecoderCache/,
    );
    const dec = new nn.TransformerDecoder(layer, 1);
    expect(() => dec.forward(x, x, { cache: {} as never })).to.throw(TypeError, /nn.TransformerDecoderCache/);
  });
});
