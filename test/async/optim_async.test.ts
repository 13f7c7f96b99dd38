// optimizer.stepAsync(): the same native updates as step(), all run by one worker on the libuv
// pool. Parameters and state equal step()'s bit for bit; while a step is in flight, the tensors
// it writes refuse every use (reads included) and the optimizer refuses other calls.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { native } from '../../lib/native';
import { expectSame, rejection } from '../helpers';
import { backward, freshParams, makeOptimizer, type OptSpec } from '../optim/problem';

const { nn, optim } = torch;
type Tensor = torch.Tensor;
type Optimizer = torch.optim.Optimizer;

const IN_USE = /in use by an async operation/;
const IN_FLIGHT = /a stepAsync\(\) of this optimizer is still in flight \(await it first\)/;

const cases = (
  JSON.parse(fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'optim.json'), 'utf8')) as {
    optimizers: (OptSpec & { name: string })[];
  }
).optimizers;

function sameState(a: Optimizer, b: Optimizer): void {
  const sa = a.stateDict().state,
    sb = b.stateDict().state;
  expect([...sb.keys()]).to.deep.equal([...sa.keys()]);
  for (const [i, st] of sa) {
    const other = sb.get(i)!;
    expect(Object.keys(other).sort(), `state ${i}`).to.deep.equal(Object.keys(st).sort());
    for (const [k, v] of Object.entries(st)) {
      if (v instanceof torch.Tensor) expectSame(other[k] as Tensor, v, `state ${i}.${k}`);
      else expect(other[k], `state ${i}.${k}`).to.equal(v);
    }
  }
}

