// Learning-rate schedulers against PyTorch 1.13 (test/fixtures/optim.json, written by
// test/fixtures/gen/gen_optim_fixtures.py): the lr of every group after construction and after every step,
// the cycled momentum / betas[0] of OneCycleLR, the state dict after the last step, training runs
// with a scheduler, state-dict resumes, option validation, warnings and memory.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError } from '../helpers';
import { backward, freshParams, makeOptimizer, type OptSpec, type Opts } from './problem';

const { optim } = torch;
const S = optim.lrScheduler;
type Optimizer = torch.optim.Optimizer;
type LRScheduler = torch.optim.lrScheduler.LRScheduler;

interface SchedCase {
  name: string;
  cls: string;
  optimizer: OptSpec;
  options: Opts;
  sub?: { cls: string; options: Opts }[];
  metrics?: number[];
  steps: number;
  lrs: number[][];
  momentum?: number[][];
  beta1?: number[][];
  stateDict: Record<string, unknown>;
  train?: { params: Encoded[] };
}
interface OptimFixture {
  torch: string;
  schedulers: SchedCase[];
}

const fx = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'optim.json'), 'utf8'),
) as OptimFixture;
/** Learning rates are Python floats computed with the same expressions: they agree to rounding. */
const LR_TOL = 1e-12;
const PARAM_TOL = { rtol: 1e-5, atol: 1e-5 };

const LAMBDAS: Record<string, (e: number) => number> = {
  pow95: (e) => 0.95 ** e,
  warmup: (e) => Math.min(1.0, (e + 1) / 5),
  inv: (e) => 1 / (e + 1),
};

function schedOptions(cls: string, o: Opts): Opts {
  if (cls !== 'LambdaLR') return o;
  const f = o.lrLambda as string | string[];
  return { ...o, lrLambda: Array.isArray(f) ? f.map((n) => LAMBDAS[n]) : LAMBDAS[f] };
}

type AnyScheduler = torch.optim.lrScheduler.LRScheduler | torch.optim.lrScheduler.ReduceLROnPlateau;
type SchedCtor = new (opt: Optimizer, opts: Opts) => AnyScheduler;

function makeScheduler(c: SchedCase, opt: Optimizer): AnyScheduler {
  if (c.cls === 'SequentialLR') {
    const subs = c.sub!.map(
      (s) => new (S as unknown as Record<string, SchedCtor>)[s.cls](opt, schedOptions(s.cls, s.options)),
    );
    return new S.SequentialLR(opt, {
      schedulers: subs as torch.optim.lrScheduler.LRScheduler[],
      milestones: c.options.milestones as number[],
    });
  }
  return new (S as unknown as Record<string, SchedCtor>)[c.cls](opt, schedOptions(c.cls, c.options));
}

function stepScheduler(c: SchedCase, s: AnyScheduler, i: number): void {
  if (s instanceof S.ReduceLROnPlateau) s.step(c.metrics![i]);
  else s.step();
}

function decode(v: unknown): unknown {
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  if (v === 'nan') return NaN;
  if (Array.isArray(v)) return v.map(decode);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  return v;
}

function closeNum(a: number, e: number, rtol: number): boolean {
  if (Number.isNaN(e)) return Number.isNaN(a);
  if (!Number.isFinite(e)) return a === e;
  return Math.abs(a - e) <= rtol * Math.max(1e-300, Math.abs(e)) + 1e-300;
}

/** Deep comparison of state values: numbers with relative tolerance, everything else exactly. */
function expectStateEqual(actual: unknown, expected: unknown, what: string, rtol = LR_TOL): void {
  if (typeof expected === 'number') {
    expect(typeof actual, `${what} type`).to.equal('number');
    if (!closeNum(actual as number, expected, rtol)) expect.fail(`${what}: expected ${expected}, got ${actual}`);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual), `${what} is an array`).to.equal(true);
    expect((actual as unknown[]).length, `${what} length`).to.equal(expected.length);
    expected.forEach((e, i) => expectStateEqual((actual as unknown[])[i], e, `${what}[${i}]`, rtol));
  } else if (expected !== null && typeof expected === 'object') {
    expect(actual, `${what} is an object`).to.be.an('object');
    expect(Object.keys(actual as object).sort(), `${what} keys`).to.include.members(Object.keys(expected));
    for (const [k, e] of Object.entries(expected))
      expectStateEqual((actual as Record<string, unknown>)[k], e, `${what}.${k}`, rtol);
  } else {
    expect(actual, what).to.equal(expected);
  }
}

