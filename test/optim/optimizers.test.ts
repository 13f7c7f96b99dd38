// Optimizers against PyTorch 1.13 (test/fixtures/optim.json, written by
// test/fixtures/gen/gen_optim_fixtures.py): 20 steps of SGD / Adam / AdamW / RMSprop / Adagrad on a small
// fixed problem with two parameter groups, comparing the parameters and the whole state dict
// (`state` and `param_groups`, PyTorch's keys); resuming from stateDict() after 10 steps; parameter
// groups, zeroGrad, frozen parameters, errors, and memory.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError } from '../helpers';
import { backward, freshParams, makeOptimizer, OPTIMIZERS, type Opts, paramsFrom } from './problem';

const { optim } = torch;
type Parameter = torch.nn.Parameter;
type Optimizer = torch.optim.Optimizer;

type FixtureState = Record<string, Encoded | number | null>;
interface OptCase {
  name: string;
  cls: string;
  defaults: Opts;
  groups: Opts[];
  steps: number;
  params: Encoded[];
  stateDict: { state: Record<string, FixtureState>; param_groups: Opts[] };
}
interface OptimFixture {
  torch: string;
  optimizers: OptCase[];
}

const fx = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'optim.json'), 'utf8'),
) as OptimFixture;
const TOL = { rtol: 1e-5, atol: 1e-5 };

/**
 * The parameters after the steps equal PyTorch's in float32, bit for bit, on libtorch 1.13 (the
 * version that made the fixture: same kernels). The fixture stores 9 significant digits, which
 * name one float32 exactly. Other libtorch versions compute with other kernels: within TOL there.
 */
function expectParams(p: torch.Tensor, e: Encoded, what: string): void {
  if (!torch.libtorchVersion.startsWith('1.13')) {
    expectClose(p, e, TOL, what);
    return;
  }
  expect([...p.shape], `${what} shape`).to.deep.equal(e.shape);
  const got = p.data() as Float32Array;
  e.values.forEach((v, i) => expect(got[i], `${what}[flat ${i}] (bit for bit)`).to.equal(Math.fround(Number(v))));
}

function train(opt: Optimizer, params: Parameter[], steps: number): void {
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    backward(params);
    opt.step();
  }
}

function isEncoded(v: unknown): v is Encoded {
  return v !== null && typeof v === 'object' && 'values' in (v as object) && 'shape' in (v as object);
}

/** Our state dict against PyTorch's: same indices, keys, values (tensors within 1e-5), same group entries. */
function expectStateDict(sd: torch.optim.OptimizerStateDict, want: OptCase['stateDict'], what: string): void {
  expect([...sd.state.keys()].map(String).sort(), `${what} state indices`).to.deep.equal(
    Object.keys(want.state).sort(),
  );
  for (const [k, ws] of Object.entries(want.state)) {
    const st = sd.state.get(Number(k))!;
    expect(Object.keys(st).sort(), `${what} state[${k}] keys`).to.deep.equal(Object.keys(ws).sort());
    for (const [key, wv] of Object.entries(ws)) {
      const v = st[key];
      const w = `${what} state[${k}].${key}`;
      if (isEncoded(wv)) {
        expect(v, `${w} is a tensor`).to.be.instanceOf(torch.Tensor);
        expectClose(v as torch.Tensor, wv, TOL, w);
      } else {
        expect(v, w).to.equal(wv);
      }
    }
  }
  expect(sd.param_groups.length, `${what} param_groups`).to.equal(want.param_groups.length);
  sd.param_groups.forEach((g, i) => {
    expect(Object.keys(g).sort(), `${what} param_groups[${i}] keys`).to.deep.equal(
      Object.keys(want.param_groups[i]).sort(),
    );
    expect(g, `${what} param_groups[${i}]`).to.deep.equal(want.param_groups[i]);
  });
}

function disposeState(sd: torch.optim.OptimizerStateDict): void {
  for (const st of sd.state.values()) for (const v of Object.values(st)) if (v instanceof torch.Tensor) v.dispose();
}

