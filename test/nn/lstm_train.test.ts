// The fused CPU LSTM training kernel (native/fast_rnn_train.cc) against libtorch's reference path
// (torch.backends.fastPath(false)): outputs and every gradient for random configurations, the calls
// that must not take it, the inference kernel under noGrad, forwardAsync, the double backward it
// refuses, and error paths.

import { expect } from 'chai';

import * as torch from '../../lib';
import { expectError, prng, withFastPath } from '../helpers';

const { nn } = torch;
type Tensor = torch.Tensor;

interface Config {
  layers: number;
  batchFirst: boolean;
  givenHx: boolean;
  hxGrad: boolean; // the given h0, c0 require grad
  inputGrad: boolean;
  frozen: boolean; // the parameters do not require grad (then the input or hx must)
  uses: [boolean, boolean, boolean]; // which of output, hN, cN the loss reads
  N: number;
  T: number;
  I: number;
  H: number;
  seed: number;
}

function draw(rand: () => number): Config {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const givenHx = rand() < 0.5;
  const frozen = rand() < 0.15;
  let uses: [boolean, boolean, boolean] = [rand() < 0.8, rand() < 0.5, rand() < 0.5];
  if (!uses.some((u) => u)) uses = [true, false, false];
  return {
    layers: int(1, 3),
    batchFirst: rand() < 0.5,
    givenHx,
    hxGrad: givenHx && rand() < 0.7,
    inputGrad: frozen || rand() < 0.7,
    frozen,
    uses,
    N: int(1, 9),
    T: int(1, 12),
    I: int(1, 12),
    H: int(1, 24),
    seed: int(0, 1 << 30),
  };
}

/** max |a - b| / max(1, |b|) over every element, after checking the shapes agree. */
function maxRelDiff(a: Tensor, b: Tensor, what: string): number {
  expect(a.shape, `${what}: shape`).to.deep.equal(b.shape);
  const x = a.contiguous().data();
  const y = b.contiguous().data();
  let m = 0;
  for (let i = 0; i < y.length; i++) {
    const d = Math.abs(Number(x[i]) - Number(y[i])) / Math.max(1, Math.abs(Number(y[i])));
    if (!(d <= m)) m = d; // NaN wins
  }
  return m;
}

const hits = () => torch.backends.fastPathStats();

interface Result {
  values: Tensor[]; // output, hN, cN, then the gradients (null ones left out)
  names: string[];
  trainHits: number;
  rnnHits: number;
}

/**
 * One forward and backward of a fresh LSTM for `c` (the same weights and inputs for a given seed):
 * the loss is a random weighted sum of the outputs the configuration uses.
 */
function runConfig(c: Config, fast: boolean): Result {
  return withFastPath(fast, () =>
    torch.tidy(() => {
      torch.manualSeed(c.seed);
      const m = new nn.LSTM({ inputSize: c.I, hiddenSize: c.H, numLayers: c.layers, batchFirst: c.batchFirst });
      if (c.frozen) for (const p of m.parameters()) p.requiresGrad_(false);
      const x = torch.randn(c.batchFirst ? [c.N, c.T, c.I] : [c.T, c.N, c.I]).requiresGrad_(c.inputGrad);
      const hx: [Tensor, Tensor] | undefined = c.givenHx
        ? [
            torch.randn([c.layers, c.N, c.H]).requiresGrad_(c.hxGrad),
            torch.randn([c.layers, c.N, c.H]).requiresGrad_(c.hxGrad),
          ]
        : undefined;
      const before = hits();
      const [out, [hN, cN]] = m.forward(x, hx);
      const after = hits();
      const outs = [out, hN, cN];
      let loss = torch.zeros([]);
      for (let k = 0; k < 3; k++) if (c.uses[k]) loss = loss.add(outs[k].mul(torch.randn([...outs[k].shape])).sum());
      loss.backward();
      const values: Tensor[] = outs.map((t) => t.detach());
      const names = ['output', 'hN', 'cN'];
      const add = (t: Tensor, name: string) => {
        const g = t.grad;
        if (g) {
          values.push(g);
          names.push(name);
        }
      };
      add(x, 'input.grad');
      if (hx) {
        add(hx[0], 'h0.grad');
        add(hx[1], 'c0.grad');
      }
      for (const [name, p] of m.namedParameters()) add(p, `${name}.grad`);
      for (const v of values) torch.keep(v);
      return {
        values,
        names,
        trainHits: after.rnnTrain - before.rnnTrain,
        rnnHits: after.rnn - before.rnn,
      };
    }),
  );
}