function expectLrs(actual: number[], expected: number[], what: string): void {
  expect(actual.length, `${what} length`).to.equal(expected.length);
  expected.forEach((e, i) => {
    if (!closeNum(actual[i], e, LR_TOL)) expect.fail(`${what}[${i}]: expected ${e}, got ${actual[i]} (rtol ${LR_TOL})`);
  });
}

function momentaOf(opt: Optimizer, beta: boolean): number[] {
  return opt.paramGroups.map((g) => (beta ? (g.betas as number[])[0] : (g.momentum as number)));
}

/** Runs fn with process.emitWarning replaced by a recorder; returns the warning messages. */
function recordWarnings(fn: () => void): string[] {
  const calls: string[] = [];
  const orig = process.emitWarning;
  process.emitWarning = ((msg: unknown) => {
    calls.push(String(msg));
  }) as typeof process.emitWarning;
  try {
    fn();
  } finally {
    process.emitWarning = orig;
  }
  return calls;
}

/** An SGD optimizer over two fresh groups (lr 0.1 and 0.05). */
function sgd2(extra: Opts = {}): Optimizer {
  return makeOptimizer({ cls: 'SGD', defaults: { lr: 0.1, ...extra }, groups: [{}, { lr: 0.05 }] }, freshParams());
}

describe('optim.lrScheduler', () => {
  describe('against PyTorch 1.13', () => {
    it('the fixture has all 24 scheduler cases', () => {
      expect(fx.schedulers).to.have.length(24);
    });

    for (const c of fx.schedulers) {
      describe(c.name, () => {
        it('sets the lr of every group after construction and after every step', () => {
          const opt = makeOptimizer(c.optimizer, freshParams());
          const sched = makeScheduler(c, opt);
          const lrs = () => opt.paramGroups.map((g) => g.lr);
          expectLrs(lrs(), c.lrs[0], 'lr after construction');
          if (!(sched instanceof S.ReduceLROnPlateau))
            expectLrs(sched.getLastLr(), c.lrs[0], 'getLastLr() after construction');
          const mom = c.momentum ?? c.beta1;
          if (mom) expectLrs(momentaOf(opt, c.beta1 !== undefined), mom[0], 'momentum after construction');
          for (let i = 0; i < c.steps; i++) {
            opt.step();
            stepScheduler(c, sched, i);
            expectLrs(lrs(), c.lrs[i + 1], `lr after step ${i + 1}`);
            expectLrs(sched.getLastLr(), c.lrs[i + 1], `getLastLr() after step ${i + 1}`);
            if (mom) expectLrs(momentaOf(opt, c.beta1 !== undefined), mom[i + 1], `momentum after step ${i + 1}`);
          }
        });

        it("has PyTorch's state dict after the last step", () => {
          const opt = makeOptimizer(c.optimizer, freshParams());
          const sched = makeScheduler(c, opt);
          for (let i = 0; i < c.steps; i++) {
            opt.step();
            stepScheduler(c, sched, i);
          }
          const sd = sched.stateDict();
          expectStateEqual(sd, decode(c.stateDict), 'stateDict');
          const extra = Object.keys(sd).filter((k) => !(k in c.stateDict));
          // PyTorch 1.13 keeps the annealing function itself (not serialisable); we keep its name, as PyTorch 2.x
          expect(extra, 'keys PyTorch does not have').to.deep.equal(
            c.cls === 'OneCycleLR' ? ['_anneal_func_type'] : [],
          );
        });

        it('resumes exactly from stateDict() (optimizer and scheduler)', () => {
          const half = Math.floor(c.steps / 2);
          const opt = makeOptimizer(c.optimizer, freshParams());
          const sched = makeScheduler(c, opt);
          for (let i = 0; i < half; i++) {
            opt.step();
            stepScheduler(c, sched, i);
          }
          const optState = opt.stateDict();
          const schedState = sched.stateDict();
          const opt2 = makeOptimizer(c.optimizer, freshParams());
          const sched2 = makeScheduler(c, opt2);
          opt2.loadStateDict(optState);
          sched2.loadStateDict(schedState);
          expectLrs(
            opt2.paramGroups.map((g) => g.lr),
            c.lrs[half],
            `lr after loading at step ${half}`,
          );
          expectLrs(sched2.getLastLr(), c.lrs[half], `getLastLr() after loading at step ${half}`);
          for (let i = half; i < c.steps; i++) {
            opt2.step();
            stepScheduler(c, sched2, i);
            expectLrs(
              opt2.paramGroups.map((g) => g.lr),
              c.lrs[i + 1],
              `resumed lr after step ${i + 1}`,
            );
          }
          expectStateEqual(sched2.stateDict(), decode(c.stateDict), 'resumed stateDict');
        });

        if (c.train) {
          it('trains with the scheduled learning rates (and momenta) as PyTorch', () => {
            const params = freshParams();
            const opt = makeOptimizer(c.optimizer, params);
            const sched = makeScheduler(c, opt);
            for (let i = 0; i < c.steps; i++) {
              opt.zeroGrad();
              backward(params);
              opt.step();
              stepScheduler(c, sched, i);
            }
            params.forEach((p, i) =>
              expectClose(p, c.train!.params[i], PARAM_TOL, `param ${i} after ${c.steps} steps`),
            );
          });
        }
      });
    }
  });

  describe('LRScheduler base', () => {
    it('sets initialLr on every group and records baseLrs, lastEpoch 0 and _stepCount 1', () => {
      const opt = sgd2();
      const s = new S.ExponentialLR(opt, { gamma: 0.5 });
      expect(opt.paramGroups.map((g) => g.initialLr)).to.deep.equal([0.1, 0.05]);
      expect(s.baseLrs).to.deep.equal([0.1, 0.05]);
      expect(s.lastEpoch).to.equal(0);
      expect(s._stepCount).to.equal(1);
      expect(s).to.be.instanceOf(S.LRScheduler);
      // the optimizer's state dict carries it under PyTorch's name
      expect(opt.stateDict().param_groups[0].initial_lr).to.equal(0.1);
    });

    it('keeps an existing initialLr (a second scheduler on the same optimizer)', () => {
      const opt = sgd2();
      new S.LinearLR(opt, { startFactor: 0.5 });
      const s = new S.ExponentialLR(opt, { gamma: 0.9 });
      expect(s.baseLrs).to.deep.equal([0.1, 0.05]);
      expect(opt.paramGroups[0].lr).to.equal(0.05);
    });

    it('is chainable: recursive forms follow changes made to the lr from outside', () => {
      const opt = sgd2();
      const s = new S.ExponentialLR(opt, { gamma: 0.5 });
      opt.paramGroups[0].lr = 1;
      opt.step();
      s.step();
      expect(opt.paramGroups[0].lr).to.equal(0.5);
      expect(opt.paramGroups[1].lr).to.equal(0.025);
    });

    it('getLastLr() returns a copy', () => {
      const s = new S.StepLR(sgd2(), { stepSize: 2 });
      const l = s.getLastLr();
      l[0] = 42;
      expect(s.getLastLr()).to.deep.equal([0.1, 0.05]);
    });

    it('step(epoch) uses the closed form, with a deprecation warning', () => {
      const opt = sgd2();
      const s = new S.StepLR(opt, { stepSize: 3, gamma: 0.5 });
      opt.step();
      const w = recordWarnings(() => s.step(7));
      expect(w.length).to.equal(1);
      expect(w[0]).to.match(/epoch parameter/);
      expect(s.lastEpoch).to.equal(7);
      expect(s.getLastLr()).to.deep.equal([0.1 * 0.5 ** 2, 0.05 * 0.5 ** 2]);
      const m = new S.MultiStepLR(sgd2(), { milestones: [2, 2, 5] });
      recordWarnings(() => m.step(4));
      expectLrs(m.getLastLr(), [0.1 * 0.1 ** 2, 0.05 * 0.1 ** 2], 'MultiStepLR closed form');
      const c = new S.CosineAnnealingLR(sgd2(), { tMax: 10 });
      recordWarnings(() => c.step(5));
      expectLrs(c.getLastLr(), [0.05, 0.025], 'CosineAnnealingLR closed form at tMax/2');
      const l = new S.LinearLR(sgd2(), { startFactor: 0.5, totalIters: 4 });
      recordWarnings(() => l.step(2));
      expectLrs(l.getLastLr(), [0.075, 0.0375], 'LinearLR closed form');
    });

    it('warns when scheduler.step() is called before optimizer.step(), as PyTorch', () => {
      const opt = sgd2();
      const s = new S.StepLR(opt, { stepSize: 2 });
      const w = recordWarnings(() => s.step());
      expect(w.length).to.equal(1);
      expect(w[0]).to.match(/before `optimizer.step\(\)`/);
      const opt2 = sgd2();
      const s2 = new S.StepLR(opt2, { stepSize: 2 });
      expect(
        recordWarnings(() => {
          opt2.step();
          s2.step();
          s2.step();
        }),
      ).to.deep.equal([]);
    });

    it('warns when optimizer.step was replaced after the scheduler was created', () => {
      const opt = sgd2();
      const s = new S.StepLR(opt, { stepSize: 2 });
      opt.step = () => undefined;
      const w = recordWarnings(() => s.step());
      expect(w.length).to.equal(1);
      expect(w[0]).to.match(/overridden/);
    });

    it('counts optimizer.step() through a wrapper that still returns the closure loss', () => {
      const params = freshParams();
      const opt = makeOptimizer({ cls: 'SGD', defaults: { lr: 0.1 }, groups: [{}, {}] }, params);
      new S.StepLR(opt, { stepSize: 2 });
      new S.StepLR(opt, { stepSize: 3 }); // wraps only once
      expect(opt.step(() => 3)).to.equal(3);
    });

    it('verbose prints each update as PyTorch', () => {
      const lines: string[] = [];
      const orig = console.log;
      console.log = (...a: unknown[]) => {
        lines.push(a.join(' '));
      };
      try {
        const opt = sgd2();
        const s = new S.StepLR(opt, { stepSize: 1, gamma: 0.5, verbose: true });
        opt.step();
        s.step();
        recordWarnings(() => s.step(12));
      } finally {
        console.log = orig;
      }
      expect(lines).to.deep.equal([
        'Adjusting learning rate of group 0 to 1.0000e-01.',
        'Adjusting learning rate of group 1 to 5.0000e-02.',
        'Adjusting learning rate of group 0 to 5.0000e-02.',
        'Adjusting learning rate of group 1 to 2.5000e-02.',
        'Epoch 00012: adjusting learning rate of group 0 to 2.4414e-05.',
        'Epoch 00012: adjusting learning rate of group 1 to 1.2207e-05.',
      ]);
    });

    it('resumes with lastEpoch when the groups have initialLr (PyTorch semantics)', () => {
      const opt = sgd2();
      const s = new S.ExponentialLR(opt, { gamma: 0.9 });
      for (let i = 0; i < 5; i++) {
        opt.step();
        s.step();
      }
      const sd = opt.stateDict();
      const opt2 = sgd2();
      opt2.loadStateDict(sd);
      expect(opt2.paramGroups[0].initialLr).to.equal(0.1);
      const s2 = new S.ExponentialLR(opt2, { gamma: 0.9, lastEpoch: 5 });
      expect(s2.lastEpoch).to.equal(6);
      expect(s2.baseLrs).to.deep.equal([0.1, 0.05]);
      expectLrs(
        s2.getLastLr(),
        s.getLastLr().map((x) => x * 0.9),
        'one more decay, as PyTorch',
      );
    });

    it('a custom subclass implements getLr() and ends its constructor with _initialStep()', () => {
      class HalveEvery2 extends S.LRScheduler {
        constructor(opt: Optimizer) {
          super(opt);
          this._initialStep();
        }
        protected getLr(): number[] {
          const f = this.lastEpoch > 0 && this.lastEpoch % 2 === 0 ? 0.5 : 1;
          return this.optimizer.paramGroups.map((g) => g.lr * f);
        }
      }
      const opt = sgd2();
      const s = new HalveEvery2(opt);
      const seen: number[] = [];
      for (let i = 0; i < 5; i++) {
        opt.step();
        s.step();
        seen.push(s.getLastLr()[0]);
      }
      expect(seen).to.deep.equal([0.1, 0.05, 0.05, 0.025, 0.025]);
      expect(s.stateDict()).to.have.keys(
        'base_lrs',
        'last_epoch',
        'verbose',
        '_step_count',
        '_get_lr_called_within_step',
        '_last_lr',
      );
    });

    it('MultiStepLR state dict has milestones as a count per milestone and round-trips', () => {
      const opt = sgd2();
      const s = new S.MultiStepLR(opt, { milestones: [3, 3, 10], gamma: 0.5 });
      expect(s.stateDict().milestones).to.deep.equal({ 3: 2, 10: 1 });
      const s2 = new S.MultiStepLR(sgd2(), { milestones: [1], gamma: 0.5 });
      s2.loadStateDict(s.stateDict());
      expect([...s2.milestones.entries()]).to.deep.equal([
        [3, 2],
        [10, 1],
      ]);
    });

    it('LambdaLR saves the own properties of stateful functions and restores them', () => {
      const f = Object.assign((e: number) => f.base ** e, { base: 0.9 });
      const s = new S.LambdaLR(sgd2(), { lrLambda: f });
      expect(s.stateDict().lr_lambdas).to.deep.equal([{ base: 0.9 }, { base: 0.9 }]);
      const g = Object.assign((e: number) => g.base ** e, { base: 0.5 });
      const s2 = new S.LambdaLR(sgd2(), { lrLambda: [g, (e: number) => e + 1] });
      expect(s2.stateDict().lr_lambdas).to.deep.equal([{ base: 0.5 }, null]);
      s2.loadStateDict({ ...s.stateDict(), lr_lambdas: [{ base: 0.8 }, null] });
      expect(g.base).to.equal(0.8);
    });

    it('OneCycleLR stores initialLr, maxLr, minLr, maxMomentum, baseMomentum in the groups', () => {
      const opt = sgd2({ momentum: 0.9 });
      new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 10 });
      const g = opt.paramGroups[0];
      expect([g.initialLr, g.maxLr, g.minLr, g.maxMomentum, g.baseMomentum, g.momentum]).to.deep.equal([
        0.04, 1, 4e-6, 0.95, 0.85, 0.95,
      ]);
    });

    it("the optimizer state dict carries OneCycleLR's group keys under PyTorch's names and restores them", () => {
      const opt = sgd2({ momentum: 0.9 });
      const s = new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 10 });
      for (let i = 0; i < 3; i++) {
        opt.step();
        s.step();
      }
      const sd = opt.stateDict();
      expect(sd.param_groups[0]).to.include.keys('max_lr', 'min_lr', 'max_momentum', 'base_momentum');
      const opt2 = sgd2({ momentum: 0.9 });
      opt2.loadStateDict(sd);
      expect([opt2.paramGroups[0].maxLr, opt2.paramGroups[0].minLr]).to.deep.equal([1, 4e-6]);
      const s2 = new S.OneCycleLR(opt2, { maxLr: 1, totalSteps: 10, lastEpoch: 3 });
      opt.step();
      s.step();
      expectLrs(s2.getLastLr(), s.getLastLr(), 'resumed with lastEpoch');
    });

    it('OneCycleLR refuses to step past totalSteps', () => {
      const opt = sgd2({ momentum: 0.9 });
      const s = new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 3 });
      for (let i = 0; i < 3; i++) {
        opt.step();
        s.step();
      }
      expectError(() => s.step(), RangeError, 'OneCycleLR', 'tried to step 5 times', 'total steps is 3');
    });

    it('SequentialLR restarts each later scheduler at its milestone', () => {
      const opt = sgd2();
      const a = new S.LinearLR(opt, { startFactor: 0.5, totalIters: 2 });
      const b = new S.ExponentialLR(opt, { gamma: 0.9 });
      const s = new S.SequentialLR(opt, { schedulers: [a, b], milestones: [2] });
      const seen = [s.getLastLr()[0]];
      for (let i = 0; i < 4; i++) {
        opt.step();
        s.step();
        seen.push(s.getLastLr()[0]);
      }
      expectLrs(seen, [0.05, 0.075, 0.1, 0.09, 0.081], 'lr of group 0');
    });

    it('ReduceLROnPlateau takes a one-element tensor metric and counts bad epochs', () => {
      const opt = sgd2();
      const s = new S.ReduceLROnPlateau(opt, { patience: 1, factor: 0.5 });
      const m = torch.tensor([1.0]);
      s.step(m);
      s.step(m);
      expect(s.numBadEpochs).to.equal(1);
      s.step(torch.tensor(1.0));
      expect(s.getLastLr()).to.deep.equal([0.05, 0.025]);
      expect(s.numBadEpochs).to.equal(0);
      expect(s.best).to.equal(1);
      expect(s.inCooldown).to.equal(false);
      m.dispose();
    });

    it('schedulers create no tensors: 100 training steps in tidy leave memory unchanged', () => {
      const params = freshParams();
      const opt = makeOptimizer({ cls: 'Adam', defaults: { lr: 0.01 }, groups: [{}, {}] }, params);
      const s = new S.OneCycleLR(opt, { maxLr: 0.05, totalSteps: 101 });
      const plateau = new S.ReduceLROnPlateau(opt, { patience: 3 });
      const step = () =>
        torch.tidy(() => {
          opt.zeroGrad();
          backward(params);
          opt.step();
          s.step();
          plateau.step(0.5);
        });
      step();
      const before = torch.memory().tensors;
      for (let i = 0; i < 99; i++) step();
      expect(torch.memory().tensors).to.equal(before);
    });
  });

  describe('errors', () => {
    it('a scheduler needs an Optimizer', () => {
      expectError(() => new S.StepLR({} as Optimizer, { stepSize: 1 }), TypeError, 'StepLR', 'optimizer', 'Optimizer');
      expectError(
        () => new S.ReduceLROnPlateau(null as unknown as Optimizer),
        TypeError,
        'ReduceLROnPlateau',
        'optimizer',
      );
      expectError(
        () => new S.OneCycleLR(undefined as unknown as Optimizer, { maxLr: 1, totalSteps: 2 }),
        TypeError,
        'OneCycleLR',
        'optimizer',
      );
    });

    it('options: required, unknown, wrong types and ranges, naming the class and option', () => {
      const opt = sgd2();
      expectError(
        () => new S.StepLR(opt, undefined as unknown as { stepSize: number }),
        TypeError,
        'StepLR',
        'options',
      );
      expectError(() => new S.StepLR(opt, {} as { stepSize: number }), TypeError, 'StepLR', "'stepSize' is required");
      expectError(() => new S.StepLR(opt, { stepSize: 0 }), RangeError, 'StepLR', 'stepSize', 'positive integer');
      expectError(() => new S.StepLR(opt, { stepSize: 2.5 }), RangeError, 'StepLR', 'stepSize');
      expectError(() => new S.StepLR(opt, { stepSize: 2, gamma: -0.1 }), RangeError, 'StepLR', 'gamma');
      expectError(() => new S.StepLR(opt, { stepSize: 2, gamma: NaN }), RangeError, 'StepLR', 'gamma');
      expectError(
        () => new S.StepLR(opt, { stepSize: 2, gamma: '0.1' as unknown as number }),
        TypeError,
        'StepLR',
        'gamma',
      );
      expectError(
        () => new S.StepLR(opt, { stepSize: 2, step_size: 3 } as unknown as { stepSize: number }),
        TypeError,
        "StepLR: unknown option 'step_size', did you mean 'stepSize'? (known: stepSize, gamma, lastEpoch, verbose)",
      );
      expectError(() => new S.StepLR(opt, { stepSize: 2, lastEpoch: -2 }), RangeError, 'StepLR', 'lastEpoch');
      expectError(
        () => new S.StepLR(opt, { stepSize: 2, verbose: 1 as unknown as boolean }),
        TypeError,
        'StepLR',
        'verbose',
      );
      expectError(
        () => new S.MultiStepLR(opt, { milestones: [5, 3] }),
        RangeError,
        'MultiStepLR',
        'milestones',
        'increasing',
      );
      expectError(() => new S.MultiStepLR(opt, { milestones: [1.5] }), RangeError, 'MultiStepLR', 'milestones[0]');
      expectError(
        () => new S.MultiStepLR(opt, { milestones: 3 as unknown as number[] }),
        TypeError,
        'MultiStepLR',
        'milestones',
      );
      expectError(
        () => new S.ExponentialLR(opt, {} as { gamma: number }),
        TypeError,
        'ExponentialLR',
        "'gamma' is required",
      );
      expectError(() => new S.CosineAnnealingLR(opt, { tMax: 0 }), RangeError, 'CosineAnnealingLR', 'tMax');
      expectError(
        () => new S.CosineAnnealingLR(opt, { tMax: 5, etaMin: Infinity }),
        RangeError,
        'CosineAnnealingLR',
        'etaMin',
      );
      expectError(() => new S.LinearLR(opt, { startFactor: 0 }), RangeError, 'LinearLR', 'startFactor');
      expectError(() => new S.LinearLR(opt, { startFactor: 1.5 }), RangeError, 'LinearLR', 'startFactor');
      expectError(() => new S.LinearLR(opt, { endFactor: -1 }), RangeError, 'LinearLR', 'endFactor');
      expectError(() => new S.LinearLR(opt, { totalIters: 0 }), RangeError, 'LinearLR', 'totalIters');
      expectError(() => new S.LambdaLR(opt, { lrLambda: [(e) => e] }), RangeError, 'LambdaLR', 'expected 2 lrLambda');
      expectError(
        () => new S.LambdaLR(opt, { lrLambda: 0.5 as unknown as (e: number) => number }),
        TypeError,
        'LambdaLR',
        'lrLambda',
      );
      expectError(
        () => new S.LambdaLR(opt, { lrLambda: [(e) => e, 1 as unknown as (e: number) => number] }),
        TypeError,
        'LambdaLR',
        'lrLambda[1]',
      );
      expectError(
        () => new S.LambdaLR(opt, { lrLambda: () => 'x' as unknown as number }),
        TypeError,
        'LambdaLR',
        'a number',
      );
    });

    it('OneCycleLR: PyTorch checks, named', () => {
      const opt = sgd2({ momentum: 0.9 });
      expectError(
        () => new S.OneCycleLR(opt, { maxLr: 1 }),
        TypeError,
        'OneCycleLR',
        'totalSteps',
        'epochs',
        'stepsPerEpoch',
      );
      expectError(
        () => new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 0 }),
        RangeError,
        'OneCycleLR',
        'totalSteps',
        'positive',
      );
      expectError(() => new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 2.5 }), RangeError, 'OneCycleLR', 'totalSteps');
      expectError(() => new S.OneCycleLR(opt, { maxLr: 1, epochs: 3 }), TypeError, 'OneCycleLR', 'stepsPerEpoch');
      expectError(
        () => new S.OneCycleLR(opt, { maxLr: 1, epochs: -1, stepsPerEpoch: 2 }),
        RangeError,
        'OneCycleLR',
        'epochs',
      );
      expectError(
        () => new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 10, pctStart: 1.5 }),
        RangeError,
        'OneCycleLR',
        'pctStart',
      );
      expectError(
        () => new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 10, annealStrategy: 'exp' as 'cos' }),
        TypeError,
        'OneCycleLR',
        'annealStrategy',
      );
      expectError(
        () => new S.OneCycleLR(opt, { maxLr: [1, 2, 3], totalSteps: 10 }),
        RangeError,
        'OneCycleLR',
        'maxLr',
        'one per parameter group',
      );
      expectError(
        () => new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 10, maxMomentum: [0.9] }),
        RangeError,
        'OneCycleLR',
        'maxMomentum',
      );
      expectError(
        () => new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 10, divFactor: 0 }),
        RangeError,
        'OneCycleLR',
        'divFactor',
      );
      expectError(
        () => new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 10, threePhase: 'yes' as unknown as boolean }),
        TypeError,
        'OneCycleLR',
        'threePhase',
      );
      const ada = makeOptimizer({ cls: 'Adagrad', defaults: { lr: 0.1 }, groups: [{}, {}] }, freshParams());
      expectError(
        () => new S.OneCycleLR(ada, { maxLr: 1, totalSteps: 10 }),
        RangeError,
        'OneCycleLR',
        'momentum',
        'cycleMomentum',
      );
      // a failed construction leaves the groups untouched
      expect(ada.paramGroups[0]).to.not.have.any.keys('initialLr', 'maxLr', 'minLr');
      expect(opt.paramGroups[0].momentum).to.equal(0.9);
      new S.OneCycleLR(ada, { maxLr: 1, totalSteps: 10, cycleMomentum: false });
      // a phase without steps would divide by zero (Python raises ZeroDivisionError)
      const opt2 = sgd2({ momentum: 0.9 });
      expectError(
        () => new S.OneCycleLR(opt2, { maxLr: 1, totalSteps: 10, pctStart: 0.1 }),
        RangeError,
        'OneCycleLR',
        'division by zero',
      );
    });

    it('SequentialLR: same optimizer, one milestone fewer than schedulers, increasing', () => {
      const opt = sgd2();
      const a = new S.LinearLR(opt);
      const b = new S.ExponentialLR(opt, { gamma: 0.9 });
      const other = new S.ExponentialLR(sgd2(), { gamma: 0.9 });
      expectError(
        () => new S.SequentialLR(opt, { schedulers: [a, b], milestones: [] }),
        RangeError,
        'SequentialLR',
        'milestones',
      );
      expectError(
        () => new S.SequentialLR(opt, { schedulers: [a, b], milestones: [2, 4] }),
        RangeError,
        'SequentialLR',
        '2 schedulers and 2 milestones',
      );
      expectError(
        () => new S.SequentialLR(opt, { schedulers: [a, other], milestones: [2] }),
        RangeError,
        'SequentialLR',
        'same optimizer',
        'schedulers[1]',
      );
      expectError(
        () => new S.SequentialLR(opt, { schedulers: [a, b, b], milestones: [3, 3] }),
        RangeError,
        'SequentialLR',
        'increasing',
      );
      expectError(
        () => new S.SequentialLR(opt, { schedulers: [] as LRScheduler[], milestones: [] }),
        TypeError,
        'SequentialLR',
        'schedulers',
      );
      const plateau = new S.ReduceLROnPlateau(opt);
      expectError(
        () => new S.SequentialLR(opt, { schedulers: [a, plateau as unknown as LRScheduler], milestones: [2] }),
        TypeError,
        'SequentialLR',
        'schedulers[1]',
        'LRScheduler',
      );
    });

    it('ReduceLROnPlateau: options and metric checks', () => {
      const opt = sgd2();
      expectError(() => new S.ReduceLROnPlateau(opt, { factor: 1 }), RangeError, 'ReduceLROnPlateau', 'factor');
      expectError(() => new S.ReduceLROnPlateau(opt, { factor: -0.5 }), RangeError, 'ReduceLROnPlateau', 'factor');
      expectError(() => new S.ReduceLROnPlateau(opt, { mode: 'avg' as 'min' }), TypeError, 'ReduceLROnPlateau', 'mode');
      expectError(
        () => new S.ReduceLROnPlateau(opt, { thresholdMode: 'pct' as 'rel' }),
        TypeError,
        'ReduceLROnPlateau',
        'thresholdMode',
      );
      expectError(() => new S.ReduceLROnPlateau(opt, { minLr: [0.1] }), RangeError, 'ReduceLROnPlateau', 'minLr');
      expectError(() => new S.ReduceLROnPlateau(opt, { patience: -1 }), RangeError, 'ReduceLROnPlateau', 'patience');
      expectError(() => new S.ReduceLROnPlateau(opt, { cooldown: 0.5 }), RangeError, 'ReduceLROnPlateau', 'cooldown');
      expectError(() => new S.ReduceLROnPlateau(opt, { eps: -1 }), RangeError, 'ReduceLROnPlateau', 'eps');
      expectError(
        () => new S.ReduceLROnPlateau(opt, { patiense: 3 } as Opts),
        TypeError,
        "ReduceLROnPlateau: unknown option 'patiense', did you mean 'patience'? (known: mode, factor, patience,",
      );
      expectError(
        () => new S.OneCycleLR(opt, { max_lr: 0.1, totalSteps: 10 } as never),
        TypeError,
        "OneCycleLR: unknown option 'max_lr', did you mean 'maxLr'?",
      );
      const s = new S.ReduceLROnPlateau(opt);
      expectError(() => s.step('0.5' as unknown as number), TypeError, 'ReduceLROnPlateau.step', 'metric');
      const two = torch.tensor([1, 2]);
      expectError(() => s.step(two), RangeError, 'ReduceLROnPlateau.step', 'one-element');
      two.dispose();
      expect(s.lastEpoch, 'failed steps change nothing').to.equal(0);
    });

    it('loadStateDict checks the types of the values it knows', () => {
      const s = new S.StepLR(sgd2(), { stepSize: 2 });
      expectError(() => s.loadStateDict(null as unknown as Record<string, unknown>), TypeError, 'StepLR.loadStateDict');
      expectError(() => s.loadStateDict({ last_epoch: 'x' }), TypeError, 'StepLR.loadStateDict', 'last_epoch');
      expectError(() => s.loadStateDict({ base_lrs: [0.1, 'x'] }), TypeError, 'StepLR.loadStateDict', 'base_lrs');
      expect(s.lastEpoch, 'a failed load changes nothing').to.equal(0);
      s.loadStateDict({ last_epoch: 4, unknown_key: 1 });
      expect(s.lastEpoch).to.equal(4);
      const p = new S.ReduceLROnPlateau(sgd2());
      expectError(() => p.loadStateDict({ mode: 'avg' }), TypeError, 'ReduceLROnPlateau.loadStateDict', 'mode');
    });

    it('resuming with lastEpoch needs initialLr on every group', () => {
      expectError(
        () => new S.StepLR(sgd2(), { stepSize: 2, lastEpoch: 3 }),
        TypeError,
        'StepLR',
        'initialLr',
        'paramGroups[0]',
      );
    });

    it('the library still works after these errors', () => {
      const params = freshParams();
      const opt = makeOptimizer({ cls: 'SGD', defaults: { lr: 0.1 }, groups: [{}, {}] }, params);
      const s = new S.StepLR(opt, { stepSize: 1, gamma: 0.5 });
      opt.zeroGrad();
      backward(params);
      opt.step();
      s.step();
      expect(s.getLastLr()).to.deep.equal([0.05, 0.05]);
    });
  });
});
