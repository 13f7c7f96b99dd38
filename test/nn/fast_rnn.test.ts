// The fused CPU inference kernel for nn.LSTM / nn.GRU / nn.RNN (native/fast_rnn.cc) against
// libtorch's reference path (torch.backends.fastPath(false)): random configurations, the cases that
// must not take it (gradients, dropout between layers), forwardAsync and several threads.

import { expect } from 'chai';

import * as torch from '../../lib';
import { prng, withFastPath } from '../helpers';

const { nn } = torch;
const { PackedSequence, packPaddedSequence } = nn.utils.rnn;
type Tensor = torch.Tensor;
type RnnModule = torch.nn.LSTM | torch.nn.GRU | torch.nn.RNN;

interface Config {
  mode: 'LSTM' | 'GRU' | 'RNN_TANH' | 'RNN_RELU';
  layers: number;
  bidirectional: boolean;
  batchFirst: boolean;
  bias: boolean;
  projSize: number;
  packed: 'no' | 'sorted' | 'unsorted';
  givenHx: boolean;
  dtype: 'float32' | 'float64';
  N: number;
  T: number;
  I: number;
  H: number;
  seed: number;
}

function draw(rand: () => number): Config {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const mode = pick(['LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU'] as const);
  const H = int(1, 12);
  return {
    mode,
    layers: int(1, 3),
    bidirectional: rand() < 0.5,
    batchFirst: rand() < 0.5,
    bias: rand() < 0.75,
    projSize: mode === 'LSTM' && H > 1 && rand() < 0.3 ? int(1, H - 1) : 0,
    packed: pick(['no', 'no', 'sorted', 'unsorted'] as const),
    givenHx: rand() < 0.5,
    dtype: rand() < 0.7 ? 'float32' : 'float64',
    N: int(1, 8),
    T: int(1, 12),
    I: int(1, 10),
    H,
    seed: int(0, 1 << 30),
  };
}

function build(c: Config): RnnModule {
  const common = {
    inputSize: c.I,
    hiddenSize: c.H,
    numLayers: c.layers,
    bias: c.bias,
    batchFirst: c.batchFirst,
    bidirectional: c.bidirectional,
  };
  let m: RnnModule;
  if (c.mode === 'LSTM') m = new nn.LSTM({ ...common, projSize: c.projSize });
  else if (c.mode === 'GRU') m = new nn.GRU(common);
  else m = new nn.RNN({ ...common, nonlinearity: c.mode === 'RNN_TANH' ? 'tanh' : 'relu' });
  if (c.dtype !== 'float32') m.to(c.dtype);
  return m;
}

/** The module's inputs for a configuration: [input (tensor or packed), hx or undefined]. */
function inputs(c: Config, rand: () => number): [Tensor | torch.nn.utils.rnn.PackedSequence, unknown] {
  const opts = { dtype: c.dtype };
  const x = torch.randn(c.batchFirst ? [c.N, c.T, c.I] : [c.T, c.N, c.I], opts);
  let input: Tensor | torch.nn.utils.rnn.PackedSequence = x;
  if (c.packed !== 'no') {
    const lengths = Array.from({ length: c.N }, () => 1 + Math.floor(rand() * c.T));
    lengths[Math.floor(rand() * c.N)] = c.T; // the padded length is the longest
    if (c.packed === 'sorted') lengths.sort((a, b) => b - a);
    input = packPaddedSequence(x, lengths, { batchFirst: c.batchFirst, enforceSorted: c.packed === 'sorted' });
  }
  if (!c.givenHx) return [input, undefined];
  const LD = c.layers * (c.bidirectional ? 2 : 1);
  const h0 = torch.randn([LD, c.N, c.projSize > 0 ? c.projSize : c.H], opts);
  return [input, c.mode === 'LSTM' ? [h0, torch.randn([LD, c.N, c.H], opts)] : h0];
}

/** output (the packed data when packed), hN[, cN] */
function flat(r: unknown): Tensor[] {
  const [out, hidden] = r as [Tensor | torch.nn.utils.rnn.PackedSequence, Tensor | [Tensor, Tensor]];
  const o = out instanceof PackedSequence ? out.data : out;
  return [o, ...(Array.isArray(hidden) ? hidden : [hidden])];
}

/** max |a - b| / max(1, |b|) over every element, after checking the shapes agree. */
function maxRelDiff(a: Tensor, b: Tensor, what: string): number {
  expect(a.shape, `${what}: shape`).to.deep.equal(b.shape);
  expect(a.dtype, `${what}: dtype`).to.equal(b.dtype);
  const x = a.contiguous().data();
  const y = b.contiguous().data();
  let m = 0;
  for (let i = 0; i < y.length; i++) {
    const d = Math.abs(Number(x[i]) - Number(y[i])) / Math.max(1, Math.abs(Number(y[i])));
    if (!(d <= m)) m = d; // NaN wins
  }
  return m;
}

