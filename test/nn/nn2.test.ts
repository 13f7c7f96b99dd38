// Conv1d/Conv2d/ConvTranspose1d, BatchNorm1d/2d, GroupNorm, InstanceNorm1d, the pools, Upsample,
// EmbeddingBag, CTCLoss, PReLU and Softplus against PyTorch 1.13 (test/fixtures/nn2.json, written
// by test/fixtures/gen/gen_nn2_fixtures.py): each case loads PyTorch's state_dict, runs the steps
// (train / eval), and compares the outputs, the gradients of the first step (input and every
// parameter, for the projection (out * R).sum()), the state_dict after the steps (running
// statistics), its keys and the module's repr.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError, fromEncoded } from '../helpers';

const { nn } = torch;
const F = nn.functional;
type Tensor = torch.Tensor;

interface Step {
  mode: 'train' | 'eval';
  input: Encoded;
  out: Encoded;
  indices?: Encoded;
  grads?: Record<string, Encoded>;
}
interface Case {
  state: Record<string, Encoded>;
  steps: Step[];
  after: Record<string, Encoded>;
  keys: string[];
  repr: string;
  extra: (Encoded | number[])[];
}
const fx = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'nn2.json'), 'utf8')) as {
  cases: Record<string, Case>;
  init: Record<string, Record<string, Encoded>>;
};
const TOL = { rtol: 1e-5, atol: 1e-5 };

/** The JS module of each fixture case (PyTorch's constructor arguments, camelCase options). */
const MODULES: Record<string, () => torch.nn.Module> = {
  conv1d: () => new nn.Conv1d(4, 6, 3, { stride: 2, padding: 1, groups: 2 }),
  conv1dSameReflect: () => new nn.Conv1d(3, 4, 4, { padding: 'same', paddingMode: 'reflect', dilation: 2 }),
  conv1dCircular: () => new nn.Conv1d(3, 2, 3, { padding: 2, paddingMode: 'circular' }),
  conv1dValidReplicateNoBias: () => new nn.Conv1d(2, 3, 3, { padding: 'valid', paddingMode: 'replicate', bias: false }),
  conv2d: () => new nn.Conv2d(3, 4, [3, 2], { stride: [2, 1], padding: [1, 0], dilation: [1, 2] }),
  conv2dSame: () => new nn.Conv2d(2, 3, 3, { padding: 'same', bias: false }),
  conv2dReplicate: () => new nn.Conv2d(2, 2, 3, { padding: [1, 2], paddingMode: 'replicate' }),
  convTranspose1d: () => new nn.ConvTranspose1d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }),
  convTranspose1dOutputSize: () => new nn.ConvTranspose1d(2, 3, 3, { stride: 3, dilation: 2 }),
  batchNorm1d: () => new nn.BatchNorm1d(3),
  batchNorm1dCumulative3d: () => new nn.BatchNorm1d(3, { momentum: null, eps: 1e-3 }),
  batchNorm2dNoAffine: () => new nn.BatchNorm2d(2, { affine: false, momentum: 0.3 }),
  batchNorm1dNoStats: () => new nn.BatchNorm1d(3, { trackRunningStats: false }),
  groupNorm: () => new nn.GroupNorm(2, 4),
  groupNormNoAffine: () => new nn.GroupNorm(3, 6, { affine: false, eps: 1e-3 }),
  instanceNorm1d: () => new nn.InstanceNorm1d(3, { affine: true }),
  instanceNorm1dStats: () => new nn.InstanceNorm1d(3, { trackRunningStats: true }),
  maxPool1d: () => new nn.MaxPool1d(3, { stride: 2, padding: 1, ceilMode: true }),
  maxPool1dIndices: () => new nn.MaxPool1d(2, { dilation: 2, returnIndices: true }),
  maxPool2dIndices: () => new nn.MaxPool2d([2, 3], { stride: [2, 1], padding: 1, returnIndices: true }),
  avgPool1d: () => new nn.AvgPool1d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
  avgPool2d: () => new nn.AvgPool2d(3, { stride: 2, padding: 1, divisorOverride: 2 }),
  adaptiveAvgPool1d: () => new nn.AdaptiveAvgPool1d(4),
  adaptiveAvgPool2d: () => new nn.AdaptiveAvgPool2d([3, null]),
  upsampleNearest: () => new nn.Upsample({ scaleFactor: 2 }),
  upsampleBilinear: () => new nn.Upsample({ size: [5, 7], mode: 'bilinear', alignCorners: true }),
  upsampleBicubic: () => new nn.Upsample({ scaleFactor: 1.5, mode: 'bicubic' }),
  upsampleLinearRecompute: () => new nn.Upsample({ scaleFactor: 2.5, mode: 'linear', recomputeScaleFactor: true }),
  embeddingBagSum: () => new nn.EmbeddingBag(10, 3, { mode: 'sum' }),
  embeddingBagMeanPadding: () => new nn.EmbeddingBag(10, 3, { paddingIdx: 2 }),
  embeddingBagMaxLastOffset: () => new nn.EmbeddingBag(10, 3, { mode: 'max', includeLastOffset: true }),
  ctcLoss: () => new nn.CTCLoss(),
  ctcLossZeroInfinity: () => new nn.CTCLoss({ blank: 3, reduction: 'sum', zeroInfinity: true }),
  prelu: () => new nn.PReLU({ numParameters: 3, init: 0.1 }),
  softplus: () => new nn.Softplus({ beta: 2, threshold: 1 }),
};

