// nn.Module against PyTorch 1.13: registration, traversal names and order, modes, gradients,
// dtype conversion, state_dict round trips, repr, containers and errors. The golden values are
// in test/fixtures/nn_module.json, written by test/fixtures/gen/gen_nn_fixtures.py from Python classes of
// the same names and architecture as the JS classes below.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError, fromEncoded } from '../helpers';

const { nn } = torch;
type Tensor = torch.Tensor;

interface Structure {
  stateDictKeys: string[];
  namedParameters: string[];
  namedBuffers: string[];
  namedChildren: string[];
  namedModules: string[];
  moduleClasses: string[];
  parameterCount: number;
  repr: string;
}
interface NetFixture extends Structure {
  applyOrder: string[];
  namedParametersNoRecurse: string[];
  namedBuffersNoRecurse: string[];
  namedParametersPrefix: string[];
  state: Record<string, Encoded>;
  input: Encoded;
  output: Encoded;
}
interface ModuleFixture {
  net: NetFixture;
  tied: Structure;
  sharedModule: Structure;
  slots: { before: Structure; after: Structure };
  repr: Record<string, string>;
  numericKeys: { keys: string[]; repr: string };
  repeatedInList: { len: number; keys: string[]; repr: string };
}

const fx = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'nn_module.json'), 'utf8'),
) as ModuleFixture;
const TOL = { rtol: 1e-5, atol: 1e-5 };

const keysOf = (it: Iterable<[string, unknown]>): string[] => [...it].map(([k]) => k);

/** What a module exposes, in the shape of the fixture's `structure()`. */
function structure(m: torch.nn.Module): Structure {
  const sd = m.stateDict();
  const s: Structure = {
    stateDictKeys: Object.keys(sd),
    namedParameters: keysOf(m.namedParameters()),
    namedBuffers: keysOf(m.namedBuffers()),
    namedChildren: keysOf(m.namedChildren()),
    namedModules: keysOf(m.namedModules()),
    moduleClasses: [...m.modules()].map((x) => x.constructor.name),
    parameterCount: [...m.parameters()].length,
    repr: m.toString(),
  };
  torch.dispose(sd);
  return s;
}

/** The PyTorch state_dict of the fixture as tensors (a fresh copy each call). */
function pyState(): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, e] of Object.entries(fx.net.state)) out[k] = fromEncoded(e);
  return out;
}

// ---- the architecture of test/fixtures/gen/gen_nn_fixtures.py, in JS ------------------------------------
class Block extends nn.Module {
  declare norm: torch.nn.LayerNorm;
  declare fc: torch.nn.Linear;
  declare act: torch.nn.GELU;
  declare scale: Tensor;
  declare cache: Tensor;

  constructor(d: number) {
    super();
    this.norm = new nn.LayerNorm(d);
    this.fc = new nn.Linear(d, d);
    this.act = new nn.GELU();
    this.registerBuffer('scale', torch.full([d], 0.5));
    this.registerBuffer('cache', torch.zeros(d), { persistent: false });
  }

  forward(x: Tensor): Tensor {
    return x.add(this.act.forward(this.fc.forward(this.norm.forward(x))).mul(this.scale));
  }
}

/** Class fields first (they run right after super()), then constructor assignments. */
class Net extends nn.Module {
  embed = new nn.Embedding(7, 4, { paddingIdx: 0 });
  blocks = new nn.ModuleList([new Block(4), new Block(4)]);
  declare step: Tensor;
  declare gate: torch.nn.Parameter;
  declare head: torch.nn.Sequential;
  declare heads: torch.nn.ModuleDict;
  declare drop: torch.nn.Dropout;

  constructor() {
    super();
    this.registerBuffer('step', torch.zeros(1));
    this.gate = new nn.Parameter(torch.ones(4));
    this.head = new nn.Sequential(new nn.Linear(4, 3), new nn.Tanh(), new nn.Linear(3, 2, { bias: false }));
    this.heads = new nn.ModuleDict({ cls: new nn.Linear(2, 2), id: new nn.Identity() });
    this.drop = new nn.Dropout(0.25);
  }

  forward(idx: Tensor): Tensor {
    let x = this.embed.forward(idx).mul(this.gate);
    for (const b of this.blocks) x = (b as Block).forward(x);
    x = this.drop.forward(x);
    return (this.heads.get('cls') as torch.nn.Linear).forward(this.head.forward(x) as Tensor);
  }
}

class Tied extends nn.Module {
  declare enc: torch.nn.Linear;
  declare dec: torch.nn.Linear;
  constructor() {
    super();
    this.enc = new nn.Linear(3, 3);
    this.dec = new nn.Linear(3, 3);
    this.dec.weight = this.enc.weight;
  }
  forward(x: Tensor): Tensor {
    return this.dec.forward(this.enc.forward(x));
  }
}