const rnnHits = () => torch.backends.fastPathStats().rnn;
const forward = (m: RnnModule, input: unknown, hx: unknown): unknown =>
  (m as unknown as { forward(...a: unknown[]): unknown }).forward(input, hx);

describe('fused recurrent kernel (torch.backends.fastPath)', () => {
  let wasOn = true;
  before(() => {
    wasOn = torch.backends.fastPath();
    torch.backends.fastPath(true);
  });
  after(() => torch.backends.fastPath(wasOn));

  it('2000 random configurations give the reference results within 1e-6 (relative above 1)', function () {
    this.timeout(60000);
    const rand = prng(20261202);
    let worst = 0;
    for (let k = 0; k < 2000; k++) {
      const c = draw(rand);
      torch.tidy(() => {
        torch.manualSeed(c.seed);
        const m = build(c);
        const [input, hx] = inputs(c, rand);
        const h0 = rnnHits();
        const fast = flat(torch.noGrad(() => forward(m, input, hx)));
        const h1 = rnnHits();
        const ref = flat(withFastPath(false, () => torch.noGrad(() => forward(m, input, hx))));
        const what = `config ${k} ${JSON.stringify(c)}`;
        expect(h1 - h0, `${what}: fast path ran`).to.equal(1);
        expect(rnnHits() - h1, `${what}: reference ran without it`).to.equal(0);
        expect(fast.length).to.equal(ref.length);
        for (let i = 0; i < ref.length; i++) {
          const d = maxRelDiff(fast[i], ref[i], `${what} result ${i}`);
          expect(d, `${what} result ${i}`).to.be.at.most(1e-6);
          worst = Math.max(worst, d);
        }
      });
    }
    expect(worst).to.be.at.most(1e-6);
  });

  it('batches above 16 rows (BLAS GEMMs) and non-contiguous inputs and states give the reference results', () => {
    const rand = prng(77);
    for (let k = 0; k < 24; k++) {
      const c: Config = { ...draw(rand), N: 17 + Math.floor(rand() * 24), packed: 'no', givenHx: true };
      torch.tidy(() => {
        torch.manualSeed(c.seed);
        const m = build(c);
        const LD = c.layers * (c.bidirectional ? 2 : 1);
        const opts = { dtype: c.dtype };
        // every tensor a transposed view
        const x = c.batchFirst
          ? torch.randn([c.T, c.N, c.I], opts).transpose(0, 1)
          : torch.randn([c.N, c.T, c.I], opts).transpose(0, 1);
        const h0 = torch.randn([c.N, LD, c.projSize > 0 ? c.projSize : c.H], opts).transpose(0, 1);
        const hx = c.mode === 'LSTM' ? [h0, torch.randn([c.N, LD, c.H], opts).transpose(0, 1)] : h0;
        const hits = rnnHits();
        const fast = flat(torch.noGrad(() => forward(m, x, hx)));
        expect(rnnHits() - hits).to.equal(1);
        const ref = flat(withFastPath(false, () => torch.noGrad(() => forward(m, x, hx))));
        const what = `config ${k} ${JSON.stringify(c)}`;
        for (let i = 0; i < ref.length; i++) {
          expect(maxRelDiff(fast[i], ref[i], `${what} result ${i}`), `${what} result ${i}`).to.be.at.most(1e-6);
        }
      });
    }
  });

  it('weights changed in place between calls are read afresh (the transposes are cached by content)', () => {
    torch.manualSeed(8);
    const m = new nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, projSize: 2 });
    const x = torch.randn([5, 2, 3]);
    const first = flat(torch.noGrad(() => m.forward(x)));
    torch.noGrad(() => {
      for (const p of [...m.parameters()]) p.mul_(1.5);
    });
    const fast = flat(torch.noGrad(() => m.forward(x)));
    const ref = flat(withFastPath(false, () => torch.noGrad(() => m.forward(x))));
    expect(maxRelDiff(fast[0], first[0], 'changed')).to.be.above(1e-3);
    for (let i = 0; i < ref.length; i++) expect(maxRelDiff(fast[i], ref[i], `result ${i}`)).to.be.at.most(1e-6);
  });

  it('parameters that require grad under grad mode: the reference runs, and its gradients', () => {
    torch.manualSeed(3);
    const m = new nn.LSTM({ inputSize: 4, hiddenSize: 5, numLayers: 2, bidirectional: true });
    const x = torch.randn([6, 3, 4]);
    const grads = (on: boolean) =>
      withFastPath(on, () => {
        m.zeroGrad();
        const h0 = rnnHits();
        const [out, [hN, cN]] = m.forward(x);
        expect(rnnHits() - h0, `fast path ${on}: no fused call`).to.equal(0);
        out.sum().add(hN.sum()).add(cN.mul(2).sum()).backward();
        return [...m.parameters()].map((p) => (p.grad as Tensor).clone());
      });
    const fastOn = grads(true);
    const fastOff = grads(false);
    expect(fastOn.length).to.equal(fastOff.length);
    for (let i = 0; i < fastOn.length; i++) expect(maxRelDiff(fastOn[i], fastOff[i], `grad ${i}`)).to.equal(0);
  });

  it('an input that requires grad under grad mode runs the reference; under noGrad the fused kernel', () => {
    const m = new nn.GRU(3, 4);
    for (const p of [...m.parameters()]) p.requiresGrad_(false);
    const x = torch.randn([5, 2, 3], { requiresGrad: true });
    let h0 = rnnHits();
    const [out] = m.forward(x);
    expect(rnnHits() - h0).to.equal(0);
    expect(out.requiresGrad).to.equal(true);
    h0 = rnnHits();
    const [o2] = torch.noGrad(() => m.forward(x));
    expect(rnnHits() - h0).to.equal(1);
    expect(o2.requiresGrad).to.equal(false);
    expect(maxRelDiff(o2, out.detach(), 'output')).to.be.at.most(1e-6);
    // nothing requires grad: grad mode does not matter
    h0 = rnnHits();
    m.forward(x.detach());
    expect(rnnHits() - h0).to.equal(1);
  });

  it('dropout between layers in training runs the reference; one layer (no dropout applied) is fused', () => {
    const m = new nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 2, dropout: 0.5 });
    const x = torch.randn([4, 2, 3]);
    let h0 = rnnHits();
    torch.noGrad(() => m.forward(x));
    expect(rnnHits() - h0, 'train, 2 layers').to.equal(0);
    m.eval();
    h0 = rnnHits();
    torch.noGrad(() => m.forward(x));
    expect(rnnHits() - h0, 'eval').to.equal(1);
    const one = new nn.LSTM({ inputSize: 3, hiddenSize: 4, numLayers: 1 });
    h0 = rnnHits();
    torch.noGrad(() => one.forward(x));
    expect(rnnHits() - h0, 'train, 1 layer').to.equal(1);
  });

  it('mixed dtypes are not fused: the reference reports the error, the same with the fast path off', () => {
    const m = new nn.RNN(3, 4);
    const x = torch.randn([4, 2, 3], { dtype: 'float64' });
    const message = (on: boolean) =>
      withFastPath(on, () => {
        try {
          torch.noGrad(() => m.forward(x));
        } catch (e) {
          return (e as Error).message;
        }
        return 'no error';
      });
    const h0 = rnnHits();
    const on = message(true);
    expect(rnnHits() - h0).to.equal(0);
    expect(on).to.not.equal('no error');
    expect(on).to.equal(message(false));
  });

  it('forwardAsync takes the fused kernel on a pool thread and matches forward', async () => {
    torch.manualSeed(5);
    for (const m of [
      new nn.LSTM({ inputSize: 10, hiddenSize: 20, numLayers: 2, projSize: 7, bidirectional: true }),
      new nn.GRU({ inputSize: 10, hiddenSize: 20, batchFirst: true }),
    ] as RnnModule[]) {
      m.eval();
      const x = torch.randn([6, 3, 10]);
      const sync = flat(torch.noGrad(() => forward(m, x, undefined)));
      const h0 = rnnHits();
      const p = torch.noGrad(() => (m as unknown as { forwardAsync(x: Tensor): Promise<unknown> }).forwardAsync(x));
      const got = flat(await p);
      expect(rnnHits() - h0).to.equal(1);
      for (let i = 0; i < sync.length; i++) expect(maxRelDiff(got[i], sync[i], `result ${i}`)).to.equal(0);
    }
  });

  it('is not taken while tracing: the trace records the reference ops, not constants', () => {
    torch.manualSeed(7);
    const m = new nn.LSTM(3, 4);
    m.eval();
    const x = torch.randn([5, 2, 3]);
    const y = torch.randn([5, 2, 3]);
    const h0 = rnnHits();
    const traced = torch.noGrad(() => torch.jit.trace(m, [x]));
    expect(rnnHits() - h0, 'no fused call while tracing').to.equal(0);
    const got = flat(torch.noGrad(() => traced.forward(y)));
    const want = flat(torch.noGrad(() => m.forward(y)));
    for (let i = 0; i < want.length; i++) expect(maxRelDiff(got[i], want[i], `result ${i}`)).to.be.at.most(1e-6);
  });

  it('a large batch with 2 threads gives the 1-thread results', () => {
    const threads = torch.getNumThreads();
    try {
      torch.manualSeed(6);
      const m = new nn.LSTM({ inputSize: 10, hiddenSize: 20, numLayers: 2 });
      const x = torch.randn([10, 256, 10]);
      torch.setNumThreads(1);
      const one = flat(torch.noGrad(() => m.forward(x)));
      torch.setNumThreads(2);
      const h0 = rnnHits();
      const two = flat(torch.noGrad(() => m.forward(x)));
      expect(rnnHits() - h0).to.equal(1);
      for (let i = 0; i < one.length; i++) expect(maxRelDiff(two[i], one[i], `result ${i}`)).to.be.at.most(1e-6);
    } finally {
      torch.setNumThreads(threads);
    }
  });
});