describe('optim: optimizers', () => {
  describe('against PyTorch 1.13 (20 steps, 2 parameter groups)', () => {
    it('the fixture has all 15 optimizer cases', () => {
      expect(fx.optimizers).to.have.length(15);
    });

    for (const c of fx.optimizers) {
      describe(c.name, () => {
        it('reaches the same parameters and state dict', () => {
          const params = freshParams();
          const opt = makeOptimizer(c, params);
          train(opt, params, c.steps);
          params.forEach((p, i) => expectParams(p, c.params[i], `param ${i}`));
          const sd = opt.stateDict();
          expectStateDict(sd, c.stateDict, 'stateDict');
          disposeState(sd);
        });

        it('resumes exactly: stateDict() after 10 steps, loaded into a new optimizer on fresh params, + 10 steps', () => {
          const params = freshParams();
          const opt = makeOptimizer(c, params);
          train(opt, params, 10);
          const sd = opt.stateDict();
          const params2 = paramsFrom(params);
          const opt2 = makeOptimizer(c, params2);
          opt2.loadStateDict(sd);
          disposeState(sd);
          // the loaded state is a copy: training the first optimizer further must not change it
          train(opt, params, 3);
          train(opt2, params2, c.steps - 10);
          params2.forEach((p, i) => expectParams(p, c.params[i], `resumed param ${i}`));
          const sd2 = opt2.stateDict();
          expectStateDict(sd2, c.stateDict, 'resumed stateDict');
          disposeState(sd2);
        });
      });
    }

    it('loads a state dict in PyTorch form (state keyed by string indices, plain objects)', () => {
      const c = fx.optimizers.find((o) => o.cls === 'Adam')!;
      const params = freshParams();
      const opt = makeOptimizer(c, params);
      train(opt, params, 10);
      const sd = opt.stateDict();
      const plain: Record<string, Record<string, torch.optim.StateValue>> = {};
      for (const [k, v] of sd.state) plain[String(k)] = v;
      const params2 = paramsFrom(params);
      const opt2 = makeOptimizer(c, params2);
      opt2.loadStateDict({ state: plain, param_groups: sd.param_groups });
      train(opt2, params2, 10);
      params2.forEach((p, i) => expectParams(p, c.params[i], `param ${i}`));
      disposeState(sd);
    });
  });

  describe('parameter groups', () => {
    it('each group takes the defaults it does not override', () => {
      const params = freshParams();
      const opt = new optim.SGD(
        [{ params: params.slice(0, 2) }, { params: params.slice(2), lr: 0.01, nesterov: true }],
        { lr: 0.1, momentum: 0.9 },
      );
      expect(opt.paramGroups.map((g) => [g.lr, g.momentum, g.nesterov, g.dampening, g.weightDecay])).to.deep.equal([
        [0.1, 0.9, false, 0, 0],
        [0.01, 0.9, true, 0, 0],
      ]);
      expect(opt.paramGroups[0].params).to.deep.equal(params.slice(0, 2));
      expect(opt.defaults).to.deep.equal({
        lr: 0.1,
        momentum: 0.9,
        dampening: 0,
        weightDecay: 0,
        nesterov: false,
        maximize: false,
      });
    });

    it('a plain iterable of parameters is one group; a generator works', () => {
      const params = freshParams();
      function* gen() {
        yield* params;
      }
      const opt = new optim.Adam(gen(), { lr: 0.01 });
      expect(opt.paramGroups.length).to.equal(1);
      expect(opt.paramGroups[0].params.length).to.equal(3);
    });

    it('per-group options change the update: lr 0 freezes a group', () => {
      const params = freshParams();
      const before = params.map((p) => p.clone());
      const opt = new optim.Adam([{ params: params.slice(0, 2), lr: 0 }, { params: params.slice(2) }], { lr: 0.01 });
      train(opt, params, 3);
      expect(params[0].equal(before[0])).to.equal(true);
      expect(params[1].equal(before[1])).to.equal(true);
      expect(params[2].equal(before[2])).to.equal(false);
      torch.dispose(before);
    });

    it('addParamGroup adds a group with the defaults (fine-tuning a new head)', () => {
      const params = freshParams();
      const opt = new optim.SGD(params.slice(0, 2), { lr: 0.1, momentum: 0.5 });
      opt.addParamGroup({ params: params.slice(2), lr: 0.01 });
      expect(opt.paramGroups.length).to.equal(2);
      expect([opt.paramGroups[1].lr, opt.paramGroups[1].momentum]).to.deep.equal([0.01, 0.5]);
      train(opt, params, 2);
      expect(opt.state.size).to.equal(3);
      expectError(
        () => opt.addParamGroup({ params: [params[0]] }),
        Error,
        'SGD.addParamGroup',
        'more than one parameter group',
      );
    });

    it('changing a group option between steps takes effect (as schedulers do)', () => {
      const a = freshParams(),
        b = freshParams();
      const oa = new optim.SGD(a, { lr: 0.1 }),
        ob = new optim.SGD(b, { lr: 0.1 });
      train(oa, a, 1);
      train(ob, b, 1);
      oa.paramGroups[0].lr = 0;
      train(oa, a, 1);
      train(ob, b, 1);
      expect(a[0].equal(b[0])).to.equal(false);
    });
  });

  describe('zeroGrad', () => {
    it('sets the gradients to null by default', () => {
      const params = freshParams();
      const opt = new optim.SGD(params, { lr: 0.1 });
      backward(params);
      expect(params.every((p) => p.grad !== null)).to.equal(true);
      opt.zeroGrad();
      expect(params.map((p) => p.grad)).to.deep.equal([null, null, null]);
      opt.zeroGrad({ setToNone: true });
      expect(params.map((p) => p.grad)).to.deep.equal([null, null, null]);
    });

    it('setToNone: false zeroes them in place', () => {
      const params = freshParams();
      const opt = new optim.SGD(params, { lr: 0.1 });
      backward(params);
      opt.zeroGrad({ setToNone: false });
      for (const p of params) {
        const g = p.grad!;
        expect([...g.shape]).to.deep.equal([...p.shape]);
        expect(g.abs().sum().item()).to.equal(0);
        g.dispose();
      }
      // gradients then accumulate from zero: one backward gives the same update as a fresh one
      backward(params);
      const q = freshParams();
      backward(q);
      params.forEach((p, i) => {
        const g = p.grad!,
          h = q[i].grad!;
        expect(g.equal(h)).to.equal(true);
        g.dispose();
        h.dispose();
      });
    });

    it('bad options are TypeErrors naming the optimizer (the fuzzer found zeroGrad(null) reading null.setToNone)', () => {
      const params = freshParams();
      const opt = new optim.AdamW(params, { lr: 0.1 });
      backward(params);
      expectError(
        () => opt.zeroGrad(null as never),
        TypeError,
        'AdamW.zeroGrad: expected options to be an options object, got null',
      );
      expectError(() => opt.zeroGrad(5 as never), TypeError, 'AdamW.zeroGrad', 'the number 5');
      expectError(() => opt.zeroGrad({ setToNone: 1 } as never), TypeError, 'AdamW.zeroGrad', 'setToNone', 'a boolean');
      expectError(
        () => opt.zeroGrad({ set_to_none: false } as never),
        TypeError,
        "AdamW.zeroGrad: unknown option 'set_to_none', did you mean 'setToNone'?",
      );
      expect(
        params.every((p) => p.grad !== null),
        'gradients untouched',
      ).to.equal(true);
      opt.zeroGrad(undefined);
      expect(params.map((p) => p.grad)).to.deep.equal([null, null, null]);
    });
  });

  describe("Adam's fused float32 update (torch.backends.fastPath)", () => {
    // Random float32 parameters and gradients, 5 steps: the fused loop (fast path on) against the
    // ATen ops (fast path off), bit for bit; a non-contiguous parameter and float64 take the ops.
    const run = (fast: boolean, cls: 'Adam' | 'AdamW', opts: Record<string, unknown>, dtype: torch.DType) => {
      const was = torch.backends.fastPath();
      torch.backends.fastPath(fast);
      try {
        torch.manualSeed(9);
        const params = [
          torch.randn([33, 7], { dtype }).requiresGrad_(),
          torch.randn([7, 33], { dtype }).t().requiresGrad_(), // not contiguous
          torch.randn([5], { dtype }).requiresGrad_(),
        ];
        const opt = new OPTIMIZERS[cls](params, { lr: 0.05, ...opts });
        for (let k = 0; k < 5; k++) {
          for (const p of params) p.grad = torch.randn([...p.shape], { dtype }).mul(k === 2 ? 1e-6 : 1);
          opt.step();
        }
        return params.map((p) => p.detach().clone());
      } finally {
        torch.backends.fastPath(was);
      }
    };
    const variants: [string, 'Adam' | 'AdamW', Record<string, unknown>][] = [
      ['Adam', 'Adam', {}],
      ['Adam amsgrad weightDecay', 'Adam', { amsgrad: true, weightDecay: 0.1 }],
      ['Adam maximize', 'Adam', { maximize: true }],
      ['AdamW weightDecay', 'AdamW', { weightDecay: 0.05 }],
    ];
    for (const [what, cls, opts] of variants) {
      for (const dtype of ['float32', 'float64'] as const) {
        it(`${what} (${dtype}): the same parameters as the ATen ops, bit for bit`, () => {
          const a = run(true, cls, opts, dtype);
          const b = run(false, cls, opts, dtype);
          a.forEach((t, i) => expect(t.equal(b[i]), `param ${i}`).to.equal(true));
        });
      }
    }
  });

  describe('frozen parameters and parameters without gradients', () => {
    for (const cls of ['SGD', 'Adam', 'AdamW', 'RMSprop', 'Adagrad']) {
      it(`${cls} skips parameters whose grad is null (requiresGrad_(false))`, () => {
        const params = freshParams();
        params[0].requiresGrad_(false);
        const w0 = params[0].clone();
        const opt = new OPTIMIZERS[cls](params, { lr: 0.1, ...(cls === 'SGD' ? { momentum: 0.9 } : {}) });
        train(opt, params, 3);
        expect(params[0].grad).to.equal(null);
        expect(params[0].equal(w0), 'frozen parameter unchanged').to.equal(true);
        const st = opt.state.get(params[0]);
        if (cls === 'Adagrad') {
          // Adagrad creates its state for every parameter up front, as PyTorch; the frozen one never steps
          expect((st!.step as torch.Tensor).item()).to.equal(0);
        } else {
          expect(st, 'no state for the frozen parameter').to.equal(undefined);
        }
        expect(opt.state.get(params[1]), 'state for the trained parameters').to.not.equal(undefined);
        // the state dict holds only the parameters that have state, under their indices
        const sd = opt.stateDict();
        expect([...sd.state.keys()]).to.deep.equal(cls === 'Adagrad' ? [0, 1, 2] : [1, 2]);
        disposeState(sd);
        w0.dispose();
      });
    }

    it('unfreezing later starts the state at the first step that has a gradient', () => {
      const params = freshParams();
      params[2].requiresGrad_(false);
      const opt = new optim.Adam(params, { lr: 0.01 });
      train(opt, params, 2);
      params[2].requiresGrad_(true);
      train(opt, params, 1);
      expect((opt.state.get(params[2])!.step as torch.Tensor).item()).to.equal(1);
      expect((opt.state.get(params[0])!.step as torch.Tensor).item()).to.equal(3);
    });
  });

  describe('errors', () => {
    const ps = () => freshParams();

    it('invalid option values name the optimizer and the option (PyTorch checks)', () => {
      expectError(() => new optim.SGD(ps(), {}), TypeError, 'SGD', 'lr is required');
      expectError(() => new optim.SGD(ps(), { lr: -0.1 }), RangeError, 'SGD', 'learning rate');
      expectError(() => new optim.SGD(ps(), { lr: 0.1, momentum: -1 }), RangeError, 'SGD', 'momentum');
      expectError(() => new optim.SGD(ps(), { lr: 0.1, weightDecay: -1 }), RangeError, 'SGD', 'weightDecay');
      expectError(() => new optim.SGD(ps(), { lr: 0.1, nesterov: true }), RangeError, 'SGD', 'Nesterov', 'momentum');
      expectError(
        () => new optim.SGD(ps(), { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 }),
        RangeError,
        'SGD',
        'Nesterov',
        'dampening',
      );
      expectError(() => new optim.SGD(ps(), { lr: '0.1' as unknown as number }), TypeError, 'SGD', 'lr');
      expectError(
        () => new optim.SGD(ps(), { lr: 0.1, nesterov: 1 as unknown as boolean }),
        TypeError,
        'SGD',
        'nesterov',
      );
      expectError(() => new optim.Adam(ps(), { lr: -1 }), RangeError, 'Adam', 'learning rate');
      expectError(() => new optim.Adam(ps(), { betas: [1, 0.999] }), RangeError, 'Adam', 'beta', 'index 0');
      expectError(() => new optim.Adam(ps(), { betas: [0.9, -0.1] }), RangeError, 'Adam', 'beta', 'index 1');
      expectError(
        () => new optim.Adam(ps(), { betas: [0.9] as unknown as [number, number] }),
        TypeError,
        'Adam',
        'betas',
      );
      expectError(() => new optim.Adam(ps(), { eps: -1 }), RangeError, 'Adam', 'epsilon');
      expectError(() => new optim.Adam(ps(), { amsgrad: 'yes' as unknown as boolean }), TypeError, 'Adam', 'amsgrad');
      expectError(() => new optim.AdamW(ps(), { weightDecay: -0.01 }), RangeError, 'AdamW', 'weightDecay');
      expectError(() => new optim.RMSprop(ps(), { alpha: -0.5 }), RangeError, 'RMSprop', 'alpha');
      expectError(() => new optim.RMSprop(ps(), { momentum: -0.5 }), RangeError, 'RMSprop', 'momentum');
      expectError(
        () => new optim.RMSprop(ps(), { centered: 0 as unknown as boolean }),
        TypeError,
        'RMSprop',
        'centered',
      );
      expectError(() => new optim.Adagrad(ps(), { lrDecay: -1 }), RangeError, 'Adagrad', 'lrDecay');
      expectError(
        () => new optim.Adagrad(ps(), { initialAccumulatorValue: -1 }),
        RangeError,
        'Adagrad',
        'initialAccumulatorValue',
      );
    });

    it('per-group options are checked too, and unknown group options are refused', () => {
      const p = ps();
      expectError(
        () => new optim.Adam([{ params: p.slice(0, 2) }, { params: p.slice(2), betas: [0.9, 1.5] }], {}),
        RangeError,
        'Adam',
        'beta',
        'index 1',
      );
      expectError(
        () => new optim.SGD([{ params: p, lr: 0.1, mommentum: 0.9 }], { lr: 0.1 }),
        TypeError,
        "SGD.addParamGroup: unknown option 'mommentum', did you mean 'momentum'? (known: lr, momentum,",
      );
      expectError(
        () => new optim.SGD([{ params: p, momentum: undefined }], { lr: 0.1 }),
        TypeError,
        'SGD.addParamGroup',
        "'momentum' is undefined",
      );
    });

    it('unknown constructor options are refused ', () => {
      expectError(() => new optim.SGD(ps(), { lr: 0.1, mommentum: 0.9 } as Opts), TypeError, 'SGD', 'mommentum');
      expectError(() => new optim.Adam(ps(), { lr: 0.1, beta: [0.9, 0.99] } as Opts), TypeError, 'Adam', 'beta');
    });

    it("an unknown option suggests PyTorch's spelling in camelCase, or the option a typo meant", () => {
      expectError(
        () => new optim.AdamW(ps(), { lr: 0.1, weight_decay: 0.1 } as Opts),
        TypeError,
        "AdamW: unknown option 'weight_decay', did you mean 'weightDecay'? (known: lr, betas, eps, weightDecay,",
      );
      expectError(
        () => new optim.SGD(ps(), { lr: 0.1, mommentum: 0.9 } as Opts),
        TypeError,
        "SGD: unknown option 'mommentum', did you mean 'momentum'?",
      );
      expectError(
        () => new optim.RMSprop(ps(), { lr: 0.1, Centered: true } as Opts),
        TypeError,
        "did you mean 'centered'?",
      );
      // too far from every option: no guess, only the list
      const err = expectError(() => new optim.Adam(ps(), { lr: 0.1, beta: [0.9, 0.99] } as Opts), TypeError);
      expect(err.message).to.equal(
        "Adam: unknown option 'beta' (known: lr, betas, eps, weightDecay, amsgrad, maximize)",
      );
    });

    it('NaN learning rates and epsilons are refused', () => {
      expectError(() => new optim.Adam(ps(), { lr: NaN }), RangeError, 'Adam', 'learning rate');
      expectError(() => new optim.RMSprop(ps(), { lr: NaN }), RangeError, 'RMSprop', 'learning rate');
      expectError(() => new optim.Adagrad(ps(), { eps: NaN }), RangeError, 'Adagrad', 'epsilon');
    });

    it('groups, defaults and loaded optimizers do not share betas arrays', () => {
      const p = ps();
      const opt = new optim.Adam([{ params: p.slice(0, 2) }, { params: p.slice(2) }], { lr: 0.01 });
      (opt.paramGroups[0].betas as number[])[0] = 0.5;
      expect(opt.paramGroups[1].betas).to.deep.equal([0.9, 0.999]);
      expect(opt.defaults.betas).to.deep.equal([0.9, 0.999]);
      const opt2 = makeOptimizer({ cls: 'Adam', defaults: { lr: 0.01 }, groups: [{}, {}] }, ps());
      opt2.loadStateDict(opt.stateDict());
      (opt.paramGroups[1].betas as number[])[1] = 0.9;
      expect(opt2.paramGroups[1].betas).to.deep.equal([0.9, 0.999]);
    });

    it('params: empty, not iterable, not tensors, non-leaf, shared between groups', () => {
      expectError(() => new optim.SGD([], { lr: 0.1 }), RangeError, 'SGD', 'empty parameter list');
      expectError(() => new optim.Adam(3 as unknown as Parameter[]), TypeError, 'Adam', 'params', 'iterable');
      expectError(() => new optim.Adam(null as unknown as Parameter[]), TypeError, 'Adam', 'params');
      const p = ps();
      expectError(
        () => new optim.SGD([p[0], 5 as unknown as Parameter], { lr: 0.1 }),
        TypeError,
        'SGD.addParamGroup',
        'params[1]',
        'not a Tensor',
      );
      const nonLeaf = p[0].mul(2) as Parameter;
      expectError(() => new optim.Adam([nonLeaf]), TypeError, 'Adam.addParamGroup', 'non-leaf', 'params[0]');
      nonLeaf.dispose();
      expectError(
        () => new optim.SGD([{ params: [p[0], p[1]] }, { params: [p[1], p[2]] }], { lr: 0.1 }),
        Error,
        'SGD.addParamGroup',
        'more than one parameter group',
      );
      expectError(
        () => new optim.SGD([{ params: [p[0]] }, 7 as unknown as { params: Parameter[] }], { lr: 0.1 }),
        TypeError,
        'SGD.addParamGroup',
        'parameter group',
      );
    });

    it('step(closure) runs the closure and returns its loss; a non-function closure is refused', () => {
      const params = ps();
      const opt = new optim.SGD(params, { lr: 0.1 });
      const loss = opt.step(() => {
        backward(params);
        return 1.5;
      });
      expect(loss).to.equal(1.5);
      expectError(() => opt.step(3 as unknown as () => number), TypeError, 'SGD.step', 'closure');
    });

    it('loadStateDict: mismatched groups and bad state values are refused before anything changes', () => {
      const params = ps();
      const opt = new optim.Adam([{ params: params.slice(0, 2) }, { params: params.slice(2) }], { lr: 0.01 });
      train(opt, params, 2);
      const sd = opt.stateDict();
      const one = new optim.Adam(ps(), { lr: 0.01 });
      expectError(() => one.loadStateDict(sd), RangeError, 'Adam.loadStateDict', 'parameter groups');
      const other = makeOptimizer({ cls: 'Adam', defaults: { lr: 0.01 }, groups: [{}, {}] }, ps());
      const badSizes = { state: sd.state, param_groups: [{ ...sd.param_groups[0], params: [0] }, sd.param_groups[1]] };
      expectError(
        () => other.loadStateDict(badSizes as torch.optim.OptimizerStateDict),
        RangeError,
        'Adam.loadStateDict',
        "doesn't match the size",
      );
      const badValue = { state: new Map([[0, { step: 'x' }]]), param_groups: sd.param_groups };
      expectError(
        () => other.loadStateDict(badValue as unknown as torch.optim.OptimizerStateDict),
        TypeError,
        'Adam.loadStateDict',
        '0.step',
      );
      expect(other.state.size, 'nothing loaded').to.equal(0);
      expectError(
        () => other.loadStateDict(null as unknown as torch.optim.OptimizerStateDict),
        TypeError,
        'Adam.loadStateDict',
      );
      disposeState(sd);
    });

    it('the library still works after these errors', () => {
      const c = fx.optimizers.find((o) => o.name === 'SGD nesterov')!;
      const params = freshParams();
      const opt = makeOptimizer(c, params);
      train(opt, params, c.steps);
      params.forEach((p, i) => expectParams(p, c.params[i], `param ${i}`));
    });
  });

  describe('memory', () => {
    const configs: [string, Opts][] = [
      ['SGD', { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 0.01 }],
      ['Adam', { lr: 0.01, amsgrad: true, weightDecay: 0.01 }],
      ['AdamW', { lr: 0.01 }],
      ['RMSprop', { lr: 0.01, centered: true, momentum: 0.5 }],
      ['Adagrad', { lr: 0.01, lrDecay: 0.01 }],
    ];
    for (const [cls, opts] of configs) {
      it(`${cls}: 100 training steps inside torch.tidy leave torch.memory().tensors unchanged (after step 1)`, () => {
        const params = freshParams();
        const opt = new OPTIMIZERS[cls](params, opts);
        const step = () =>
          torch.tidy(() => {
            opt.zeroGrad();
            backward(params);
            torch.nn.utils.clipGradNorm_(params, 1.0);
            opt.step();
          });
        step(); // creates the optimizer state
        const before = torch.memory().tensors;
        for (let i = 0; i < 99; i++) step();
        expect(torch.memory().tensors).to.equal(before);
      });
    }

    it('stateDict() and loadStateDict() inside tidy leave nothing behind but the loaded state', () => {
      const params = freshParams();
      const opt = new optim.Adam(params, { lr: 0.01 });
      train(opt, params, 2);
      const opt2 = new optim.Adam(paramsFrom(params), { lr: 0.01 });
      const before = torch.memory().tensors;
      torch.tidy(() => {
        opt2.loadStateDict(opt.stateDict());
      });
      // 3 parameters x (step, exp_avg, exp_avg_sq) loaded
      expect(torch.memory().tensors - before).to.equal(9);
      const before2 = torch.memory().tensors;
      torch.tidy(() => {
        opt2.loadStateDict(opt.stateDict());
      });
      expect(torch.memory().tensors, 'the replaced state is freed').to.equal(before2);
    });
  });
});