class SharedModule extends nn.Module {
  declare first: torch.nn.Linear;
  declare act: torch.nn.ReLU;
  declare second: torch.nn.Linear;
  constructor() {
    super();
    this.first = new nn.Linear(3, 2);
    this.act = new nn.ReLU();
    this.second = this.first;
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

class Slots extends nn.Module {
  declare nothing: torch.nn.Parameter | null;
  declare c: Tensor | null;
  constructor() {
    super();
    this.registerParameter('w', new nn.Parameter(torch.ones(2)));
    this.registerParameter('nothing', null);
    this.registerModule('sub', new nn.Linear(2, 2));
    this.registerModule('empty', null);
    this.registerBuffer('a', torch.zeros(2));
    this.registerBuffer('b', torch.ones(2), { persistent: false });
    this.registerBuffer('c', null);
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** A module with nothing registered. */
class Plain extends nn.Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

const withoutRepr = (s: Structure): Omit<Structure, 'repr'> => {
  const { repr: _repr, ...rest } = s;
  return rest;
};

// =============================================================================================
describe('nn.Module: registration and traversal (PyTorch names and order)', () => {
  it('class fields and constructor assignments register in assignment order, as PyTorch', () => {
    const net = new Net();
    const s = structure(net);
    expect(s.namedParameters).to.deep.equal(fx.net.namedParameters);
    expect(s.namedBuffers).to.deep.equal(fx.net.namedBuffers);
    expect(s.namedChildren).to.deep.equal(fx.net.namedChildren);
    expect(s.namedModules).to.deep.equal(fx.net.namedModules);
    expect(s.moduleClasses).to.deep.equal(fx.net.moduleClasses);
    expect(s.parameterCount).to.equal(fx.net.parameterCount);
    expect(s.stateDictKeys).to.deep.equal(fx.net.stateDictKeys);
  });

  it('parameters()/buffers()/children()/modules() yield the same objects as the named forms', () => {
    const net = new Net();
    expect([...net.parameters()]).to.deep.equal([...net.namedParameters()].map(([, p]) => p));
    expect([...net.buffers()]).to.deep.equal([...net.namedBuffers()].map(([, b]) => b));
    expect([...net.children()]).to.deep.equal([...net.namedChildren()].map(([, m]) => m));
    expect([...net.modules()]).to.deep.equal([...net.namedModules()].map(([, m]) => m));
    expect([...net.modules()][0]).to.equal(net);
    expect([...net.children()][0]).to.equal(net.embed);
    expect([...net.parameters()][0]).to.equal(net.gate);
    expect([...net.parameters()][1]).to.equal(net.embed.weight);
    expect([...net.buffers()][0]).to.equal(net.step);
    for (const p of net.parameters()) {
      expect(p).to.be.instanceOf(nn.Parameter);
      expect(p.requiresGrad).to.equal(true);
    }
  });

  it("every traversal is a lazy generator, consumed once, as PyTorch's (named_)parameters/buffers/children/modules", () => {
    const net = new Net();
    const traversals: [string, () => Iterator<unknown> & Iterable<unknown>][] = [
      ['namedParameters', () => net.namedParameters()],
      ['parameters', () => net.parameters()],
      ['namedBuffers', () => net.namedBuffers()],
      ['buffers', () => net.buffers()],
      ['namedChildren', () => net.namedChildren()],
      ['children', () => net.children()],
      ['namedModules', () => net.namedModules()],
      ['modules', () => net.modules()],
    ];
    for (const [name, make] of traversals) {
      const it = make();
      expect(Object.prototype.toString.call(it), name).to.equal('[object Generator]');
      expect(it[Symbol.iterator](), `${name}: its own iterator`).to.equal(it);
      expect(it.next().done, `${name}: a first item`).to.equal(false);
      [...it];
      expect([...it], `${name}: consumed once`).to.deep.equal([]);
      // a generator function too, so that subclasses and ScriptModule can follow the same shape
      const fn = (nn.Module.prototype as unknown as Record<string, unknown>)[name] as object;
      expect(Object.getPrototypeOf(fn).constructor.name, name).to.equal('GeneratorFunction');
    }
  });

  it('recurse: false and prefix, as named_parameters(recurse=False) / named_parameters(prefix=...)', () => {
    const net = new Net();
    expect(keysOf(net.namedParameters({ recurse: false }))).to.deep.equal(fx.net.namedParametersNoRecurse);
    expect(keysOf(net.namedBuffers({ recurse: false }))).to.deep.equal(fx.net.namedBuffersNoRecurse);
    expect(keysOf(net.blocks.namedParameters({ prefix: 'blocks' }))).to.deep.equal(fx.net.namedParametersPrefix);
    expect([...net.parameters({ recurse: false })]).to.deep.equal([net.gate]);
  });

  it('registerParameter / registerModule / registerBuffer (persistent or not, null slots) as PyTorch', () => {
    const m = new Slots();
    expect(withoutRepr(structure(m))).to.deep.equal(withoutRepr(fx.slots.before));
    // filling the null slots keeps their registration position, as PyTorch's dicts do
    m.nothing = new nn.Parameter(torch.zeros(3));
    m.c = torch.full([1], 2);
    expect(withoutRepr(structure(m))).to.deep.equal(withoutRepr(fx.slots.after));
  });

  it('registered tensors are the same objects (no copies); a buffer is not a parameter', () => {
    const m = new Plain();
    const t = torch.ones(2);
    const p = new nn.Parameter(torch.zeros(2));
    m.registerBuffer('buf', t);
    m.registerParameter('p', p);
    expect([...m.buffers()]).to.deep.equal([t]);
    expect([...m.buffers()][0]).to.equal(t);
    expect([...m.parameters()][0]).to.equal(p);
    expect(keysOf(m.namedParameters())).to.deep.equal(['p']);
    // reassigning a registered buffer name with a tensor replaces the buffer
    const t2 = torch.full([2], 3);
    (m as unknown as { buf: Tensor }).buf = t2;
    expect([...m.buffers()][0]).to.equal(t2);
    expect(Object.keys(m.stateDict())).to.deep.equal(['p', 'buf']);
  });

  it('a parameter shared by two layers is listed once; stateDict lists it under both names', () => {
    const m = new Tied();
    const s = structure(m);
    expect(s.namedParameters).to.deep.equal(fx.tied.namedParameters);
    expect(s.parameterCount).to.equal(fx.tied.parameterCount);
    expect(s.stateDictKeys).to.deep.equal(fx.tied.stateDictKeys);
    expect(s.namedModules).to.deep.equal(fx.tied.namedModules);
    expect(s.repr).to.equal(fx.tied.repr);
    expect(m.dec.weight).to.equal(m.enc.weight);
  });

  it('a module shared under two names: namedModules/namedChildren/parameters list it once', () => {
    const m = new SharedModule();
    const s = structure(m);
    expect(s.namedParameters).to.deep.equal(fx.sharedModule.namedParameters);
    expect(s.namedChildren).to.deep.equal(fx.sharedModule.namedChildren);
    expect(s.namedModules).to.deep.equal(fx.sharedModule.namedModules);
    expect(s.moduleClasses).to.deep.equal(fx.sharedModule.moduleClasses);
    expect(s.parameterCount).to.equal(fx.sharedModule.parameterCount);
    expect(s.repr).to.equal(fx.sharedModule.repr);
  });

  // FIXED (was a bug): lib/nn/modules/module.ts stateEntries() memoises visited modules, so a submodule
  // registered under two names ('first' and 'second') appears in stateDict() only under the
  // first name: ['first.weight', 'first.bias']. PyTorch's state_dict() does not deduplicate
  // modules and returns ['first.weight', 'first.bias', 'second.weight', 'second.bias']; a
  // PyTorch checkpoint of such a model therefore fails strict loadStateDict (unexpected keys).
  it('a module shared under two names appears in stateDict under both names (as PyTorch)', () => {
    const m = new SharedModule();
    expect(Object.keys(m.stateDict())).to.deep.equal(fx.sharedModule.stateDictKeys);
    const sd: Record<string, Tensor> = {};
    for (const k of fx.sharedModule.stateDictKeys) sd[k] = torch.zeros(k.endsWith('weight') ? [2, 3] : [2]);
    expect(m.loadStateDict(sd)).to.deep.equal({ missingKeys: [], unexpectedKeys: [] });
  });

  // LIMITATION (ordering; documented on nn.Module, not fixable without a Proxy): TypeScript
  // field declarations without an initializer (`fc2: nn.Linear;`)
  // are emitted as class fields under target ES2022 (useDefineForClassFields), which define the
  // property (as undefined) in *declaration* order before the constructor runs. Module's order
  // is Object.keys order, so `this.fc1 = ...; this.fc2 = ...` in the constructor registers
  // fc2 before fc1 when the fields were declared fc2, fc1. PyTorch registers in assignment
  // order (fc1, fc2). Only `declare fc2: nn.Linear;` avoids it.
  it.skip('registration order is assignment order even with typed field declarations', () => {
    class Declared extends nn.Module {
      fc2!: torch.nn.Linear;
      fc1!: torch.nn.Linear;
      constructor() {
        super();
        this.fc1 = new nn.Linear(2, 2);
        this.fc2 = new nn.Linear(2, 2);
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    expect(keysOf(new Declared().namedChildren())).to.deep.equal(['fc1', 'fc2']);
  });
});

// =============================================================================================
describe("nn.Module: clone() (PyTorch's copy.deepcopy(module))", () => {
  it('copies the whole tree: same classes, names, order, values; new parameters and buffers', () =>
    torch.tidy(() => {
      const net = new Net();
      const copy = net.clone();
      expect(copy).to.be.instanceOf(Net).and.to.not.equal(net);
      expect(withoutRepr(structure(copy))).to.deep.equal(withoutRepr(structure(net)));
      expect(copy.toString()).to.equal(net.toString());
      const a = net.stateDict(),
        b = copy.stateDict();
      for (const k of Object.keys(a)) expect(b[k].equal(a[k]), k).to.equal(true);
      const original = new Set<unknown>([...net.parameters(), ...net.buffers(), ...net.modules()]);
      for (const x of [...copy.parameters(), ...copy.buffers(), ...copy.modules()])
        expect(original.has(x), 'shares nothing with the original').to.equal(false);
      for (const p of copy.parameters()) expect(p).to.be.instanceOf(nn.Parameter);
      // non-persistent buffers stay non-persistent; the containers keep working
      expect([...copy.namedBuffers()].map(([k]) => k)).to.include('blocks.0.cache');
      expect(Object.keys(b)).to.not.include('blocks.0.cache');
      expect(copy.blocks.length).to.equal(2);
      expect(copy.heads.keys()).to.deep.equal(['cls', 'id']);
      net.eval();
      copy.eval();
      const idx = torch.tensor([[1, 2, 0]], { dtype: 'int64' });
      expect(copy.forward(idx).equal(net.forward(idx)), 'same forward').to.equal(true);
      // training the copy leaves the original as it was
      torch.noGrad(() => copy.gate.fill_(3));
      expect(net.gate.eq(3).any().itemBool()).to.equal(false);
    }));

  it('keeps training modes, requiresGrad, gradients (copied), tied parameters and shared modules', () =>
    torch.tidy(() => {
      const net = new Net();
      net.blocks.eval();
      net.embed.weight.requiresGrad_(false);
      net.gate.grad = torch.full([4], 2);
      const copy = net.clone();
      expect([copy.training, copy.blocks.training, (copy.blocks.at(0) as Block).fc.training]).to.deep.equal([
        true,
        false,
        false,
      ]);
      expect(copy.embed.weight.requiresGrad).to.equal(false);
      expect(copy.gate.requiresGrad).to.equal(true);
      expect(copy.gate.grad!.equal(torch.full([4], 2))).to.equal(true);
      copy.gate.grad!.zero_();
      expect(net.gate.grad!.equal(torch.full([4], 2)), "the original's grad is its own").to.equal(true);
      const tied = new Tied().clone();
      expect(tied.dec.weight).to.equal(tied.enc.weight);
      const shared = new SharedModule().clone();
      expect(shared.second).to.equal(shared.first);
      expect(keysOf(shared.namedModules())).to.deep.equal(fx.sharedModule.namedModules);
    }));

  it('keeps registrations: null slots, integer-like keys in insertion order, and a function attribute (shared)', () =>
    torch.tidy(() => {
      const slots = new Slots().clone();
      expect(withoutRepr(structure(slots))).to.deep.equal(withoutRepr(fx.slots.before));
      slots.nothing = new nn.Parameter(torch.zeros(3));
      slots.c = torch.full([1], 2);
      expect(withoutRepr(structure(slots)), 'filled null slots keep their position').to.deep.equal(
        withoutRepr(fx.slots.after),
      );
      const md = new nn.ModuleDict(
        new Map<string, torch.nn.Module>([
          ['b', new nn.ReLU()],
          ['10', new nn.Tanh()],
          ['2', new nn.Identity()],
        ]),
      ).clone();
      expect(md.keys()).to.deep.equal(fx.numericKeys.keys);
      expect(md.toString()).to.equal(fx.numericKeys.repr);
      const act = (x: Tensor) => x.sigmoid();
      const layer = new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8, activation: act });
      expect(layer.clone().activation).to.equal(act);
    }));

  it('draws no random numbers, and the copy outlives the torch.tidy it was made in', () => {
    const net = new Net();
    torch.manualSeed(3);
    const expected = torch.rand(4);
    torch.manualSeed(3);
    const copy = torch.tidy(() => net.clone());
    const after = torch.rand(4);
    expect(after.equal(expected), 'the generator went on as if clone() had not run').to.equal(true);
    for (const t of [...copy.parameters(), ...copy.buffers()]) expect(t.isDisposed).to.equal(false);
    torch.dispose([expected, after]);
  });
});

// =============================================================================================
describe('nn.Module: train/eval, zeroGrad, requiresGrad_, apply, to', () => {
  it('train()/eval() set training on every module recursively and return this', () => {
    const net = new Net();
    for (const m of net.modules()) expect(m.training).to.equal(true);
    expect(net.eval()).to.equal(net);
    for (const m of net.modules()) expect(m.training, m.constructor.name).to.equal(false);
    expect(net.train()).to.equal(net);
    for (const m of net.modules()) expect(m.training).to.equal(true);
    net.train(false);
    for (const m of net.modules()) expect(m.training).to.equal(false);
    net.blocks.train(true);
    expect(net.training).to.equal(false);
    for (const m of net.blocks.modules()) expect(m.training).to.equal(true);
    expect(Object.keys(net)).to.not.include('training');
    expectError(() => net.train('yes' as unknown as boolean), TypeError, 'Module.train');
  });

  it('Dropout is active only in training mode', () => {
    const net = new Net();
    const x = torch.ones(2000);
    const yTrain = net.drop.forward(x);
    const vals = [...(yTrain.data() as Float32Array)];
    const zeros = vals.filter((v) => v === 0).length;
    expect(zeros).to.be.within(300, 700); // p = 0.25 of 2000
    for (const v of vals) if (v !== 0) expect(v).to.be.closeTo(1 / 0.75, 1e-6);
    net.eval();
    expect(net.drop.forward(x).equal(x)).to.equal(true);
    net.train();
    expect(net.drop.forward(x).equal(x)).to.equal(false);
  });

  // FIXED (was a bug): Module.train (lib/nn/modules/module.ts) sets `m.training = mode` on every module of
  // modules() directly instead of calling each child's train(mode). PyTorch's train() calls
  // `module.train(mode)` on each child, so a subclass overriding train() (e.g. to keep a
  // normalisation layer frozen in eval mode) is honoured. Here the override is bypassed and
  // `frozen.norm.training` becomes true.
  it("train() calls each child's train(), so overrides apply (as PyTorch)", () => {
    class FrozenNorm extends nn.Module {
      norm = new nn.LayerNorm(2);
      override train(mode = true): this {
        super.train(mode);
        this.norm.training = false;
        return this;
      }
      forward(x: Tensor): Tensor {
        return this.norm.forward(x);
      }
    }
    class Outer extends nn.Module {
      frozen = new FrozenNorm();
      forward(x: Tensor): Tensor {
        return this.frozen.forward(x);
      }
    }
    const o = new Outer();
    o.train();
    expect(o.frozen.training).to.equal(true);
    expect(o.frozen.norm.training).to.equal(false);
  });

  it('a module that contains itself (a cycle): train() and stateDict() terminate', () => {
    const outer = new Plain();
    const inner = new nn.Linear(2, 2);
    outer.registerModule('inner', inner);
    outer.registerModule('self', outer);
    expect(outer.eval()).to.equal(outer);
    expect(inner.training).to.equal(false);
    expect(Object.keys(outer.stateDict())).to.deep.equal(['inner.weight', 'inner.bias']);
    expect(keysOf(outer.namedModules())).to.deep.equal(['', 'inner']);
  });

  it('zeroGrad(): setToNone by default; setToNone: false zeroes the existing grads', () => {
    const net = new Net();
    net.loadStateDict(pyState());
    net.eval(); // no dropout: the two backward passes below must see the same graph
    const idx = fromEncoded(fx.net.input);
    net.forward(idx).sum().backward();
    const withGrad = [...net.namedParameters()].filter(([, p]) => p.grad !== null).map(([k]) => k);
    // head.2 has no bias, heads.id has no parameters; every parameter takes part in forward
    expect(withGrad).to.deep.equal(fx.net.namedParameters);
    net.zeroGrad({ setToNone: false });
    for (const [k, p] of net.namedParameters()) {
      const g = p.grad;
      expect(g, k).to.not.equal(null);
      expect([...g!.shape]).to.deep.equal([...p.shape]);
      expect(g!.abs().sum().item(), k).to.equal(0);
    }
    net.zeroGrad();
    for (const p of net.parameters()) expect(p.grad).to.equal(null);
    // setToNone: false leaves a parameter without a grad at null
    net.zeroGrad({ setToNone: false });
    for (const p of net.parameters()) expect(p.grad).to.equal(null);
    // grads accumulate again from zero
    net.forward(idx).sum().backward();
    const g1 = net.gate.grad!.clone();
    net.zeroGrad({ setToNone: false });
    net.forward(idx).sum().backward();
    expectClose(net.gate.grad!, g1.toArray(), TOL);
  });

  it('requiresGrad_(false) freezes the parameters below; backward leaves them without grad', () => {
    const net = new Net();
    expect(net.head.requiresGrad_(false)).to.equal(net.head);
    for (const [k, p] of net.namedParameters()) expect(p.requiresGrad, k).to.equal(!k.startsWith('head.'));
    net.forward(fromEncoded(fx.net.input)).sum().backward();
    for (const [k, p] of net.namedParameters()) expect(p.grad === null, k).to.equal(k.startsWith('head.'));
    net.head.requiresGrad_();
    for (const p of net.parameters()) expect(p.requiresGrad).to.equal(true);
    // everything frozen: the output does not require grad
    net.requiresGrad_(false);
    expect(net.forward(fromEncoded(fx.net.input)).requiresGrad).to.equal(false);
  });

  it("apply(fn) visits children first, then the module, in PyTorch's order; returns this", () => {
    const net = new Net();
    const order: string[] = [];
    expect(net.apply((m) => order.push(m.constructor.name))).to.equal(net);
    expect(order).to.deep.equal(fx.net.applyOrder);
    // the usual use: re-initialise
    net.apply((m) => {
      if (m instanceof nn.Linear && m.bias) nn.init.zeros_(m.bias);
    });
    for (const m of net.modules()) if (m instanceof nn.Linear && m.bias) expect(m.bias.abs().sum().item()).to.equal(0);
    expectError(() => net.apply(42 as unknown as (m: torch.nn.Module) => void), TypeError, 'Module.apply');
  });

  it("to('float64') converts parameters, buffers and grads in place, keeping Parameter identity", () => {
    const net = new Net();
    net.loadStateDict(pyState());
    const idx = fromEncoded(fx.net.input);
    net.forward(idx).sum().backward();
    const params = [...net.parameters()];
    const buffers = [...net.buffers()];
    const before = params.map((p) => p.toArray());
    const gradsBefore = params.map((p) => p.grad!.toArray());
    expect(net.to('float64')).to.equal(net);
    const after = [...net.parameters()];
    expect(after.length).to.equal(params.length);
    after.forEach((p, i) => {
      expect(p).to.equal(params[i]);
      expect(p).to.be.instanceOf(nn.Parameter);
      expect(p.dtype).to.equal('float64');
      expect(p.requiresGrad).to.equal(true);
      expect(p.isLeaf).to.equal(true);
      expect(p.toArray()).to.deep.equal(before[i]); // float32 -> float64 is exact
      expect(p.grad!.dtype).to.equal('float64');
      expect(p.grad!.toArray()).to.deep.equal(gradsBefore[i]);
    });
    [...net.buffers()].forEach((b, i) => {
      expect(b).to.equal(buffers[i]);
      expect(b.dtype).to.equal('float64');
    });
    // the converted model runs and trains in float64 and gives PyTorch's output
    net.eval();
    net.zeroGrad();
    const out = net.forward(idx);
    expect(out.dtype).to.equal('float64');
    expectClose(out.float(), fx.net.output, TOL, 'float64 forward');
    out.sum().backward();
    expect(net.gate.grad!.dtype).to.equal('float64');
    // and back, with the object form
    net.to({ dtype: 'float32' });
    expect(net.gate.dtype).to.equal('float32');
    expect(net.gate).to.equal(params[0]);
    // PyTorch: "nn.Module.to only accepts floating point or complex dtypes"
    expectError(() => net.to('int64'), TypeError, 'Module.to');
    expect(net.gate.dtype).to.equal('float32');
  });

  it('a model built, converted and loaded inside torch.tidy keeps its parameters and buffers', () => {
    let net: Net | undefined;
    const before = torch.memory().tensors;
    torch.tidy(() => {
      net = new Net();
      net.forward(fromEncoded(fx.net.input)).sum().backward();
      net.loadStateDict(pyState());
      net.to('float64');
      net.to('float32');
    });
    expect(torch.memory().tensors).to.be.above(before);
    for (const [k, t] of [...net!.namedParameters(), ...net!.namedBuffers()]) expect(t.isDisposed, k).to.equal(false);
    net!.eval();
    expectClose(net!.forward(fromEncoded(fx.net.input)), fx.net.output, TOL);
  });

  it('to() leaves integer buffers alone when casting to another float dtype', () => {
    const m = new Plain();
    m.registerBuffer('count', torch.tensor([1, 2, 3], { dtype: 'int64' }));
    m.registerBuffer('f', torch.ones(2));
    m.to('float64');
    const [count, f] = [...m.buffers()];
    expect(count.dtype).to.equal('int64');
    expect(f.dtype).to.equal('float64');
  });
});

// =============================================================================================
describe('nn.Module: stateDict / loadStateDict', () => {
  it("stateDict() keys and order equal PyTorch's state_dict() for the same architecture", () => {
    const net = new Net();
    const sd = net.stateDict();
    expect(Object.keys(sd)).to.deep.equal(fx.net.stateDictKeys);
    // non-persistent buffers are not in it, but are buffers
    expect(Object.keys(sd)).to.not.include('blocks.0.cache');
    expect(keysOf(net.namedBuffers())).to.include('blocks.0.cache');
  });

  it('stateDict() values are detached tensors sharing storage with the parameters (as PyTorch)', () => {
    const net = new Net();
    const sd = net.stateDict();
    for (const [k, t] of Object.entries(sd)) {
      expect(t.requiresGrad, k).to.equal(false);
      expect(t).to.not.be.instanceOf(nn.Parameter);
    }
    expect([...sd['gate'].shape]).to.deep.equal([4]);
    sd['gate'].fill_(5);
    expect(net.gate.toArray()).to.deep.equal([5, 5, 5, 5]);
    sd['step'].fill_(2);
    expect(net.step.toArray()).to.deep.equal([2]);
  });

  it("a state_dict produced by PyTorch loads (Record), and forward gives PyTorch's output", () => {
    const net = new Net();
    const state = pyState();
    expect(net.loadStateDict(state)).to.deep.equal({ missingKeys: [], unexpectedKeys: [] });
    const sd = net.stateDict();
    for (const k of fx.net.stateDictKeys) expectClose(sd[k], fx.net.state[k], TOL, k);
    // loading copies: the module does not alias the given tensors
    state['gate'].fill_(0);
    expect(net.gate.abs().sum().item()).to.not.equal(0);
    net.eval();
    expectClose(net.forward(fromEncoded(fx.net.input)), fx.net.output, TOL, 'Net.forward');
    // parameters are still leaves requiring grad
    for (const p of net.parameters()) {
      expect(p.requiresGrad).to.equal(true);
      expect(p.isLeaf).to.equal(true);
    }
  });

  it('loadStateDict takes a Map too; float64 values are cast to the parameter dtype', () => {
    const net = new Net();
    const m = new Map<string, Tensor>();
    for (const [k, t] of Object.entries(pyState())) m.set(k, t.to('float64'));
    expect(net.loadStateDict(m)).to.deep.equal({ missingKeys: [], unexpectedKeys: [] });
    expect(net.gate.dtype).to.equal('float32');
    net.eval();
    expectClose(net.forward(fromEncoded(fx.net.input)), fx.net.output, TOL, 'Net.forward');
  });

  it('strict: one error lists every missing key, unexpected key and size mismatch; nothing is loaded', () => {
    const net = new Net();
    const before = net.embed.weight.clone();
    const gateBefore = net.gate.clone();
    const state = pyState();
    delete state['gate'];
    delete state['blocks.1.fc.bias'];
    state['extra.weight'] = torch.ones(2);
    state['blocks.0.cache'] = torch.ones(4); // non-persistent buffer: unexpected, as in PyTorch
    state['head.0.weight'] = torch.ones(2, 4);
    state['heads.cls.bias'] = torch.ones(3);
    const err = expectError(
      () => net.loadStateDict(state),
      Error,
      'Error(s) in loading state_dict for Net',
      /Missing key\(s\) in state_dict: "gate", "blocks\.1\.fc\.bias"\./,
      /Unexpected key\(s\) in state_dict: "extra\.weight", "blocks\.0\.cache"\./,
      /size mismatch for head\.0\.weight: .*\[2, 4\].*\[3, 4\]/,
      /size mismatch for heads\.cls\.bias: .*\[3\].*\[2\]/,
    );
    // PyTorch's order: missing, unexpected, then the size mismatches
    const lines = err.message.split('\n');
    expect(lines.length).to.equal(5);
    expect(lines[1]).to.match(/^\tMissing/);
    expect(lines[2]).to.match(/^\tUnexpected/);
    expect(lines[3]).to.match(/^\tsize mismatch for head\.0\.weight/);
    expect(lines[4]).to.match(/^\tsize mismatch for heads\.cls\.bias/);
    // nothing half-loaded: embed.weight (valid in the dict) is unchanged
    expect(net.embed.weight.equal(before)).to.equal(true);
    expect(net.gate.equal(gateBefore)).to.equal(true);
    // the module still works
    expect([...net.forward(fromEncoded(fx.net.input)).shape]).to.deep.equal([2, 3, 2]);
  });

  it('a tensor in use by an async call: loadStateDict throws and loads nothing (targets read, sources written)', async () => {
    torch.manualSeed(3);
    const net = new nn.Sequential(new nn.Linear(4, 4), new nn.Linear(4, 2));
    const lin2 = net.at(1) as torch.nn.Linear;
    const before = net.stateDict();
    const saved = Object.fromEntries(Object.entries(before).map(([k, t]) => [k, t.clone()]));
    const state = Object.fromEntries(Object.entries(before).map(([k, t]) => [k, torch.fullLike(t, 7)]));
    const x = torch.randn(3, 4);
    const p = lin2.forwardAsync(x); // reads only the second layer's parameters
    expectError(
      () => net.loadStateDict(state),
      Error,
      /^Module\.loadStateDict: '1\.weight' is in use by an async operation \(await it before loading\); nothing was loaded/,
    );
    for (const [k, t] of Object.entries(before)) expect(t.equal(saved[k]), `${k} unchanged`).to.equal(true);
    torch.dispose(await p);
    // a source being written (an optimizer step in flight on another model's parameters)
    const other = new nn.Sequential(new nn.Linear(4, 4), new nn.Linear(4, 2));
    for (const q of other.parameters()) q.grad = torch.onesLike(q);
    const opt = new torch.optim.SGD([...other.parameters()], { lr: 0.1 });
    const src = other.stateDict();
    const step = opt.stepAsync();
    expectError(
      () => net.loadStateDict(src),
      Error,
      /the value for '0\.weight' is being written by an async operation; nothing was loaded|the value for '0\.weight' is being written by an async operation \(await it before loading\); nothing was loaded/,
    );
    for (const [k, t] of Object.entries(before)) expect(t.equal(saved[k]), `${k} unchanged`).to.equal(true);
    await step;
    expect(net.loadStateDict(state)).to.deep.equal({ missingKeys: [], unexpectedKeys: [] });
    expect(lin2.bias!.toArray()).to.deep.equal([7, 7]);
    torch.dispose([
      x,
      ...Object.values(before),
      ...Object.values(saved),
      ...Object.values(state),
      ...Object.values(src),
    ]);
  });

  it('strict: false returns {missingKeys, unexpectedKeys} and loads the rest; size mismatch still throws', () => {
    const net = new Net();
    const state = pyState();
    delete state['gate'];
    delete state['head.2.weight'];
    state['extra.weight'] = torch.ones(2);
    const gate = net.gate.clone();
    const res = net.loadStateDict(state, { strict: false });
    expect(res).to.deep.equal({ missingKeys: ['gate', 'head.2.weight'], unexpectedKeys: ['extra.weight'] });
    expect(net.gate.equal(gate)).to.equal(true);
    expectClose(net.embed.weight, fx.net.state['embed.weight'], TOL);
    // PyTorch raises size mismatches even with strict=False
    const bad = pyState();
    bad['blocks.0.fc.weight'] = torch.zeros(4, 3);
    const embed = net.embed.weight.clone();
    bad['embed.weight'] = torch.zeros(7, 4);
    expectError(() => net.loadStateDict(bad, { strict: false }), Error, /size mismatch for blocks\.0\.fc\.weight/);
    expect(net.embed.weight.equal(embed)).to.equal(true);
    expectError(
      () => net.loadStateDict(bad, { strict: 'no' as unknown as boolean }),
      TypeError,
      'Module.loadStateDict',
    );
  });

  it('loadStateDict with a non-tensor value throws naming the key, loads nothing, and the module still works', () => {
    const net = new Net();
    const gate = net.gate.clone();
    const state = pyState() as Record<string, unknown>;
    state['blocks.0.scale'] = [1, 2, 3, 4];
    state['gate'] = 3;
    expectError(
      () => net.loadStateDict(state as Record<string, Tensor>),
      Error,
      'blocks.0.scale',
      'gate',
      /not a Tensor/,
    );
    expect(net.gate.equal(gate)).to.equal(true);
    expectError(() => net.loadStateDict(null as unknown as Record<string, Tensor>), TypeError, 'Module.loadStateDict');
    expectError(() => net.loadStateDict('x' as unknown as Record<string, Tensor>), TypeError, 'Module.loadStateDict');
    expect(net.loadStateDict(pyState())).to.deep.equal({ missingKeys: [], unexpectedKeys: [] });
    net.eval();
    expectClose(net.forward(fromEncoded(fx.net.input)), fx.net.output, TOL);
  });

  // FIXED (was a bug): the error for a non-tensor value in loadStateDict is a plain Error whose message,
  // "Error(s) in loading state_dict for Net:\n\tvalue for gate is not a Tensor (got the number 3)",
  // does not name Module.loadStateDict, unlike every other argument error of the library
  // (README "Errors": argument mistakes name the function).
  it('loadStateDict with a non-tensor value names the function', () => {
    const net = new Net();
    const state = pyState() as Record<string, unknown>;
    state['gate'] = 3;
    expectError(() => net.loadStateDict(state as Record<string, Tensor>), Error, 'Module.loadStateDict', 'gate');
  });
});

// =============================================================================================
describe("nn.Module: toString() equals PyTorch's repr", () => {
  const builders: Record<string, () => torch.nn.Module> = {
    Sequential: () => new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2, { bias: false })),
    SequentialNamed: () =>
      new nn.Sequential(
        new Map<string, torch.nn.Module>([
          ['fc', new nn.Linear(2, 2)],
          ['act', new nn.SiLU()],
        ]),
      ),
    ModuleList: () => new nn.ModuleList([new nn.Linear(2, 2), new nn.Dropout(0.1), new nn.ModuleList([new nn.Tanh()])]),
    ModuleDict: () => new nn.ModuleDict({ relu: new nn.ReLU(), lin: new nn.Linear(2, 3) }),
    EmptySequential: () => new nn.Sequential(),
    LinearBias: () => new nn.Linear(5, 3),
    LinearNoBias: () => new nn.Linear(5, 3, { bias: false }),
    Bilinear: () => new nn.Bilinear(2, 3, 4),
    BilinearNoBias: () => new nn.Bilinear(2, 3, 4, { bias: false }),
    Embedding: () => new nn.Embedding(10, 3),
    EmbeddingPad: () => new nn.Embedding(10, 3, { paddingIdx: 2 }),
    EmbeddingPadNegative: () => new nn.Embedding(10, 3, { paddingIdx: -1 }),
    Dropout: () => new nn.Dropout(),
    Dropout01: () => new nn.Dropout(0.1),
    Dropout1: () => new nn.Dropout(1),
    DropoutTiny: () => new nn.Dropout(1e-5),
    LayerNorm: () => new nn.LayerNorm(4),
    LayerNorm2d: () => new nn.LayerNorm([2, 3], { eps: 1e-3, elementwiseAffine: false }),
    ReLU: () => new nn.ReLU(),
    GELU: () => new nn.GELU(),
    GELUTanh: () => new nn.GELU({ approximate: 'tanh' }),
    Tanh: () => new nn.Tanh(),
    Sigmoid: () => new nn.Sigmoid(),
    SiLU: () => new nn.SiLU(),
    Softmax: () => new nn.Softmax(1),
    LogSoftmax: () => new nn.LogSoftmax(1),
    Identity: () => new nn.Identity(),
  };
  // Cases whose mismatch is a known bug (see the skipped tests below).
  const knownBugs = new Set<string>();

  it('covers every case of the fixture', () => {
    const expected = Object.keys(fx.repr).filter((k) => k !== 'EmbeddingMaxNorm');
    expect(Object.keys(builders).sort()).to.deep.equal(expected.sort());
  });

  for (const name of Object.keys(fx.repr)) {
    if (!(name in builders)) continue;
    if (knownBugs.has(name)) continue;
    it(`${name}: ${fx.repr[name].split('\n')[0]}`, () => {
      const m = builders[name]();
      expect(m.toString()).to.equal(fx.repr[name]);
      expect(String(m)).to.equal(fx.repr[name]);
    });
  }

  it('a nested custom module (Net: Embedding, ModuleList of Blocks, Sequential, ModuleDict, Dropout)', () => {
    expect(new Net().toString()).to.equal(fx.net.repr);
  });

  it('EmbeddingMaxNorm: max_norm and norm_type print (Embedding(10, 3, max_norm=1.5, norm_type=1.0) in PyTorch)', () => {
    // JS numbers have no int/float distinction: norm_type=1.0 prints as in PyTorch only if the
    // value is printed as a float; we check the parts that do not depend on it.
    const s = new nn.Embedding(10, 3, { maxNorm: 1.5, normType: 1 }).toString();
    expect(s).to.match(/^Embedding\(10, 3, max_norm=1\.5, norm_type=1(\.0)?\)$/);
  });

  // FIXED (was a bug): Dropout.extraRepr (lib/nn/modules/dropout.ts) prints p with JS's String(), so
  // new nn.Dropout(1e-5) prints "Dropout(p=0.00001, inplace=False)"; PyTorch prints
  // "Dropout(p=1e-05, inplace=False)" (Python float repr; fmtFloat in normalization.ts does it).
  it('DropoutTiny: Dropout(p=1e-05, inplace=False)', () => {
    expect(new nn.Dropout(1e-5).toString()).to.equal(fx.repr['DropoutTiny']);
  });

  // FIXED (was a bug): Module.toString (lib/nn/modules/module.ts) omits submodule slots registered as null;
  // PyTorch's repr prints them as "(empty): None".
  it('a null submodule slot prints as "(name): None"', () => {
    expect(new Slots().toString()).to.equal(fx.slots.before.repr);
  });
});

// =============================================================================================
describe('nn containers: Sequential, ModuleList, ModuleDict', () => {
  const x = () =>
    torch.tensor([
      [0.5, -1, 2, 0.25],
      [1.5, 0.75, -0.5, -2],
    ]);

  it('Sequential forward chains its modules in order; at(), length, iteration, append', () => {
    torch.manualSeed(3);
    const l1 = new nn.Linear(4, 3),
      act = new nn.ReLU(),
      l2 = new nn.Linear(3, 2);
    const seq = new nn.Sequential(l1, act, l2);
    const expected = l2.forward(l1.forward(x()).relu());
    expectClose(seq.forward(x()) as Tensor, expected.toArray(), { rtol: 0, atol: 0 });
    expect(seq.length).to.equal(3);
    expect(seq.at(0)).to.equal(l1);
    expect(seq.at(-1)).to.equal(l2);
    expect(seq.at(-3)).to.equal(l1);
    expectError(() => seq.at(3), RangeError, 'Sequential.at');
    expectError(() => seq.at(-4), RangeError, 'Sequential.at');
    expect([...seq]).to.deep.equal([l1, act, l2]);
    expect(keysOf(seq.namedChildren())).to.deep.equal(['0', '1', '2']);
    const t = new nn.Tanh();
    expect(seq.append(t)).to.equal(seq);
    expect(seq.length).to.equal(4);
    expect(seq.at(-1)).to.equal(t);
    expect(keysOf(seq.namedParameters())).to.deep.equal(['0.weight', '0.bias', '2.weight', '2.bias']);
    expectClose(seq.forward(x()) as Tensor, expected.tanh().toArray(), { rtol: 0, atol: 1e-7 });
  });

  it('Sequential from a Map or an object names its children by the keys', () => {
    const a = new nn.Linear(4, 3),
      b = new nn.GELU();
    const fromMap = new nn.Sequential(
      new Map<string, torch.nn.Module>([
        ['fc', a],
        ['act', b],
      ]),
    );
    expect(keysOf(fromMap.namedChildren())).to.deep.equal(['fc', 'act']);
    expect(keysOf(fromMap.namedParameters())).to.deep.equal(['fc.weight', 'fc.bias']);
    expect(fromMap.at(-1)).to.equal(b);
    const fromObj = new nn.Sequential({ fc: a, act: b });
    expect(keysOf(fromObj.namedChildren())).to.deep.equal(['fc', 'act']);
    expectClose(fromObj.forward(x()) as Tensor, a.forward(x()).gelu().toArray(), { rtol: 0, atol: 0 });
    expect(new nn.Sequential().forward(x()) as Tensor).to.be.instanceOf(torch.Tensor);
    expectError(() => new nn.Sequential(new nn.ReLU(), 3 as unknown as torch.nn.Module), TypeError, 'Sequential');
  });

  it('ModuleList: append, extend, at, length, iteration; registered as 0, 1, ...', () => {
    const a = new nn.Linear(2, 2),
      b = new nn.ReLU(),
      c = new nn.Linear(2, 1);
    const ml = new nn.ModuleList([a]);
    expect(ml.append(b)).to.equal(ml);
    expect(ml.extend([c])).to.equal(ml);
    expect(ml.length).to.equal(3);
    expect(ml.at(0)).to.equal(a);
    expect(ml.at(-1)).to.equal(c);
    expectError(() => ml.at(3), RangeError, 'ModuleList.at');
    const seen: torch.nn.Module[] = [];
    for (const m of ml) seen.push(m);
    expect(seen).to.deep.equal([a, b, c]);
    expect(keysOf(ml.namedParameters())).to.deep.equal(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(new nn.ModuleList().length).to.equal(0);
    expectError(() => ml.append({} as torch.nn.Module), TypeError, 'ModuleList.append');
    expect(ml.length).to.equal(3);
  });

  it('ModuleDict: get, set, has, keys, entries, size; set on an existing key keeps its position', () => {
    const a = new nn.Linear(2, 2),
      b = new nn.ReLU(),
      c = new nn.Tanh();
    const md = new nn.ModuleDict({ a, b });
    expect(md.get('a')).to.equal(a);
    expect(md.get('zzz')).to.equal(undefined);
    expect(md.has('b')).to.equal(true);
    expect(md.has('c')).to.equal(false);
    expect(md.set('c', c)).to.equal(md);
    expect(md.keys()).to.deep.equal(['a', 'b', 'c']);
    expect(md.size).to.equal(3);
    const a2 = new nn.Sigmoid();
    md.set('a', a2);
    expect(md.keys()).to.deep.equal(['a', 'b', 'c']);
    expect(md.get('a')).to.equal(a2);
    expect(md.entries()).to.deep.equal([
      ['a', a2],
      ['b', b],
      ['c', c],
    ]);
    const fromMap = new nn.ModuleDict(
      new Map<string, torch.nn.Module>([
        ['y', b],
        ['x', c],
      ]),
    );
    expect(fromMap.keys()).to.deep.equal(['y', 'x']);
    expectError(() => md.set('d', 1 as unknown as torch.nn.Module), TypeError, 'ModuleDict.set');
    expectError(() => md.set('a.b', b), TypeError, 'registerModule');
    expect(md.keys()).to.deep.equal(['a', 'b', 'c']);
  });

  // FIXED (was a bug): Module traversal uses Object.keys(this), and JS orders integer-like keys ("10", "2")
  // before all other keys, ascending. So a ModuleDict (or a Sequential from a Map) with keys
  // b, 10, 2 lists them as 2, 10, b in keys()/namedChildren()/stateDict()/toString(); PyTorch
  // keeps insertion order (b, 10, 2).
  it('ModuleDict keeps insertion order for integer-like keys (as PyTorch)', () => {
    const md = new nn.ModuleDict(
      new Map<string, torch.nn.Module>([
        ['b', new nn.ReLU()],
        ['10', new nn.Tanh()],
        ['2', new nn.Identity()],
      ]),
    );
    expect(md.keys()).to.deep.equal(fx.numericKeys.keys);
    expect(md.toString()).to.equal(fx.numericKeys.repr);
  });

  // FIXED (was a bug): ModuleList/Sequential `length`, `at`, iteration and Sequential.forward go through
  // children(), which deduplicates modules. PyTorch's containers do not: ModuleList([lin, lin])
  // has len 2 and Sequential(lin, lin) applies lin twice. Here ModuleList([lin, lin]).length is
  // 1, and append() then registers under key String(length) = '1', *replacing* the second
  // entry instead of adding '2'.
  it('repeats: Sequential.append after a repeat takes the next key; ModuleDict lists a module under each key; parameters once', () => {
    const lin = new nn.Linear(2, 2);
    const seq = new nn.Sequential(lin, lin);
    const t = new nn.Tanh();
    seq.append(t);
    expect(seq.length).to.equal(3);
    expect(keysOf(seq.namedChildren())).to.deep.equal(['0', '2']);
    expect([...seq]).to.deep.equal([lin, lin, t]);
    expect(seq.at(1)).to.equal(lin);
    expect(seq.at(-1)).to.equal(t);
    expect(keysOf(seq.namedParameters())).to.deep.equal(['0.weight', '0.bias']);
    expect(Object.keys(seq.stateDict())).to.deep.equal(['0.weight', '0.bias', '1.weight', '1.bias']);
    const md = new nn.ModuleDict({ a: lin, b: lin });
    expect(md.keys()).to.deep.equal(['a', 'b']);
    expect(md.size).to.equal(2);
    expect(md.entries()).to.deep.equal([
      ['a', lin],
      ['b', lin],
    ]);
  });

  it('Sequential from a Map keeps integer-like keys in insertion order', () => {
    const a = new nn.ReLU(),
      b = new nn.Tanh(),
      c = new nn.Identity();
    const seq = new nn.Sequential(
      new Map<string, torch.nn.Module>([
        ['b', a],
        ['10', b],
        ['2', c],
      ]),
    );
    expect(keysOf(seq.namedChildren())).to.deep.equal(['b', '10', '2']);
    expect([...seq]).to.deep.equal([a, b, c]);
  });

  it('a module repeated in a ModuleList / Sequential counts (and runs) once per entry', () => {
    const lin = new nn.Linear(2, 2);
    const ml = new nn.ModuleList([lin, lin]);
    ml.append(new nn.ReLU());
    expect(ml.length).to.equal(fx.repeatedInList.len);
    expect(ml.toString()).to.equal(fx.repeatedInList.repr);
    const seq = new nn.Sequential(lin, lin);
    const x0 = torch.tensor([[1, 2]]);
    expectClose(seq.forward(x0) as Tensor, lin.forward(lin.forward(x0)).toArray(), { rtol: 0, atol: 0 });
  });
});

// =============================================================================================
describe('nn.Module: registration errors', () => {
  it('registerBuffer / registerParameter / registerModule reject bad values and names, naming the function', () => {
    const lin = new nn.Linear(2, 2);
    const keys = Object.keys(lin.stateDict());
    expectError(
      () => lin.registerBuffer('buf', [1, 2] as unknown as Tensor),
      TypeError,
      'Module.registerBuffer',
      'an array',
    );
    expectError(() => lin.registerBuffer('buf', 3 as unknown as Tensor), TypeError, 'Module.registerBuffer');
    expectError(() => lin.registerBuffer('a.b', torch.ones(1)), TypeError, 'Module.registerBuffer', "'.'");
    expectError(() => lin.registerBuffer('', torch.ones(1)), TypeError, 'Module.registerBuffer');
    expectError(
      () => lin.registerBuffer('b', torch.ones(1), { persistent: 1 as unknown as boolean }),
      TypeError,
      'Module.registerBuffer',
    );
    expectError(() => lin.registerParameter('p', torch.ones(2)), TypeError, 'Module.registerParameter');
    expectError(
      () => lin.registerParameter('p.q', new nn.Parameter(torch.ones(2))),
      TypeError,
      'Module.registerParameter',
    );
    expectError(() => lin.registerModule('m', {} as torch.nn.Module), TypeError, 'Module.registerModule');
    expectError(() => lin.registerModule('m.n', new nn.ReLU()), TypeError, 'Module.registerModule');
    expectError(() => lin.registerModule(7 as unknown as string, new nn.ReLU()), TypeError, 'Module.registerModule');
    // the module is untouched and still works
    expect(Object.keys(lin.stateDict())).to.deep.equal(keys);
    expect(keysOf(lin.namedBuffers())).to.deep.equal([]);
    expect(keysOf(lin.namedChildren())).to.deep.equal([]);
    expect([...lin.forward(torch.ones(3, 2)).shape]).to.deep.equal([3, 2]);
  });

  // FIXED (was a bug): register{Buffer,Parameter,Module} accept a name that is already an attribute of another
  // kind (or a method): lin.registerBuffer('weight', t) turns the weight parameter into a buffer,
  // m.registerModule('train', x) replaces the train() method, and ModuleDict.set('keys', x)
  // breaks md.keys(). PyTorch raises KeyError("attribute 'weight' already exists") for all of these.
  it('registering under an existing attribute\'s name throws (PyTorch: KeyError "attribute ... already exists")', () => {
    const lin = new nn.Linear(2, 2);
    expect(() => lin.registerBuffer('weight', torch.ones(2, 2))).to.throw(/weight/);
    expect(() => lin.registerModule('train', new nn.ReLU())).to.throw(/train/);
    expect(() => lin.registerParameter('forward', new nn.Parameter(torch.ones(1)))).to.throw(/forward/);
    expect(() => new nn.ModuleDict().set('keys', new nn.ReLU())).to.throw(/keys/);
    expect(keysOf(lin.namedParameters())).to.deep.equal(['weight', 'bias']);
    expect(typeof lin.train).to.equal('function');
  });

  it('the "already exists" error names the method; settings, null slots of another kind and prototype names count', () => {
    const lin = new nn.Linear(2, 2);
    expectError(
      () => lin.registerBuffer('weight', torch.ones(2, 2)),
      Error,
      "Module.registerBuffer: attribute 'weight' already exists",
    );
    expectError(() => lin.registerModule('inFeatures', new nn.ReLU()), Error, 'Module.registerModule', "'inFeatures'");
    expectError(() => lin.registerParameter('training', null), Error, 'Module.registerParameter', "'training'");
    expectError(
      () => lin.registerModule('constructor', new nn.ReLU()),
      Error,
      'Module.registerModule',
      "'constructor'",
    );
    expectError(() => new nn.ModuleList().registerModule('length', new nn.ReLU()), Error, "'length'");
    const s = new Slots();
    expectError(() => s.registerModule('nothing', new nn.ReLU()), Error, 'Module.registerModule', "'nothing'");
    expectError(() => s.registerParameter('empty', null), Error, 'Module.registerParameter', "'empty'");
    expectError(() => s.registerBuffer('w', null), Error, 'Module.registerBuffer', "'w'");
    expect(lin.inFeatures).to.equal(2);
    expect(lin.training).to.equal(true);
  });

  it('registering again under the same kind replaces the value and keeps the position (as PyTorch)', () => {
    const s = new Slots();
    const a2 = torch.full([2], 7);
    s.registerBuffer('a', a2);
    s.registerBuffer('c', torch.ones(1));
    s.registerParameter('w', new nn.Parameter(torch.zeros(2)));
    s.registerModule('sub', new nn.Linear(2, 2, { bias: false }));
    s.registerModule('empty', new nn.ReLU());
    expect(keysOf(s.namedBuffers())).to.deep.equal(['a', 'b', 'c']);
    expect([...s.buffers()][0]).to.equal(a2);
    expect(keysOf(s.namedParameters())).to.deep.equal(['w', 'sub.weight']);
    expect(keysOf(s.namedChildren())).to.deep.equal(['sub', 'empty']);
    // a parameter registered by assignment can be registered again as a parameter
    const lin = new nn.Linear(2, 2);
    lin.registerParameter('weight', new nn.Parameter(torch.ones(2, 2)));
    expect(keysOf(lin.namedParameters())).to.deep.equal(['weight', 'bias']);
  });

  it('a field declared null or undefined, never registered, can be registered as anything', () => {
    class Fields extends nn.Module {
      maybe: torch.nn.Linear | null = null;
      later!: Tensor;
      constructor() {
        super();
        this.registerModule('maybe', new nn.Linear(2, 2));
        this.registerBuffer('later', torch.zeros(2));
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const f = new Fields();
    expect(Object.keys(f.stateDict())).to.deep.equal(['later', 'maybe.weight', 'maybe.bias']);
  });

  it("deleting a registered attribute unregisters it (as PyTorch's __delattr__)", () => {
    const s = new Slots();
    delete (s as unknown as Record<string, unknown>).a;
    expect(keysOf(s.namedBuffers())).to.deep.equal(['b']);
    s.registerParameter('a', new nn.Parameter(torch.ones(1)));
    expect(keysOf(s.namedParameters())).to.deep.equal(['w', 'a', 'sub.weight', 'sub.bias']);
  });

  // LIMITATION (of registration by plain assignment; documented on nn.Module, not fixable
  // without a Proxy): assigning a plain (non-Parameter)
  // tensor to a parameter attribute silently unregisters the parameter: after
  // `lin.weight = torch.ones(2, 2)`, namedParameters() is ['bias'] and stateDict() lacks
  // 'weight'. PyTorch raises TypeError("cannot assign 'torch.FloatTensor' as parameter 'weight'
  // (torch.nn.Parameter or None expected)").
  it.skip('assigning a plain tensor to a parameter attribute throws (PyTorch TypeError)', () => {
    const lin = new nn.Linear(2, 2);
    expect(() => {
      (lin as unknown as { weight: Tensor }).weight = torch.ones(2, 2);
    }).to.throw(TypeError);
    expect(keysOf(lin.namedParameters())).to.deep.equal(['weight', 'bias']);
  });
});
