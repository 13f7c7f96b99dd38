// nn.init and the layers' initial weights against PyTorch 1.13: after torch.manualSeed(s) the
// values equal PyTorch's after torch.manual_seed(s) for the same calls, in the same order.
// Golden values: test/fixtures/nn_init.json (test/fixtures/gen/gen_nn_fixtures.py).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError } from '../helpers';

const { nn } = torch;
const init = nn.init;
type Tensor = torch.Tensor;

interface ModuleStep {
  cls: 'Linear' | 'Bilinear' | 'Embedding' | 'LayerNorm';
  args: number[];
  opts: Record<string, unknown>;
  state: Record<string, Encoded>;
}
interface InitCase {
  fn: string;
  shape: number[];
  dtype: torch.DType;
  args: number[];
  kwargs: Record<string, number | string>;
  seed: number;
  out: Encoded;
}
interface InitFixture {
  modules: { seed: number; sequence: ModuleStep[] }[];
  init: InitCase[];
  gain: { nonlinearity: string; param: number | null; gain: number }[];
  errors: { fn: string; shape: number[]; error: string | null; message?: string }[];
}

const fx = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'nn_init.json'), 'utf8'),
) as InitFixture;
const TOL = { rtol: 1e-5, atol: 1e-5 };

function build(step: ModuleStep): torch.nn.Module {
  const a = step.args;
  switch (step.cls) {
    case 'Linear':
      return new nn.Linear(a[0], a[1], step.opts);
    case 'Bilinear':
      return new nn.Bilinear(a[0], a[1], a[2], step.opts);
    case 'Embedding':
      return new nn.Embedding(a[0], a[1], step.opts);
    case 'LayerNorm':
      return new nn.LayerNorm(a[0], step.opts);
    default:
      throw new Error(`unknown class ${String(step.cls)}`);
  }
}

type Kw = torch.nn.init.KaimingOptions;
type Nonlinearity = torch.nn.init.Nonlinearity;
const CALLS: Record<string, (t: Tensor, args: number[], kw: Record<string, number | string>) => Tensor> = {
  uniform_: (t, a) => init.uniform_(t, ...a),
  normal_: (t, a) => init.normal_(t, ...a),
  constant_: (t, a) => init.constant_(t, a[0]),
  zeros_: (t) => init.zeros_(t),
  ones_: (t) => init.ones_(t),
  xavierUniform_: (t, a) => init.xavierUniform_(t, ...a),
  xavierNormal_: (t, a) => init.xavierNormal_(t, ...a),
  kaimingUniform_: (t, _a, kw) => init.kaimingUniform_(t, kw as Kw),
  kaimingNormal_: (t, _a, kw) => init.kaimingNormal_(t, kw as Kw),
  orthogonal_: (t, a) => init.orthogonal_(t, ...a),
};

function describeCase(c: InitCase): string {
  const kw = Object.entries(c.kwargs)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join(', ');
  const args = c.args.length ? `, ${c.args.join(', ')}` : '';
  return `${c.fn}(${c.dtype} [${c.shape}]${args}${kw ? `, {${kw}}` : ''}) seed ${c.seed}`;
}

// =============================================================================================
describe("layers' initial weights equal PyTorch's after the same manual seed", () => {
  it('the fixture has 2 module sequences, 25 init cases, 14 gains and 20 error cases', () => {
    expect(fx.modules, 'modules').to.have.length(2);
    expect(fx.init, 'init').to.have.length(25);
    expect(fx.gain, 'gain').to.have.length(14);
    expect(fx.errors, 'errors').to.have.length(20);
  });

  for (const { seed, sequence } of fx.modules) {
    it(`seed ${seed}: ${sequence.map((s) => `${s.cls}(${s.args.join(', ')})`).join(', ')}`, () => {
      torch.manualSeed(seed);
      for (const [i, step] of sequence.entries()) {
        const m = build(step);
        const sd = m.stateDict();
        const what = `#${i} ${step.cls}(${step.args.join(', ')}, ${JSON.stringify(step.opts)})`;
        expect(Object.keys(sd), what).to.deep.equal(Object.keys(step.state));
        for (const [k, e] of Object.entries(step.state)) expectClose(sd[k], e, TOL, `${what}.${k}`);
        torch.dispose(sd);
      }
    });
  }

  it('the same seed gives the same weights again; another seed different ones', () => {
    torch.manualSeed(5);
    const a = new nn.Linear(4, 3).weight.clone();
    torch.manualSeed(5);
    const b = new nn.Linear(4, 3).weight.clone();
    torch.manualSeed(6);
    const c = new nn.Linear(4, 3).weight.clone();
    expect(a.equal(b)).to.equal(true);
    expect(a.equal(c)).to.equal(false);
  });

  it("Linear weights lie in PyTorch's kaiming-uniform(a=sqrt(5)) bound 1/sqrt(inFeatures), biases too", () => {
    const m = new nn.Linear(16, 8);
    const bound = 1 / Math.sqrt(16);
    expect(m.weight.abs().max().item()).to.be.at.most(bound);
    expect(m.bias!.abs().max().item()).to.be.at.most(bound);
  });
});

