// forwardAsync of composed modules: the Transformer layers and stacks, nn.Transformer and
// Sequential. Each awaits its children's forwardAsync (attention, Linear, ...) and runs the cheap
// parts on the JS thread; the results equal forward's exactly, errors reject with the same
// messages (named forwardAsync), intermediates are disposed, grad mode is the caller's.
import { expect } from 'chai';

import * as torch from '../../lib';
import { expectSame, gc, rejection } from '../helpers';

const { nn } = torch;
type Tensor = torch.Tensor;

const E = 8,
  H = 2,
  S = 5,
  T = 4,
  B = 3;

describe('forwardAsync of composed modules', () => {
  before(() => torch.manualSeed(7));
  // Collect what these tests left to the GC now, not in the middle of a later test that counts
  // live tensors.
  after(async () => {
    for (let i = 0; i < 3; i++) {
      (globalThis as { gc?: () => void }).gc?.();
      await new Promise((r) => setTimeout(r, 5));
    }
  });

  // bool causal masks, a bool key-padding mask and a float one
  const srcKpm = () => nn.masks.keyPadding([5, 3, 4], S);
  const tgtKpmFloat = () => torch.zeros(B, T).maskedFill(nn.masks.keyPadding([4, 4, 2], T), -1e4);

  for (const mode of ['eval, dropout 0.1', 'train, dropout 0'] as const) {
    const opts = (o: torch.nn.TransformerLayerOptions = {}) => ({
      dimFeedforward: 16,
      dropout: mode === 'eval, dropout 0.1' ? 0.1 : 0,
      ...o,
    });
    const setMode = (m: torch.nn.Module) => (mode === 'eval, dropout 0.1' ? m.eval() : m.train());

    describe(mode, () => {
      for (const layerOpts of [{}, { normFirst: true, activation: 'gelu' as const }, { batchFirst: true }]) {
        it(`TransformerEncoderLayer ${JSON.stringify(layerOpts)} with srcMask and srcKeyPaddingMask`, async () => {
          const layer = setMode(
            new nn.TransformerEncoderLayer(E, H, opts(layerOpts)),
          ) as torch.nn.TransformerEncoderLayer;
          const src = layerOpts.batchFirst ? torch.randn(B, S, E) : torch.randn(S, B, E);
          const fo = { srcMask: nn.masks.causal(S), srcKeyPaddingMask: srcKpm() };
          expectSame(await layer.forwardAsync(src, fo), layer.forward(src, fo));
          expectSame(await layer.forwardAsync(src), layer.forward(src));
          const u = torch.randn(S, E); // unbatched
          expectSame(
            await layer.forwardAsync(u, { srcMask: nn.masks.causal(S) }),
            layer.forward(u, { srcMask: nn.masks.causal(S) }),
          );
        });

        it(`TransformerDecoderLayer ${JSON.stringify(layerOpts)} with all four masks`, async () => {
          const layer = setMode(
            new nn.TransformerDecoderLayer(E, H, opts(layerOpts)),
          ) as torch.nn.TransformerDecoderLayer;
          const bf = layerOpts.batchFirst === true;
          const tgt = bf ? torch.randn(B, T, E) : torch.randn(T, B, E),
            mem = bf ? torch.randn(B, S, E) : torch.randn(S, B, E);
          const fo = {
            tgtMask: nn.Transformer.generateSquareSubsequentMask(T),
            memoryMask: nn.masks.causal(T, S),
            tgtKeyPaddingMask: tgtKpmFloat(),
            memoryKeyPaddingMask: srcKpm(),
          };
          expectSame(await layer.forwardAsync(tgt, mem, fo), layer.forward(tgt, mem, fo));
        });
      }

      it('TransformerEncoder and TransformerDecoder stacks (with norm)', async () => {
        const enc = setMode(
          new nn.TransformerEncoder(new nn.TransformerEncoderLayer(E, H, opts()), 2, { norm: new nn.LayerNorm(E) }),
        ) as torch.nn.TransformerEncoder;
        const dec = setMode(
          new nn.TransformerDecoder(new nn.TransformerDecoderLayer(E, H, opts()), 2, new nn.LayerNorm(E)),
        ) as torch.nn.TransformerDecoder;
        const src = torch.randn(S, B, E),
          tgt = torch.randn(T, B, E);
        const eo = { mask: nn.masks.causal(S), srcKeyPaddingMask: srcKpm() };
        const memory = enc.forward(src, eo);
        expectSame(await enc.forwardAsync(src, eo), memory, 'encoder');
        const dopts = { tgtMask: nn.masks.causal(T), memoryKeyPaddingMask: srcKpm(), tgtIsCausal: true };
        expectSame(await dec.forwardAsync(tgt, memory, dopts), dec.forward(tgt, memory, dopts), 'decoder');
      });

      it('nn.Transformer with every mask', async () => {
        const model = setMode(
          new nn.Transformer({ dModel: E, nhead: H, numEncoderLayers: 2, numDecoderLayers: 2, ...opts() }),
        ) as torch.nn.Transformer;
        const src = torch.randn(S, B, E),
          tgt = torch.randn(T, B, E);
        const fo = {
          srcMask: nn.masks.causal(S),
          tgtMask: nn.Transformer.generateSquareSubsequentMask(T),
          memoryMask: nn.masks.causal(T, S),
          srcKeyPaddingMask: srcKpm(),
          tgtKeyPaddingMask: tgtKpmFloat(),
          memoryKeyPaddingMask: srcKpm(),
        };
        expectSame(await model.forwardAsync(src, tgt, fo), model.forward(src, tgt, fo));
      });
    });
  }

  it('8 concurrent Transformer.forwardAsync calls give the sync results', async () => {
    const model = new nn.Transformer({
      dModel: E,
      nhead: H,
      numEncoderLayers: 1,
      numDecoderLayers: 1,
      dimFeedforward: 16,
    }).eval();
    const inputs = Array.from({ length: 8 }, () => [torch.randn(S, B, E), torch.randn(T, B, E)]);
    const fo = { tgtMask: nn.masks.causal(T) };
    const expected = inputs.map(([s, t]) => model.forward(s, t, fo));
    const got = await Promise.all(inputs.map(([s, t]) => model.forwardAsync(s, t, fo)));
    got.forEach((g, i) => expectSame(g, expected[i], `call ${i}`));
  });

  it("gradients flow as through forward; grad mode is the caller's at the call", async () => {
    const layer = new nn.TransformerEncoderLayer(E, H, { dimFeedforward: 16, dropout: 0 });
    const src = torch.randn(S, B, E);
    const grads = async (useAsync: boolean) => {
      layer.zeroGrad();
      const out = useAsync ? await layer.forwardAsync(src) : layer.forward(src);
      out.pow(2).sum().backward();
      return [...layer.parameters()].map((p) => p.grad!);
    };
    const g1 = await grads(false),
      g2 = await grads(true);
    g1.forEach((g, i) => expectSame(g2[i], g, `grad ${i}`));
    // grad mode off at the call: every later step runs without grad too, although the mode is
    // back on when they run
    torch.setGradEnabled(false);
    let p: Promise<Tensor>;
    try {
      p = layer.forwardAsync(src);
    } finally {
      torch.setGradEnabled(true);
    }
    const out = await p;
    expect(out.requiresGrad).to.equal(false);
    expect(torch.isGradEnabled()).to.equal(true);
  });

  it("errors reject with forward's messages, named forwardAsync", async () => {
    const layer = new nn.TransformerEncoderLayer(E, H, { dimFeedforward: 16 });
    const src = torch.randn(S, B, E);
    const e1 = await rejection(layer.forwardAsync(src, { mask: nn.masks.causal(S) } as never));
    expect(e1).to.be.instanceOf(TypeError);
    expect(e1.message).to.match(
      /^TransformerEncoderLayer\.forwardAsync: unknown option 'mask' \(the source mask is called srcMask here/,
    );
    const e2 = await rejection(layer.forwardAsync(src, { srcKeyPaddingMask: nn.masks.keyPadding([2, 2], S) }));
    expect(e2).to.be.instanceOf(RangeError);
    expect(e2.message).to.match(
      /^TransformerEncoderLayer\.forwardAsync: in self_attn \(srcMask is its attnMask, srcKeyPaddingMask its keyPaddingMask\): MultiheadAttention\.forwardAsync: /,
    );
    const e3 = await rejection(
      new nn.Transformer({ dModel: E, nhead: H, numEncoderLayers: 1, numDecoderLayers: 1 }).forwardAsync(
        src,
        torch.randn(T, B + 1, E),
      ),
    );
    expect(e3.message).to.match(/^Transformer\.forwardAsync: the batch number of src and tgt must be equal/);
    const dec = new nn.TransformerDecoderLayer(E, H, { dimFeedforward: 16 });
    const e4 = await rejection(dec.forwardAsync(torch.randn(T, B, E), src, { memoryMask: nn.masks.causal(S, T) }));
    expect(e4.message).to.match(
      /^TransformerDecoderLayer\.forwardAsync: in multihead_attn .*: MultiheadAttention\.forwardAsync: /,
    );
  });

  it('disposes its intermediates: torch.memory().tensors returns to its start', async () => {
    const model = new nn.Transformer({
      dModel: E,
      nhead: H,
      numEncoderLayers: 2,
      numDecoderLayers: 2,
      dimFeedforward: 16,
    });
    const src = torch.randn(S, B, E),
      tgt = torch.randn(T, B, E),
      mask = nn.masks.causal(T);
    model.forward(src, tgt, { tgtMask: mask }).dispose();
    gc();
    await new Promise((r) => setImmediate(r));
    const start = torch.memory().tensors;
    for (let i = 0; i < 3; i++) (await model.forwardAsync(src, tgt, { tgtMask: mask })).dispose();
    expect(torch.memory().tensors).to.equal(start);
    // an error in the decoder, after the encoder ran: what the call made is disposed too
    const badMask = nn.masks.causal(T + 1);
    const err = await rejection(model.forwardAsync(src, tgt, { tgtMask: badMask }));
    expect(err.message).to.match(/^TransformerDecoderLayer\.forwardAsync: in self_attn/);
    badMask.dispose();
    expect(torch.memory().tensors).to.equal(start);
  });

  describe('Sequential.forwardAsync', () => {
    it('awaits children that have forwardAsync and calls forward on the others; equals forward', async () => {
      const seq = new nn.Sequential(
        new nn.Linear(6, 16),
        new nn.ReLU(),
        new nn.Dropout(0.5),
        new nn.Sequential(new nn.Linear(16, 8), new nn.Tanh()),
        new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 8 }),
        new nn.Identity(),
        new nn.Linear(8, 3),
      ).eval();
      const x = torch.randn(4, 5, 6);
      expectSame((await seq.forwardAsync(x)) as Tensor, seq.forward(x) as Tensor);
      // an Identity returning the input itself: the input stays alive
      const id = new nn.Sequential(new nn.Identity());
      expect(await id.forwardAsync(x)).to.equal(x);
      expect(x.isDisposed).to.equal(false);
    });

    it('disposes intermediates, keeps the result; errors reject and dispose too', async () => {
      const seq = new nn.Sequential(new nn.Linear(6, 16), new nn.GELU(), new nn.Linear(16, 2));
      const x = torch.randn(3, 6);
      (seq.forward(x) as Tensor).dispose();
      gc();
      await new Promise((r) => setImmediate(r));
      const start = torch.memory().tensors;
      const y = (await seq.forwardAsync(x)) as Tensor;
      expect(torch.memory().tensors).to.equal(start + 1);
      expectSame(y, seq.forward(x) as Tensor);
      const err = await rejection(seq.forwardAsync(torch.randn(3, 7)));
      expect(err.message).to.match(/^Linear\.forwardAsync: expected input with last dimension inFeatures=6/);
      const bad = new nn.Sequential(new nn.Linear(6, 16), new nn.Linear(5, 1));
      const err2 = await rejection(bad.forwardAsync(x));
      expect(err2.message).to.match(/^Linear\.forwardAsync: expected input with last dimension inFeatures=5/);
    });

    it("a child that passes its input through (an empty Sequential) never disposes the caller's tensor", async () => {
      // Before the fix the engine took the inner Sequential's result (x itself) for an intermediate.
      const lin = new nn.Linear(2, 2);
      const x = torch.randn(3, 2);
      const expected = lin.forward(x);
      for (const seq of [
        new nn.Sequential(new nn.Sequential(), lin),
        new nn.Sequential(lin, new nn.Sequential()),
        new nn.Sequential(new nn.Sequential(new nn.Sequential()), new nn.Sequential(), lin),
      ]) {
        const y = (await seq.forwardAsync(x)) as Tensor;
        expect(x.isDisposed, 'the input').to.equal(false);
        expectSame(y, expected);
        y.dispose();
      }
      // a pass-through of everything: the result is the input itself
      expect(await new nn.Sequential(new nn.Sequential(), new nn.Sequential()).forwardAsync(x)).to.equal(x);
      expect(x.isDisposed).to.equal(false);
      // a child returning one of its own parameters: not the engine's to dispose either
      class Param extends nn.Module {
        w = new nn.Parameter(torch.ones(2));
        forward(): Tensor {
          return this.w;
        }
        override async forwardAsync(): Promise<Tensor> {
          return this.w;
        }
      }
      const pm = new Param();
      const out = await new nn.Sequential(pm, new nn.Sequential()).forwardAsync(x);
      expect(out).to.equal(pm.w);
      expect(pm.w.isDisposed).to.equal(false);
      torch.dispose([x, expected]);
    });

    it('16 concurrent calls on one Sequential give the sync results', async () => {
      const seq = new nn.Sequential(new nn.Linear(10, 32), new nn.ReLU(), new nn.Linear(32, 4));
      const xs = Array.from({ length: 16 }, () => torch.randn(7, 10));
      const expected = xs.map((x) => seq.forward(x) as Tensor);
      const got = await Promise.all(xs.map((x) => seq.forwardAsync(x) as Promise<Tensor>));
      got.forEach((g, i) => expectSame(g, expected[i], `call ${i}`));
    });
  });

  it('modules without a forwardAsync of their own get the traced default (forward_async_generic.test.ts)', () => {
    for (const m of [new nn.ReLU(), new nn.LayerNorm(4), new nn.Dropout(0.1), new nn.Identity()])
      expect((m as unknown as { forwardAsync?: unknown }).forwardAsync, m.constructor.name).to.equal(
        nn.Module.prototype.forwardAsync,
      );
  });
});