describe('optimizer.stepAsync', () => {
  // Collect what these tests left to the GC now, not in the middle of a later test that counts
  // live tensors.
  after(async () => {
    for (let i = 0; i < 3; i++) {
      (globalThis as { gc?: () => void }).gc?.();
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  describe('equals step() bit for bit (parameters and state, two groups, 6 steps)', () => {
    it('covers all 15 optimizer cases of the fixture', () => {
      expect(cases).to.have.length(15);
    });
    for (const c of cases) {
      it(c.name, async () => {
        const ps = freshParams(),
          pa = freshParams();
        const sync = makeOptimizer(c, ps),
          asy = makeOptimizer(c, pa);
        for (let i = 0; i < 6; i++) {
          sync.zeroGrad();
          backward(ps);
          sync.step();
          asy.zeroGrad();
          backward(pa);
          await asy.stepAsync();
        }
        ps.forEach((p, i) => expectSame(pa[i], p, `param ${i}`));
        sameState(sync, asy);
      });
    }
  });

  it('a parameter without a gradient is skipped, as by step()', async () => {
    const ps = freshParams(),
      pa = freshParams();
    const sync = new optim.Adam(ps, { lr: 0.1 }),
      asy = new optim.Adam(pa, { lr: 0.1 });
    backward(ps);
    backward(pa);
    ps[1].grad = null;
    pa[1].grad = null;
    sync.step();
    await asy.stepAsync();
    ps.forEach((p, i) => expectSame(pa[i], p, `param ${i}`));
    expect(asy.state.has(pa[1])).to.equal(false);
    sameState(sync, asy);
  });

  it('refuses every use of the parameters and state it writes until it settles', async () => {
    const lin = new nn.Linear(64, 32);
    const x = torch.randn(8, 64);
    const opt = new optim.Adam(lin.parameters(), { lr: 0.01 });
    lin.forward(x).sum().backward();
    const p = opt.stepAsync();
    expect(() => lin.forward(x)).to.throw(Error, IN_USE); // a read of the weight
    expect(() => lin.weight.add(1)).to.throw(Error, IN_USE);
    expect(() => lin.weight.add_(1)).to.throw(Error, IN_USE);
    expect(() => lin.weight.dispose()).to.throw(Error, IN_USE);
    expect(() => lin.weight.grad).to.throw(Error, IN_USE); // reads the parameter
    const expAvg = opt.state.get(lin.weight)!.exp_avg as Tensor;
    expect(() => expAvg.sum()).to.throw(Error, IN_USE); // state is written too
    expect((await rejection(lin.forwardAsync(x))).message).to.match(IN_USE);
    expect(x.sum().item()).to.be.a('number'); // unrelated tensors are fine
    await p;
    const out = lin.forward(x); // free again
    expect(out.shape).to.deep.equal([8, 32]);
    expect(expAvg.abs().sum().item()).to.be.greaterThan(0);
  });

  it('refuses step, stepAsync, zeroGrad and the state functions of the same optimizer meanwhile', async () => {
    const lin = new nn.Linear(4, 3);
    const opt = new optim.SGD(lin.parameters(), { lr: 0.1, momentum: 0.9 });
    lin.forward(torch.randn(2, 4)).sum().backward();
    const p = opt.stepAsync();
    expect(() => opt.step()).to.throw(Error, /^SGD\.step: a stepAsync/);
    expect((await rejection(opt.stepAsync())).message).to.match(/^SGD\.stepAsync: a stepAsync/);
    expect(() => opt.zeroGrad()).to.throw(Error, /^SGD\.zeroGrad: a stepAsync/);
    expect(() => opt.zeroGrad({ setToNone: false })).to.throw(Error, IN_FLIGHT);
    expect(() => opt.stateDict()).to.throw(Error, /^SGD\.stateDict: a stepAsync/);
    expect(() => opt.loadStateDict({ state: new Map(), param_groups: [] })).to.throw(
      Error,
      /^SGD\.loadStateDict: a stepAsync/,
    );
    await p;
    // the momentum buffers the worker created are the optimizer's state now
    expect(opt.state.get(lin.weight)!.momentum_buffer).to.be.instanceOf(torch.Tensor);
    opt.zeroGrad();
    expect(lin.weight.grad).to.equal(null);
  });

  it('a second optimizer over the same parameters cannot step meanwhile', async () => {
    const lin = new nn.Linear(4, 3);
    const a = new optim.SGD(lin.parameters(), { lr: 0.1 }),
      b = new optim.SGD(lin.parameters(), { lr: 0.1 });
    lin.forward(torch.randn(2, 4)).sum().backward();
    const p = a.stepAsync();
    expect(() => b.step()).to.throw(Error, IN_USE);
    expect((await rejection(b.stepAsync())).message).to.match(IN_USE); // reading p.grad is refused already
    await p;
    b.step();
  });

  it('is refused while a forwardAsync reads the parameters, and leaves the optimizer as it was', async () => {
    const ps = freshParams(),
      pa = freshParams();
    const spec: OptSpec = { cls: 'RMSprop', defaults: { lr: 0.01, momentum: 0.5, centered: true }, groups: [{}, {}] };
    const sync = makeOptimizer(spec, ps),
      asy = makeOptimizer(spec, pa);
    backward(ps);
    backward(pa);
    const x = torch.randn(3, pa[0].shape[1]);
    const reading = native.linearAsync(x._h, pa[0]._h);
    const err = await rejection(asy.stepAsync());
    expect(err.message).to.match(
      /^RMSprop\.stepAsync \(parameter 0\): this tensor is in use by an async operation \(await it before modifying it\)/,
    );
    await reading;
    // nothing was updated and the state is as fresh as step()'s: the next steps agree exactly
    sync.step();
    await asy.stepAsync();
    ps.forEach((p, i) => expectSame(pa[i], p, `param ${i}`));
    sameState(sync, asy);
  });

  it('refuses a closure', async () => {
    const lin = new nn.Linear(2, 2);
    const opt = new optim.Adam(lin.parameters());
    const stepAsync = opt.stepAsync.bind(opt) as (closure: unknown) => Promise<void>;
    const err = await rejection(stepAsync(() => 1));
    expect(err).to.be.instanceOf(TypeError);
    expect(err.message).to.match(/^Adam\.stepAsync: closures are not supported/);
  });

  it('native optimStepAsync: libtorch errors reject naming the step; bad arguments throw', async () => {
    const p = torch.zeros(3),
      g = torch.ones(4),
      buf = torch.zeros(3);
    const err = await rejection(
      native.optimStepAsync('SGD.stepAsync', 'sgd', [[p._h, g._h, buf._h, 0.1, 0.9, 0, 0, false, false]]),
    );
    expect(err).to.be.instanceOf(torch.TorchError);
    expect(err.message).to.match(/^SGD\.stepAsync: .*size of tensor/);
    p.add_(1); // no longer written once rejected
    const call = native.optimStepAsync as (...a: unknown[]) => Promise<unknown>;
    expect(() => call('X.stepAsync', 'lbfgs', [])).to.throw(RangeError, /unknown optimizer 'lbfgs'/);
    expect(() => call('X.stepAsync', 'sgd', 5)).to.throw(
      TypeError,
      /expected argument 2 to be an array of argument arrays/,
    );
    expect(() => call('X.stepAsync', 'sgd', [5])).to.throw(
      TypeError,
      /expected argument 2 to be an array of argument arrays/,
    );
    expect(() => call('X.stepAsync', 'sgd', [[p._h, 'x']])).to.throw(
      TypeError,
      /^X\.stepAsync: parameter 0: argument 1 is not a Tensor/,
    );
    expect(() => call('X.stepAsync', 'sgd', [[p._h, g._h, null, 'a']])).to.throw(
      TypeError,
      /^X\.stepAsync: parameter 0: argument 3 is not a number/,
    );
    expect(() => call('X.stepAsync', 'sgd', [[p._h, g._h, null, 0.1, 0, 0, 0, 1]])).to.throw(
      TypeError,
      /argument 7 is not a boolean/,
    );
    const d = torch.zeros(3);
    const dh = d._h;
    d.dispose();
    expect(() => call('X.stepAsync', 'sgd', [[dh, g._h, null, 0.1, 0, 0, 0, false, false]])).to.throw(
      Error,
      /^X\.stepAsync: parameter 0: argument 0 is a disposed tensor/,
    );
    expect(() =>
      call('X.stepAsync', 'adam', [[p._h, g._h, p._h, p._h, null, p._h, 0.1, 0.9, 0.99, 1e-8, 0, true, false, false]]),
    ).to.throw(RangeError, /amsgrad needs maxExpAvgSq/);
    // a written tensor refuses a read by the next update of the same kind of call
    const w = torch.zeros(3),
      gw = torch.ones(3);
    const first = native.optimStepAsync('A.stepAsync', 'sgd', [[w._h, gw._h, null, 0.1, 0, 0, 0, false, false]]);
    expect(() => call('B.stepAsync', 'sgd', [[p._h, w._h, null, 0.1, 0, 0, 0, false, false]])).to.throw(
      Error,
      /^B\.stepAsync \(parameter 0\): this tensor is in use by an async operation \(await it before using it\)/,
    );
    await first;
    expectSame(w, torch.full([3], -0.1), 'sgd update');
  });

  it('torch.memory().tensors returns to its start after many async steps', async () => {
    const lin = new nn.Linear(6, 2);
    const x = torch.randn(5, 6);
    const opt = new optim.SGD(lin.parameters(), { lr: 0.01, momentum: 0.9 });
    const once = async () => {
      opt.zeroGrad();
      torch.tidy(() => lin.forward(x).pow(2).mean().backward());
      await opt.stepAsync();
    };
    await once(); // creates the momentum buffers
    const start = torch.memory().tensors;
    for (let i = 0; i < 20; i++) await once();
    expect(torch.memory().tensors).to.equal(start);
  });
});
