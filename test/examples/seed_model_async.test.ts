// The seed model's forwardAsync (examples/seed_model.ts): a user module composed of LSTMs, an
// attention and a Linear, each step awaited on the libuv pool. Equal to forward, with masks and
// under 16 concurrent calls on one model.
import { expect } from 'chai';
import { SeedModel } from '../../examples/seed_model';
import * as torch from '../../lib';
import { expectSame, settleGarbage } from '../helpers';

const { nn } = torch;
type Tensor = torch.Tensor;

describe("examples: the seed model's forwardAsync", () => {
  // Collect what these tests left to the GC now, not in the middle of a later test that counts
  // live tensors.
  after(async () => {
    for (let i = 0; i < 3; i++) {
      (globalThis as { gc?: () => void }).gc?.();
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  const L = 8,
    N = 3;
  let model: SeedModel;
  let x: Tensor, padding: Tensor;

  before(() => {
    torch.manualSeed(2);
    model = new SeedModel();
    x = torch.randn(L, N, 10);
    padding = nn.masks.keyPadding([8, 5, 3], L);
  });

  it('equals forward, with and without the padding mask, and the attention weights too', async () => {
    expectSame(await model.forwardAsync(x, padding), model.forward(x, padding));
    expectSame(await model.forwardAsync(x), model.forward(x));
    const [o1, w1] = model.forwardWithWeights(x, padding);
    const [o2, w2] = await model.forwardWithWeightsAsync(x, padding);
    expectSame(o2, o1);
    expectSame(w2!, w1!, 'weights');
    expect(w2!.shape).to.deep.equal([N, 4, L, L]);
  });

  it('16 concurrent forwardAsync calls on one model all equal the sync result', async () => {
    model.eval();
    const xs = Array.from({ length: 16 }, (_, i) => (i % 2 ? x : torch.randn(L, N, 10)));
    const expected = xs.map((xi) => model.forward(xi, padding));
    const got = await Promise.all(xs.map((xi) => model.forwardAsync(xi, padding)));
    got.forEach((g, i) => expectSame(g, expected[i], `call ${i}`));
    model.train();
  });

  it("gradients equal forward's, and no tensor is left behind", async () => {
    const grads = async (useAsync: boolean) => {
      model.zeroGrad();
      const out = useAsync ? await model.forwardAsync(x, padding) : model.forward(x, padding);
      torch.tidy(() => out.pow(2).mean().backward());
      out.dispose();
      return [...model.parameters()].map((p) => p.grad!);
    };
    const g1 = await grads(false),
      g2 = await grads(true);
    g1.forEach((g, i) => expectSame(g2[i], g, `grad ${i}`));
    torch.dispose([g1, g2]);
    await settleGarbage(); // earlier tests' dropped tensors must not be collected while this counts
    const start = torch.memory().tensors;
    for (let i = 0; i < 3; i++) (await model.forwardAsync(x, padding)).dispose();
    const [o, w] = await model.forwardWithWeightsAsync(x, padding);
    torch.dispose([o, w]);
    expect(torch.memory().tensors).to.equal(start);
  });
});
