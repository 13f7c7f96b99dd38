// Loss functions against PyTorch 1.13 (test/fixtures/loss.json, written by
// test/fixtures/gen/gen_optim_fixtures.py): every loss module and its functional form, with reduction
// 'none' / 'mean' / 'sum' (and KLDivLoss's 'batchmean'), the value and the gradient w.r.t. the
// input (through a fixed upstream gradient for 'none'); target shape / dtype errors, bad
// reductions and options, each naming the function; memory.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError, fromEncoded } from '../helpers';

const { nn } = torch;
const F = nn.functional;
type Tensor = torch.Tensor;
type Opts = Record<string, unknown>;

interface ReductionResult {
  out: Encoded;
  gradOut?: Encoded;
  grad: Encoded;
}
interface LossCase {
  name: string;
  cls: string;
  fn: string;
  options: Record<string, unknown>;
  input: Encoded;
  target: Encoded;
  results: Record<string, ReductionResult>;
}

const fx = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'loss.json'), 'utf8')) as {
  torch: string;
  cases: LossCase[];
};
const TOL = { rtol: 1e-5, atol: 1e-5 };

type LossModule = torch.nn.Module & { forward(input: Tensor, target: Tensor): Tensor };
type ModuleCtor = new (opts: Opts) => LossModule;
type LossFn = (input: Tensor, target: Tensor, opts: Opts) => Tensor;

function isEncoded(v: unknown): v is Encoded {
  return v !== null && typeof v === 'object' && 'values' in (v as object);
}

/** The case's options with tensors built (weight, posWeight). */
function optionsOf(c: LossCase): Opts {
  return Object.fromEntries(Object.entries(c.options).map(([k, v]) => [k, isEncoded(v) ? fromEncoded(v) : v]));
}

/** Runs the loss on a fresh input that requires grad, backpropagates, returns [out, input.grad]. */
function run(c: LossCase, r: ReductionResult, loss: (x: Tensor, t: Tensor) => Tensor): [Tensor, Tensor] {
  const x = fromEncoded(c.input, { requiresGrad: true });
  const t = fromEncoded(c.target);
  const out = loss(x, t);
  if (r.gradOut) {
    const g = fromEncoded(r.gradOut);
    out.backward(g);
    g.dispose();
  } else {
    out.backward();
  }
  const grad = x.grad!;
  t.dispose();
  return [out, grad];
}