function decodeExtra(e: Encoded | number[]): Tensor | number[] {
  return Array.isArray(e) ? e : fromEncoded(e);
}

function projection(n: number): Tensor {
  return torch.tensor(
    Array.from({ length: n }, (_, i) => (((5 * i + 3) % 11) - 5) / 8),
    { dtype: 'float64' },
  );
}

function run(name: string): torch.nn.Module {
  const c = fx.cases[name];
  const m = MODULES[name]();
  const state: Record<string, Tensor> = {};
  for (const [k, e] of Object.entries(c.state)) state[k] = fromEncoded(e);
  expect(Object.keys(m.stateDict()), `${name}: stateDict keys`).to.deep.equal(c.keys);
  expect(m.loadStateDict(state), `${name}: loadStateDict`).to.deep.equal({ missingKeys: [], unexpectedKeys: [] });
  expect(m.toString(), `${name}: repr`).to.equal(c.repr);
  const extra = c.extra.map(decodeExtra);
  c.steps.forEach((s, k) => {
    if (s.mode === 'train') m.train();
    else m.eval();
    const x = fromEncoded(s.input, { requiresGrad: k === 0 && s.grads?.input !== undefined });
    const r = (m.forward as (...a: unknown[]) => Tensor | [Tensor, Tensor])(x, ...extra);
    const out = Array.isArray(r) ? r[0] : r;
    expectClose(out, s.out, TOL, `${name} step ${k}: output`);
    if (s.indices !== undefined) {
      expect(Array.isArray(r), `${name}: returns [output, indices]`).to.equal(true);
      expectClose((r as [Tensor, Tensor])[1], s.indices, { rtol: 0, atol: 0 }, `${name}: indices`);
    }
    if (s.grads !== undefined) {
      out.double().reshape([-1]).mul(projection(out.numel())).sum().backward();
      const params = new Map(m.namedParameters());
      for (const [g, e] of Object.entries(s.grads)) {
        const t = g === 'input' ? x.grad : params.get(g)?.grad;
        expect(t, `${name}: grad of ${g}`).to.not.equal(null);
        expectClose(t!, e, TOL, `${name}: grad of ${g}`);
      }
    }
  });
  const after = m.stateDict();
  for (const [k, e] of Object.entries(c.after)) expectClose(after[k], e, TOL, `${name}: ${k} after the steps`);
  return m;
}

describe('nn2.json: new modules against PyTorch', () => {
  it('every fixture case has a JS module', () => {
    expect(Object.keys(MODULES)).to.have.members(Object.keys(fx.cases));
  });
  for (const name of Object.keys(fx.cases)) {
    const c = fx.cases[name];
    const modes = c.steps.map((s) => s.mode).join(', ');
    it(`${name}: state_dict keys, repr, ${modes} outputs and gradients`, () => {
      run(name);
    });
  }
  for (const name of Object.keys(fx.init)) {
    it(`${name}: reset_parameters under manualSeed draws PyTorch's values`, () => {
      torch.manualSeed(7);
      const make: Record<string, () => torch.nn.Module> = {
        conv1d: () => new nn.Conv1d(4, 6, 3, { groups: 2 }),
        conv2d: () => new nn.Conv2d(2, 3, [2, 3]),
        convTranspose1d: () => new nn.ConvTranspose1d(4, 6, 3, { groups: 2 }),
        embeddingBag: () => new nn.EmbeddingBag(5, 2, { paddingIdx: 1 }),
      };
      const sd = make[name]().stateDict();
      expect(Object.keys(sd)).to.deep.equal(Object.keys(fx.init[name]));
      for (const [k, e] of Object.entries(fx.init[name])) expectClose(sd[k], e, TOL, `${name}.${k}`);
    });
  }
});