// =============================================================================================
describe("nn.init functions equal PyTorch's after the same manual seed", () => {
  for (const c of fx.init) {
    it(describeCase(c), () => {
      const t = torch.empty(c.shape, { dtype: c.dtype });
      torch.manualSeed(c.seed);
      const r = CALLS[c.fn](t, c.args, c.kwargs);
      expect(r, 'returns the tensor itself').to.equal(t);
      expectClose(t, c.out, TOL, c.fn);
      if (c.fn === 'orthogonal_') {
        // rows (or columns, whichever are fewer) are orthogonal with norm `gain`
        const gain = c.args[0] ?? 1;
        const rows = c.shape[0];
        const cols = t.numel() / rows;
        const q = t.reshape(rows, cols);
        const g = rows < cols ? q.matmul(q.t()) : q.t().matmul(q);
        const n = Math.min(rows, cols);
        expectClose(g.div(gain * gain), torch.eye(n, { dtype: c.dtype }).toArray(), { rtol: 0, atol: 1e-5 }, 'QᵀQ');
      }
    });
  }

  it('initialisers work on parameters that require grad, and leave them leaves', () => {
    const p = new nn.Parameter(torch.empty(3, 4));
    for (const fn of Object.keys(CALLS)) {
      const r = CALLS[fn](p, fn === 'constant_' ? [0.5] : [], {});
      expect(r, fn).to.equal(p);
      expect(p.isLeaf, fn).to.equal(true);
      expect(p.requiresGrad, fn).to.equal(true);
      expect(p.gradFn, fn).to.equal(null);
    }
  });

  it("calculateGain equals PyTorch's calculate_gain for every nonlinearity", () => {
    for (const { nonlinearity, param, gain } of fx.gain) {
      const actual =
        param === null
          ? init.calculateGain(nonlinearity as Nonlinearity)
          : init.calculateGain(nonlinearity as Nonlinearity, param);
      expect(actual, `${nonlinearity}(${param})`).to.be.closeTo(gain, 1e-12);
    }
    expectError(() => init.calculateGain('swish' as Nonlinearity), TypeError, 'calculateGain', 'swish');
    expectError(() => init.calculateGain('leaky_relu', 'x' as unknown as number), TypeError, 'calculateGain', 'param');
  });

  it("calculateFanInAndFanOut as PyTorch's _calculate_fan_in_and_fan_out", () => {
    expect(init.calculateFanInAndFanOut(torch.empty(3, 5))).to.deep.equal([5, 3]);
    expect(init.calculateFanInAndFanOut(torch.empty(4, 3, 2, 5))).to.deep.equal([30, 40]);
    expectError(() => init.calculateFanInAndFanOut(torch.empty(3)), RangeError, 'fewer than 2 dimensions');
  });

  it('errors for tensors with fewer than 2 dims exactly where PyTorch errors', () => {
    expect(fx.errors.length).to.equal(20);
    for (const e of fx.errors) {
      const t = e.shape.length === 0 ? torch.tensor(0.5) : torch.empty(e.shape);
      const call = () => CALLS[e.fn](t, e.fn === 'constant_' ? [1] : [], {});
      const what = `${e.fn} on a ${e.shape.length}-D tensor`;
      if (e.error === null) {
        expect(call, what).to.not.throw();
      } else {
        const pattern = e.fn === 'orthogonal_' ? /2 or more dimensions/ : /fewer than 2 dimensions/;
        expect(call, what).to.throw(RangeError, pattern);
        expect(e.message, 'PyTorch says the same').to.match(new RegExp(pattern.source, 'i'));
      }
    }
  });

  it('non-tensor arguments are TypeErrors naming the initialiser', () => {
    for (const fn of Object.keys(CALLS)) {
      expect(() => CALLS[fn]([1, 2] as unknown as Tensor, [], {}), fn).to.throw(TypeError, fn);
    }
    expectError(() => init.constant_(torch.empty(2), 'x' as unknown as number), TypeError, 'constant_', 'val');
    expectError(() => init.kaimingUniform_(torch.empty(2, 2), { mode: 'fan_avg' as 'fan_in' }), TypeError, 'mode');
  });

  it('orthogonal_ on an empty tensor is a no-op (as PyTorch)', () => {
    const t = torch.empty(0, 3);
    expect(init.orthogonal_(t)).to.equal(t);
  });

  // FIXED (was a bug): lib/nn/init.ts kaimingUniform_ on a zero-element tensor whose fan is 0 (e.g. shape
  // [3, 0]) computes bound = gain / sqrt(0) = Infinity and throws TorchError "from is out of
  // bounds for float" (uniform_(-Infinity, Infinity)); kaimingNormal_ only gets away with
  // normal_(0, Infinity) because there are no elements. PyTorch 1.13 returns the tensor
  // unchanged ("Initializing zero-element tensors is a no-op"). This is what breaks
  // new nn.Linear(0, n) (see layers.test.ts).
  it('kaiming initialisers on a zero-element tensor are a no-op (as PyTorch)', () => {
    const t = torch.empty(3, 0);
    expect(init.kaimingUniform_(t)).to.equal(t);
    expect(init.kaimingNormal_(t)).to.equal(t);
  });
});