describe('nn losses against PyTorch 1.13', () => {
  it('the fixture has all 36 cases, 111 (case, reduction) results', () => {
    expect(fx.cases, 'cases').to.have.length(36);
    expect(
      fx.cases.reduce((n, c) => n + Object.keys(c.results).length, 0),
      'results',
    ).to.equal(111);
  });

  for (const c of fx.cases) {
    describe(c.name, () => {
      for (const [reduction, r] of Object.entries(c.results)) {
        it(`nn.${c.cls} reduction '${reduction}': value and gradient`, () => {
          const m = new (nn as unknown as Record<string, ModuleCtor>)[c.cls]({ ...optionsOf(c), reduction });
          const [out, grad] = run(c, r, (x, t) => m.forward(x, t));
          expectClose(out, r.out, TOL, 'loss');
          expectClose(grad, r.grad, TOL, 'grad w.r.t. input');
        });
        it(`F.${c.fn} reduction '${reduction}': value and gradient`, () => {
          const fn = (F as unknown as Record<string, LossFn>)[c.fn];
          const opts = optionsOf(c);
          const [out, grad] = run(c, r, (x, t) => fn(x, t, { ...opts, reduction }));
          expectClose(out, r.out, TOL, 'loss');
          expectClose(grad, r.grad, TOL, 'grad w.r.t. input');
        });
      }
    });
  }

  it('the default reduction is mean', () => {
    const c = fx.cases.find((k) => k.name === 'CrossEntropyLoss weight')!;
    const m = new nn.CrossEntropyLoss({ weight: fromEncoded(c.options.weight as Encoded) });
    const x = fromEncoded(c.input),
      t = fromEncoded(c.target);
    expectClose(m.forward(x, t), c.results.mean.out, TOL, 'CrossEntropyLoss()');
    expectClose(
      F.crossEntropy(x, t, { weight: fromEncoded(c.options.weight as Encoded) }),
      c.results.mean.out,
      TOL,
      'F.crossEntropy',
    );
    expectClose(
      new nn.KLDivLoss().forward(x.logSoftmax(1), x.softmax(1)),
      0,
      TOL,
      'KLDivLoss() of a distribution with itself',
    );
  });

  it('loss modules register weight / pos_weight as buffers (PyTorch state_dict keys)', () => {
    const w = torch.tensor([1, 2, 3]);
    expect(Object.keys(new nn.CrossEntropyLoss({ weight: w }).stateDict())).to.deep.equal(['weight']);
    expect(Object.keys(new nn.NLLLoss().stateDict())).to.deep.equal([]);
    expect(Object.keys(new nn.BCEWithLogitsLoss({ weight: w, posWeight: w }).stateDict())).to.deep.equal([
      'weight',
      'pos_weight',
    ]);
    expect(Object.keys(new nn.MSELoss().stateDict())).to.deep.equal([]);
  });

  describe('errors', () => {
    const x = () => torch.randn([4, 3]);

    it('targets of the wrong shape name the function and both shapes', () => {
      expectError(() => F.mseLoss(x(), torch.randn([4, 2])), RangeError, 'F.mseLoss', '[4, 3]', '[4, 2]');
      expectError(() => new nn.L1Loss().forward(x(), torch.randn([3, 4])), RangeError, 'F.l1Loss', 'same shape');
      expectError(() => F.smoothL1Loss(x(), torch.randn([4])), RangeError, 'F.smoothL1Loss');
      expectError(() => F.huberLoss(x(), torch.randn([4, 3, 1])), RangeError, 'F.huberLoss');
      expectError(
        () => F.crossEntropy(x(), torch.tensor([0n, 1n, 2n])),
        RangeError,
        'F.crossEntropy',
        'target of shape [4]',
        'got [3]',
      );
      expectError(() => F.crossEntropy(x(), torch.randn([4, 2])), RangeError, 'F.crossEntropy', 'same shape');
      expectError(
        () =>
          F.crossEntropy(
            torch.randn([2, 3, 2, 2]),
            torch.tensor([
              [0n, 1n],
              [1n, 2n],
            ]),
          ),
        RangeError,
        'F.crossEntropy',
        'target of shape [2, 2, 2]',
      );
      expectError(
        () => new nn.NLLLoss().forward(x(), torch.tensor([[0n], [1n], [2n], [0n]])),
        RangeError,
        'F.nllLoss',
        'target of shape [4]',
      );
      expectError(() => F.binaryCrossEntropy(x().sigmoid(), torch.rand([3])), RangeError, 'F.binaryCrossEntropy');
      expectError(
        () => F.binaryCrossEntropyWithLogits(x(), torch.rand([4, 1])),
        RangeError,
        'F.binaryCrossEntropyWithLogits',
      );
      expectError(
        () => F.crossEntropy(torch.tensor(1), torch.tensor(0n)),
        RangeError,
        'F.crossEntropy',
        'input of shape',
      );
    });

    it('targets of the wrong dtype name the function and the dtype', () => {
      expectError(
        () => F.crossEntropy(x(), torch.tensor([0, 1, 2, 0], { dtype: 'int32' })),
        TypeError,
        'F.crossEntropy',
        'int64',
        'int32',
      );
      expectError(
        () => new nn.CrossEntropyLoss().forward(x(), torch.tensor([true, false, true, true])),
        TypeError,
        'F.crossEntropy',
        'bool',
      );
      expectError(() => F.nllLoss(x(), torch.rand([4, 3])), TypeError, 'F.nllLoss', 'class indices (int64)', 'float32');
      expectError(
        () => F.nllLoss(x(), torch.tensor([0, 1, 2, 0], { dtype: 'int32' })),
        TypeError,
        'F.nllLoss',
        'int64',
      );
    });

    it('bad reductions name the loss (constructor) or the function', () => {
      for (const cls of [
        'MSELoss',
        'L1Loss',
        'SmoothL1Loss',
        'HuberLoss',
        'CrossEntropyLoss',
        'NLLLoss',
        'BCELoss',
        'BCEWithLogitsLoss',
      ]) {
        expectError(
          () => new (nn as unknown as Record<string, ModuleCtor>)[cls]({ reduction: 'avg' }),
          TypeError,
          cls,
          'reduction',
          "'none', 'mean' or 'sum'",
        );
      }
      expectError(() => new nn.MSELoss({ reduction: 'batchmean' as 'mean' }), TypeError, 'MSELoss', 'reduction');
      expectError(
        () => F.mseLoss(x(), x(), { reduction: 'elementwise_mean' as 'mean' }),
        TypeError,
        'F.mseLoss',
        'reduction',
      );
      expectError(
        () => F.crossEntropy(x(), torch.tensor([0n, 1n, 2n, 0n]), { reduction: 'Mean' as 'mean' }),
        TypeError,
        'F.crossEntropy',
        'reduction',
      );
      expectError(
        () => F.klDiv(x(), x(), { reduction: 'avg' as 'mean' }),
        TypeError,
        'F.klDiv',
        'reduction',
        'batchmean',
      );
      // KLDivLoss, as PyTorch's, checks the reduction when it runs
      const kl = new nn.KLDivLoss({ reduction: 'avg' as 'mean' });
      expectError(() => kl.forward(x(), x()), TypeError, 'F.klDiv', 'reduction');
    });

    it('bad options name the function and option', () => {
      const t = torch.tensor([0n, 1n, 2n, 0n]);
      expectError(
        () => F.crossEntropy(x(), t, { weight: torch.ones([4]) }),
        RangeError,
        'F.crossEntropy',
        'weight',
        '[3]',
      );
      expectError(
        () => new nn.NLLLoss({ weight: torch.ones([3, 1]) }).forward(x(), t),
        RangeError,
        'F.nllLoss',
        'weight',
      );
      expectError(
        () => F.crossEntropy(x(), t, { weight: [1, 2, 3] as unknown as Tensor }),
        TypeError,
        'F.crossEntropy',
        'weight',
      );
      expectError(
        () => F.crossEntropy(x(), t, { labelSmoothing: 1.5 }),
        RangeError,
        'F.crossEntropy',
        'labelSmoothing',
      );
      expectError(
        () => F.crossEntropy(x(), t, { labelSmoothing: '0.1' as unknown as number }),
        TypeError,
        'F.crossEntropy',
        'labelSmoothing',
      );
      expectError(() => F.crossEntropy(x(), t, { ignoreIndex: 0.5 }), RangeError, 'F.crossEntropy', 'ignoreIndex');
      expectError(() => F.smoothL1Loss(x(), x(), { beta: -1 }), RangeError, 'F.smoothL1Loss', 'beta');
      expectError(() => new nn.SmoothL1Loss({ beta: 'x' as unknown as number }), TypeError, 'SmoothL1Loss', 'beta');
      expectError(() => F.huberLoss(x(), x(), { delta: 0 }), RangeError, 'F.huberLoss', 'delta');
      expectError(() => new nn.HuberLoss({ delta: null as unknown as number }), TypeError, 'HuberLoss', 'delta');
      expectError(() => F.klDiv(x(), x(), { logTarget: 1 as unknown as boolean }), TypeError, 'F.klDiv', 'logTarget');
      expectError(
        () => F.binaryCrossEntropyWithLogits(x(), x(), { posWeight: 2 as unknown as Tensor }),
        TypeError,
        'F.binaryCrossEntropyWithLogits',
        'posWeight',
      );
      expectError(() => F.mseLoss([1, 2] as unknown as Tensor, x()), TypeError, 'F.mseLoss', 'input');
      expectError(() => F.nllLoss(x(), 'target' as unknown as Tensor), TypeError, 'F.nllLoss', 'target');
      expectError(() => F.crossEntropy(x(), t, 5 as unknown as Opts), TypeError, 'F.crossEntropy', 'options');
    });

    it("libtorch's own checks surface as errors without a C++ backtrace", () => {
      // libtorch's IndexError arrives as a RangeError
      expectError(() => F.nllLoss(x(), torch.tensor([0n, 1n, 5n, 0n])), RangeError, 'Target 5 is out of bounds');
      expectError(() => F.crossEntropy(x(), torch.tensor([0n, -3n, 1n, 0n])), RangeError, 'out of bounds');
      expectError(
        () => F.binaryCrossEntropy(torch.tensor([0.5, 1.5]), torch.tensor([0, 1])),
        torch.TorchError,
        'between 0 and 1',
      );
      expectError(
        () => F.binaryCrossEntropy(torch.tensor([0.5, 0.2]), torch.tensor([0n, 1n])),
        torch.TorchError,
        'dtype Long',
        'Float',
      );
      // as in PyTorch, an integer target of a regression loss is promoted
      expect(F.mseLoss(torch.ones([2]), torch.tensor([1n, 3n])).item()).to.equal(2);
    });

    it('the library still works afterwards', () => {
      const c = fx.cases.find((k) => k.name === 'CrossEntropyLoss labelSmoothing weight ignoreIndex')!;
      const [out, grad] = run(c, c.results.mean, (xx, t) =>
        new nn.CrossEntropyLoss({ ...optionsOf(c), reduction: 'mean' }).forward(xx, t),
      );
      expectClose(out, c.results.mean.out, TOL, 'loss');
      expectClose(grad, c.results.mean.grad, TOL, 'grad');
    });
  });

  it('losses and their backward inside tidy leave no tensors behind', () => {
    const xs = torch.keep(torch.randn([4, 3]));
    const w = torch.keep(torch.rand([3]));
    const idx = torch.keep(torch.tensor([0n, 2n, 1n, 2n]));
    const probs = torch.keep(torch.rand([4, 3]));
    const losses: (() => Tensor)[] = [
      () => F.mseLoss(xs, probs),
      () => F.crossEntropy(xs, idx, { weight: w, labelSmoothing: 0.1 }),
      () => F.crossEntropy(xs, probs.softmax(1)),
      () => F.nllLoss(xs.logSoftmax(1), idx),
      () => F.binaryCrossEntropy(xs.sigmoid(), probs, { weight: w }),
      () => F.binaryCrossEntropyWithLogits(xs, probs, { posWeight: w }),
      () => F.klDiv(xs.logSoftmax(1), probs.softmax(1), { reduction: 'batchmean' }),
      () => F.huberLoss(xs, probs, { delta: 0.5 }),
    ];
    const p = new nn.Parameter(torch.randn([4, 3]));
    const once = () =>
      torch.tidy(() => {
        for (const l of losses) {
          const y = l();
          y.add(p.mul(y.detach()).sum()).backward();
        }
      });
    once();
    const before = torch.memory().tensors;
    for (let i = 0; i < 20; i++) once();
    expect(torch.memory().tensors).to.equal(before);
  });
});