describe('new modules: train / eval and buffers', () => {
  it('BatchNorm1d counts batches in training only; eval leaves the running statistics alone', () => {
    const m = new nn.BatchNorm1d(2);
    const x = torch.tensor([
      [1, 2],
      [3, 5],
      [0, 1],
    ]);
    m.forward(x);
    m.forward(x);
    expect(Number(m.numBatchesTracked!.item())).to.equal(2);
    const mean = m.runningMean!.clone();
    m.eval();
    m.forward(x);
    expect(Number(m.numBatchesTracked!.item())).to.equal(2);
    expect(m.runningMean!.equal(mean)).to.equal(true);
    expect(m.numBatchesTracked!.dtype).to.equal('int64');
  });
  it('BatchNorm1d without trackRunningStats has no buffers and uses batch statistics in eval', () => {
    const m = new nn.BatchNorm1d(2, { trackRunningStats: false }).eval();
    expect(m.runningMean).to.equal(null);
    expect(Object.keys(m.stateDict())).to.deep.equal(['weight', 'bias']);
    const y = m.forward(
      torch.tensor([
        [1, 2],
        [3, 6],
      ]),
    );
    expectClose(
      y,
      [
        [-1, -1],
        [1, 1],
      ],
      { atol: 1e-4 },
    );
  });
  it('BatchNorm1d in training needs more than one value per channel', () => {
    expectError(() => new nn.BatchNorm1d(2).forward(torch.ones(1, 2)), RangeError, 'more than 1 value per channel');
    expect(new nn.BatchNorm1d(2).eval().forward(torch.ones(1, 2)).shape).to.deep.equal([1, 2]);
  });
  it('resetRunningStats / resetParameters', () => {
    const m = new nn.BatchNorm1d(2);
    m.forward(
      torch.tensor([
        [1, 2],
        [3, 5],
      ]),
    );
    m.resetRunningStats();
    expectClose(m.runningMean!, [0, 0]);
    expectClose(m.runningVar!, [1, 1]);
    expect(Number(m.numBatchesTracked!.item())).to.equal(0);
  });
});

describe('new modules: constructor and input errors', () => {
  it('unknown or misspelt options name the known ones', () => {
    expectError(() => new nn.Conv1d(2, 2, 3, { padding_mode: 'zeros' } as object), TypeError, 'Conv1d', 'paddingMode');
    expectError(() => new nn.BatchNorm1d(2, { track_running_stats: false } as object), TypeError, 'trackRunningStats');
    expectError(() => new nn.MaxPool1d(2, { ceil_mode: true } as object), TypeError, 'ceilMode');
    expectError(() => new nn.EmbeddingBag(3, 2, { modes: 'sum' } as object), TypeError, 'EmbeddingBag', 'mode');
    expectError(() => new nn.Softplus({ betta: 2 } as object), TypeError, 'Softplus');
    expectError(() => new nn.CTCLoss({ zero_infinity: true } as object), TypeError, 'zeroInfinity');
  });
  it('bad values', () => {
    expectError(() => new nn.Conv1d(3, 4, 3, { groups: 2 }), RangeError, 'inChannels must be divisible by groups');
    expectError(() => new nn.Conv1d(2, 3, 3, { groups: 2 }), RangeError, 'outChannels must be divisible by groups');
    expectError(
      () => new nn.Conv1d(2, 2, 3, { padding: 'same', stride: 2 }),
      RangeError,
      "padding='same' is not supported for strided convolutions",
    );
    expectError(() => new nn.Conv1d(2, 2, 3, { padding: 'full' as 'same' }), TypeError, 'Invalid padding string');
    expectError(() => new nn.Conv1d(2, 2, 3, { paddingMode: 'mirror' as 'zeros' }), TypeError, 'paddingMode');
    expectError(
      () => new nn.ConvTranspose1d(2, 2, 3, { paddingMode: 'reflect' as 'zeros' }),
      TypeError,
      'Only "zeros" padding mode',
    );
    expectError(() => new nn.Conv2d(2, 2, [3, 3, 3]), TypeError, 'kernelSize');
    expectError(() => new nn.GroupNorm(3, 4), RangeError, 'divisible by numGroups');
    expectError(() => new nn.EmbeddingBag(3, 2, { mode: 'min' as 'sum' }), TypeError, 'mode');
    expectError(() => new nn.EmbeddingBag(3, 2, { paddingIdx: 3 }), RangeError, 'paddingIdx');
    expectError(() => new nn.CTCLoss({ reduction: 'avg' as 'mean' }), TypeError, 'reduction');
  });
  it('wrong input rank or channels', () => {
    expectError(() => new nn.Conv1d(2, 2, 3).forward(torch.ones(2, 2, 4, 4)), RangeError, 'Conv1d.forward', '3D');
    expectError(() => new nn.Conv1d(2, 2, 3).forward(torch.ones(1, 3, 5)), RangeError, '2 channels');
    expectError(() => new nn.Conv2d(2, 2, 3).forward(torch.ones(2, 5)), RangeError, 'Conv2d.forward');
    expectError(() => new nn.BatchNorm1d(2).forward(torch.ones(2, 2, 2, 2)), RangeError, 'expected 2D or 3D input');
    expectError(() => new nn.BatchNorm2d(2).forward(torch.ones(2, 2, 2)), RangeError, 'expected 4D input');
    expectError(() => new nn.InstanceNorm1d(2).forward(torch.ones(2)), RangeError, 'expected 2D or 3D input');
    expectError(() => new nn.GroupNorm(1, 2).forward(torch.ones(2, 3)), RangeError, 'GroupNorm.forward');
    expectError(() => new nn.MaxPool2d(2).forward(torch.ones(2, 2)), RangeError, 'MaxPool2d.forward');
    expectError(() => new nn.AvgPool1d(2).forward(torch.ones(2)), RangeError, 'AvgPool1d.forward');
    expectError(
      () => new nn.ConvTranspose1d(2, 3, 3, { stride: 3 }).forward(torch.ones(1, 2, 3), [20]),
      RangeError,
      'valid sizes range',
    );
  });
});