describe('fused LSTM training kernel (torch.backends.fastPath)', () => {
  let wasOn = true;
  before(() => {
    wasOn = torch.backends.fastPath();
    torch.backends.fastPath(true);
  });
  after(() => torch.backends.fastPath(wasOn));

  it('fastPathStats counts it as rnnTrain', () => {
    expect(hits().rnnTrain).to.be.a('number');
  });

  it('100 random configurations: outputs and every gradient within 1e-5 of the reference (relative above 1)', function () {
    this.timeout(120000);
    const rand = prng(20261203);
    let worst = 0;
    let gradients = 0;
    for (let k = 0; k < 100; k++) {
      const c = draw(rand);
      const what = JSON.stringify(c);
      const fast = runConfig(c, true);
      const ref = runConfig(c, false);
      expect(fast.trainHits, `${what}: fused training call`).to.equal(1);
      expect(fast.rnnHits, `${what}: no inference call`).to.equal(0);
      expect(ref.trainHits, `${what}: reference`).to.equal(0);
      expect(fast.names, what).to.deep.equal(ref.names);
      for (let i = 0; i < ref.values.length; i++) {
        const d = maxRelDiff(fast.values[i], ref.values[i], `${what} ${ref.names[i]}`);
        expect(d, `${what}: ${ref.names[i]}`).to.be.at.most(1e-5);
        worst = Math.max(worst, d);
      }
      gradients += ref.values.length - 3;
      torch.dispose([...fast.values, ...ref.values]);
    }
    expect(gradients).to.be.above(300);
    // the worst seen when written: 1.3e-6
    expect(worst).to.be.at.most(1e-5);
  });

  it('sizes whose products run BLAS (not the tiled loop) agree too', function () {
    this.timeout(60000);
    // projection 320 x 90 and recurrent 320 x 80 weights (> 2^14 elements), weight gradients over
    // 10 * 20 rows: every at::mm branch of the kernel
    const c: Config = {
      layers: 2,
      batchFirst: true,
      givenHx: true,
      hxGrad: true,
      inputGrad: true,
      frozen: false,
      uses: [true, true, true],
      N: 20,
      T: 10,
      I: 90,
      H: 80,
      seed: 7,
    };
    const fast = runConfig(c, true);
    const ref = runConfig(c, false);
    expect(fast.trainHits).to.equal(1);
    for (let i = 0; i < ref.values.length; i++) {
      expect(maxRelDiff(fast.values[i], ref.values[i], ref.names[i]), ref.names[i]).to.be.at.most(1e-5);
    }
    torch.dispose([...fast.values, ...ref.values]);
  });

  it("its forward equals the inference kernel's (a noGrad forward) bit for bit", () => {
    const rand = prng(7);
    for (let k = 0; k < 20; k++) {
      const c = draw(rand);
      torch.tidy(() => {
        torch.manualSeed(c.seed);
        const m = new nn.LSTM({ inputSize: c.I, hiddenSize: c.H, numLayers: c.layers, batchFirst: c.batchFirst });
        const x = torch.randn(c.batchFirst ? [c.N, c.T, c.I] : [c.T, c.N, c.I]);
        const hx: [Tensor, Tensor] | undefined = c.givenHx
          ? [torch.randn([c.layers, c.N, c.H]), torch.randn([c.layers, c.N, c.H])]
          : undefined;
        const [o1, [h1, c1]] = m.forward(x, hx);
        expect(o1.requiresGrad).to.equal(true);
        const [o2, [h2, c2]] = torch.noGrad(() => m.forward(x, hx));
        const what = JSON.stringify(c);
        expect(maxRelDiff(o1, o2, what), `${what}: output`).to.equal(0);
        expect(maxRelDiff(h1, h2, what), `${what}: hN`).to.equal(0);
        expect(maxRelDiff(c1, c2, what), `${what}: cN`).to.equal(0);
      });
    }
  });

  it('a backward twice (retainGraph) accumulates the same gradients as the reference', () => {
    const grads = (on: boolean) =>
      withFastPath(on, () => {
        torch.manualSeed(11);
        const m = new nn.LSTM(3, 5, { numLayers: 2 });
        const x = torch.randn([4, 2, 3], { requiresGrad: true });
        const [out, [hN]] = m.forward(x);
        const loss = out.square().sum().add(hN.sum());
        loss.backward(null, { retainGraph: true });
        loss.backward();
        return [x.grad as Tensor, ...[...m.parameters()].map((p) => p.grad as Tensor)];
      });
    const a = grads(true);
    const b = grads(false);
    for (let i = 0; i < b.length; i++) expect(maxRelDiff(a[i], b[i], `grad ${i}`)).to.be.at.most(1e-5);
  });

  it('bias gradients are two tensors, not one shared by b_ih and b_hh', () => {
    const m = new nn.LSTM(2, 3);
    const [out] = m.forward(torch.randn([3, 1, 2]));
    out.sum().backward();
    const params = new Map(m.namedParameters());
    const gi = params.get('bias_ih_l0')?.grad as Tensor;
    const gh = params.get('bias_hh_l0')?.grad as Tensor;
    const copy = gh.clone();
    gi.mul_(0);
    expect(maxRelDiff(gh, copy, 'bias_hh grad')).to.equal(0);
  });

  it('the calls it does not take run the reference, with the same results as with the fast path off', () => {
    const cases: [string, () => torch.nn.LSTM, number[], torch.DType][] = [
      ['bidirectional', () => new nn.LSTM(3, 4, { bidirectional: true }), [5, 2, 3], 'float32'],
      ['projSize', () => new nn.LSTM({ inputSize: 3, hiddenSize: 4, projSize: 2 }), [5, 2, 3], 'float32'],
      ['float64', () => new nn.LSTM(3, 4).to('float64') as torch.nn.LSTM, [5, 2, 3], 'float64'],
      ['no biases', () => new nn.LSTM(3, 4, { bias: false }), [5, 2, 3], 'float32'],
      [
        'dropout between layers in training',
        () => new nn.LSTM(3, 4, { numLayers: 2, dropout: 0.5 }),
        [5, 2, 3],
        'float32',
      ],
    ];
    for (const [what, make, shape, dtype] of cases) {
      const run = (on: boolean) =>
        withFastPath(on, () => {
          torch.manualSeed(5);
          const m = make();
          const x = torch.randn(shape, { dtype, requiresGrad: true });
          const before = hits();
          const [out, [hN, cN]] = m.forward(x);
          const after = hits();
          expect(after.rnnTrain - before.rnnTrain, `${what}: fused training`).to.equal(0);
          expect(after.rnn - before.rnn, `${what}: fused inference`).to.equal(0);
          out.sum().add(hN.sum()).add(cN.sum()).backward();
          return [out, hN, cN, x.grad as Tensor, ...[...m.parameters()].map((p) => p.grad as Tensor)];
        });
      const a = run(true);
      const b = run(false);
      for (let i = 0; i < b.length; i++) expect(maxRelDiff(a[i], b[i], `${what} ${i}`), `${what} ${i}`).to.equal(0);
    }
  });

  it('dropout in eval mode, or with one layer, is fused', () => {
    const m = new nn.LSTM(3, 4, { numLayers: 2, dropout: 0.5 }).eval();
    let before = hits().rnnTrain;
    m.forward(torch.randn([4, 2, 3]));
    expect(hits().rnnTrain - before).to.equal(1);
    const one = new nn.LSTM(3, 4, { dropout: 0.5 });
    before = hits().rnnTrain;
    one.forward(torch.randn([4, 2, 3]));
    expect(hits().rnnTrain - before).to.equal(1);
  });

  it('a packed sequence runs the reference', () => {
    const m = new nn.LSTM(3, 4);
    const x = torch.randn([5, 2, 3]);
    const packed = nn.utils.rnn.packPaddedSequence(x, [5, 3]);
    const before = hits().rnnTrain;
    const [out] = m.forward(packed);
    expect(hits().rnnTrain - before).to.equal(0);
    expect((out as torch.nn.utils.rnn.PackedSequence).data.requiresGrad).to.equal(true);
  });

  it('with no gradient needed the inference kernel runs, not the training one', () => {
    const m = new nn.LSTM(3, 4, { numLayers: 2 });
    const x = torch.randn([4, 2, 3]);
    let before = hits();
    torch.noGrad(() => m.forward(x));
    let after = hits();
    expect(after.rnn - before.rnn).to.equal(1);
    expect(after.rnnTrain - before.rnnTrain).to.equal(0);
    for (const p of m.parameters()) p.requiresGrad_(false);
    before = hits();
    const [out] = m.forward(x);
    after = hits();
    expect(after.rnn - before.rnn).to.equal(1);
    expect(after.rnnTrain - before.rnnTrain).to.equal(0);
    expect(out.requiresGrad).to.equal(false);
  });

  it('is not taken while tracing: the trace records the reference ops, and its replay has gradients', () => {
    torch.manualSeed(8);
    const m = new nn.LSTM(3, 4, { numLayers: 2 });
    const x = torch.randn([5, 2, 3]);
    const before = hits().rnnTrain;
    const traced = torch.jit.trace(m, [x]);
    expect(hits().rnnTrain - before, 'no fused training call while tracing').to.equal(0);
    const y = torch.randn([5, 2, 3], { requiresGrad: true });
    const [got] = traced.forward(y) as unknown as [Tensor];
    got.sum().backward();
    const gy = (y.grad as Tensor).clone();
    y.grad = null;
    const [want] = withFastPath(false, () => m.forward(y));
    want.sum().backward();
    expect(maxRelDiff(got.detach(), want.detach(), 'output')).to.be.at.most(1e-6);
    const gradOf = (t: Tensor) => t.grad as Tensor; // (y.grad was set to null above)
    expect(maxRelDiff(gy, gradOf(y), 'input grad')).to.be.at.most(1e-6);
  });

  it('the fast path off runs the reference', () => {
    const m = new nn.LSTM(3, 4);
    const before = hits().rnnTrain;
    withFastPath(false, () => m.forward(torch.randn([4, 2, 3])));
    expect(hits().rnnTrain - before).to.equal(0);
  });

  it('forwardAsync takes it on a pool thread, with the gradients of forward', async () => {
    torch.manualSeed(21);
    const m = new nn.LSTM(4, 6, { numLayers: 2, batchFirst: true });
    const x = torch.randn([3, 5, 4], { requiresGrad: true });
    const h = [torch.randn([2, 3, 6], { requiresGrad: true }), torch.randn([2, 3, 6], { requiresGrad: true })] as [
      Tensor,
      Tensor,
    ];
    const grads = () => [x, ...h, ...m.parameters()].map((t) => (t.grad as Tensor).clone());
    const zero = () => {
      for (const t of [x, ...h, ...m.parameters()]) t.grad = null;
    };
    const before = hits().rnnTrain;
    const [outA, [hA, cA]] = await m.forwardAsync(x, h);
    expect(hits().rnnTrain - before).to.equal(1);
    outA.sum().add(hA.mul(2).sum()).add(cA.sum()).backward();
    const a = grads();
    zero();
    const [outS, [hS, cS]] = withFastPath(false, () => m.forward(x, h));
    outS.sum().add(hS.mul(2).sum()).add(cS.sum()).backward();
    const b = grads();
    expect(maxRelDiff(outA.detach(), outS.detach(), 'output')).to.be.at.most(1e-5);
    for (let i = 0; i < b.length; i++) expect(maxRelDiff(a[i], b[i], `grad ${i}`)).to.be.at.most(1e-5);
  });

  it('a backward with createGraph through it throws a TorchError naming fastPath(false); with it off, it runs', () => {
    torch.manualSeed(2);
    const m = new nn.LSTM(2, 3);
    const x = torch.randn([3, 2, 2], { requiresGrad: true });
    const [out] = m.forward(x);
    expectError(() => out.square().sum().backward(null, { createGraph: true }), torch.TorchError, 'fastPath(false)');
    for (const t of [x, ...m.parameters()]) t.grad = null;
    withFastPath(false, () => {
      const [o2] = m.forward(x);
      o2.square().sum().backward(null, { createGraph: true });
    });
    const g = x.grad as Tensor;
    expect(g.requiresGrad).to.equal(true);
    g.sum().backward(); // second order through libtorch's LSTM
  });

  it('an input modified in place after the forward makes the backward fail, as the reference does', () => {
    for (const on of [true, false]) {
      withFastPath(on, () => {
        const m = new nn.LSTM(2, 3);
        const x = torch.randn([3, 2, 2]).requiresGrad_();
        const y = x.mul(1);
        const [out] = m.forward(y);
        y.add_(1);
        expectError(() => out.sum().backward(), torch.TorchError, /modified by an inplace operation/);
      });
    }
  });

  it('bad inputs fail with the same errors as the reference path', () => {
    const m = new nn.LSTM(3, 4, { numLayers: 2 });
    const bad: [string, () => unknown][] = [
      ['input size', () => m.forward(torch.randn([5, 2, 7], { requiresGrad: true }))],
      [
        'hx shape',
        () =>
          m.forward(torch.randn([5, 2, 3], { requiresGrad: true }), [torch.randn([2, 3, 4]), torch.randn([2, 2, 4])]),
      ],
      [
        'hx batch',
        () =>
          m.forward(torch.randn([5, 2, 3], { requiresGrad: true }), [torch.randn([1, 2, 4]), torch.randn([1, 2, 4])]),
      ],
      ['input rank', () => m.forward(torch.randn([5, 2, 3, 1], { requiresGrad: true }))],
    ];
    for (const [what, call] of bad) {
      const message = (on: boolean) =>
        withFastPath(on, () => {
          const before = hits().rnnTrain;
          try {
            call();
          } catch (e) {
            expect(hits().rnnTrain - before, what).to.equal(0);
            return `${(e as Error).constructor.name}: ${(e as Error).message}`;
          }
          return expect.fail(`${what}: nothing thrown`);
        });
      expect(message(true), what).to.equal(message(false));
    }
  });

  it('float64 hx with a float32 input is not fused: the same error with the fast path on and off', () => {
    const m = new nn.LSTM(3, 4);
    const x = torch.randn([5, 2, 3], { requiresGrad: true });
    const hx: [Tensor, Tensor] = [torch.randn([1, 2, 4], { dtype: 'float64' }), torch.randn([1, 2, 4])];
    const message = (on: boolean) =>
      withFastPath(on, () => {
        try {
          m.forward(x, hx);
        } catch (e) {
          return (e as Error).message;
        }
        return 'no error';
      });
    expect(message(true)).to.equal(message(false));
  });
});