describe('Python-level nn.functional: argument handling', () => {
  const x = torch.tensor([-2, -0.5, 0, 1.5]);
  it('positional arguments and the options object agree; unknown keys throw', () => {
    expectClose(F.elu(x, 0.5), F.elu(x, { alpha: 0.5 }).toArray() as number[]);
    expectClose(F.hardtanh(x, -1, 1), F.hardtanh(x, { minVal: -1, maxVal: 1 }).toArray() as number[]);
    expectError(() => F.elu(x, { alhpa: 1 } as object), TypeError, 'F.elu', "unknown option 'alhpa'");
    expectError(() => F.leakyRelu(x, { negative_slope: 0.1 } as object), TypeError, 'negativeSlope');
    expectError(() => F.elu(x, 0.5, false, { alpha: 1 }), TypeError, "multiple values for argument 'alpha'");
    expectError(() => F.relu6(x, false, true as never), TypeError, 'F.relu6', 'positional');
  });
  it('inplace writes into the input', () => {
    const y = torch.tensor([-1, 2]);
    const r = F.relu(y, { inplace: true });
    expectClose(y, [0, 2]);
    expectClose(r, [0, 2]);
  });
  it('maxPool returnIndices (positional or by name) returns [values, indices]', () => {
    const t = torch.tensor([[[1, 3, 2, 5]]]);
    const [v, i] = F.maxPool1d(t, 2, { returnIndices: true }) as [Tensor, Tensor];
    expectClose(v, [[[3, 5]]]);
    expect(i.toArray()).to.deep.equal([[[1, 3]]]);
    expect(F.maxPool1d(t, 2, null, 0, 1, false, false)).to.be.instanceOf(torch.Tensor);
  });
  it('interpolate checks its arguments as PyTorch does', () => {
    const t = torch.ones(1, 1, 4);
    expectError(() => F.interpolate(t, { size: 3, scaleFactor: 2 }), TypeError, 'only one of size or scaleFactor');
    expectError(() => F.interpolate(t), TypeError, 'either size or scaleFactor');
    expectError(() => F.interpolate(t, { size: 3, alignCorners: true }), TypeError, 'align_corners');
    expectError(() => F.interpolate(t, { size: 3, mode: 'bilinear' }), TypeError, 'needs 4D input');
    expect(F.interpolate(t, 8).shape).to.deep.equal([1, 1, 8]);
  });
  it('losses take the legacy sizeAverage / reduce pair', () => {
    const a = torch.tensor([0.5, -1, 2]),
      b = torch.tensor([1, -1, 1]);
    expectClose(
      F.softMarginLoss(a, b, { reduce: false }),
      F.softMarginLoss(a, b, { reduction: 'none' }).toArray() as number[],
    );
    expectClose(
      F.softMarginLoss(a, b, { sizeAverage: false }),
      F.softMarginLoss(a, b, { reduction: 'sum' }).toArray() as number,
    );
  });
  it('dropout: argument errors', () => {
    expectError(() => F.dropout2d(torch.ones(2, 2, 2), 1.5), RangeError, 'between 0 and 1');
    expectError(() => F.dropout1d(torch.ones(2, 2, 2, 2)), RangeError, 'Expected 2D or 3D input');
    expectClose(F.alphaDropout(x, 0.5), x.toArray() as number[]);
  });
});
