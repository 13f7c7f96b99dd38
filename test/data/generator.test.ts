// torch.Generator: the streams of a seeded generator equal PyTorch's CPU generator (randperm,
// randint, rand, randn, uniform_, normal_, random_ through the samplers' seed draw), its state
// bytes equal PyTorch's get_state() and restore across the two, and its error paths.
// Golden values: test/fixtures/data.json (test/fixtures/gen/gen_data_fixtures.py, PyTorch 1.13.1).

import { expect } from 'chai';

import * as torch from '../../lib';
import { drawSeed } from '../../lib/utils/data/sampler';
import { expectClose, expectError } from '../helpers';
import { dataFixture } from './fixture';

interface GeneratorFixture {
  defaultInitialSeed: number;
  defaultRandperm10: number[];
  seed42: {
    randperm10: number[];
    randint0_100_6: number[];
    rand4: number[];
    randn4: number[];
    random_int64_3: string[];
    random_0_10_5: number[];
    random_7_4: number[];
    uniform_m2_2_4: number[];
    normal_1_3_4: number[];
  };
  generic3: { multinomial: number[]; bernoulli: number[]; exponential_: number[]; random_0_10: number[] };
  bigSeed: string;
  bigSeedRandperm8: number[];
  negSeedRandperm8: number[];
  state7: { bytes: number[]; next: number[] };
  global3RandomInt64: string;
}

describe('torch.Generator', () => {
  const fx = dataFixture<GeneratorFixture>('generator');

  it('starts from PyTorch default seed and stream', () => {
    const g = new torch.Generator();
    expect(g.initialSeed()).to.equal(BigInt(fx.defaultInitialSeed));
    expect(torch.randperm(10, { generator: g }).toArray()).to.deep.equal(fx.defaultRandperm10);
    expect(g.device).to.equal('cpu');
    expect(String(g)).to.equal('<torch.Generator>');
  });

  it('gives PyTorch streams for a seed: randperm, randint, rand, randn, uniform_, normal_', () => {
    const g = new torch.Generator().manualSeed(42);
    const s = fx.seed42;
    expect(torch.randperm(10, { generator: g }).toArray()).to.deep.equal(s.randperm10);
    expect(torch.randint(0, 100, [6], { generator: g }).toArray()).to.deep.equal(s.randint0_100_6);
    expectClose(torch.rand(4, { generator: g }), s.rand4);
    expectClose(torch.randn([4], { generator: g }), s.randn4);
    expect(g.initialSeed()).to.equal(42n);
    // int64 random_() with the generator: what the samplers draw their seeds with (exact bigints)
    expect([drawSeed(g), drawSeed(g), drawSeed(g)].map(String)).to.deep.equal(s.random_int64_3);
    // random_(0, 10) and random_(7) draw as randint(0, 10) and randint(0, 7)
    torch.randint(0, 10, [5], { generator: g });
    torch.randint(0, 7, [4], { generator: g });
    expectClose(torch.empty(4).uniform_(-2, 2, { generator: g }), s.uniform_m2_2_4);
    expectClose(torch.empty(4).normal_(1, 3, { generator: g }), s.normal_1_3_4);
  });

  it('randint with a generator equals random_(from, to) draws', () => {
    const g = new torch.Generator().manualSeed(42);
    const s = fx.seed42;
    torch.randperm(10, { generator: g });
    torch.randint(0, 100, [6], { generator: g });
    torch.rand(4, { generator: g });
    torch.randn(4, { generator: g });
    for (let k = 0; k < 3; k++) drawSeed(g);
    expect(torch.randint(0, 10, [5], { generator: g }).toArray()).to.deep.equal(s.random_0_10_5);
    expect(torch.randint(7, [4], { generator: g }).toArray()).to.deep.equal(s.random_7_4);
  });

  it('the generated ops take { generator } too: multinomial, bernoulli, exponential_, random_', () => {
    const g = new torch.Generator().manualSeed(3);
    const e = fx.generic3;
    const probs = torch.tensor([0.1, 0.2, 0.3, 0.4]);
    expect(torch.multinomial(probs, 6, { replacement: true, generator: g }).toArray()).to.deep.equal(e.multinomial);
    expect(torch.bernoulli(torch.full([8], 0.5), { generator: g }).toArray()).to.deep.equal(e.bernoulli);
    expectClose(torch.empty(3).exponential_(2.0, { generator: g }), e.exponential_);
    expect(torch.empty([4], { dtype: 'int64' }).random_(0, 10, { generator: g }).toArray()).to.deep.equal(
      e.random_0_10,
    );
    // null is the global generator, as PyTorch's None
    torch.manualSeed(1);
    const a = torch.multinomial(probs, 4, { replacement: true }).toArray();
    torch.manualSeed(1);
    expect(torch.multinomial(probs, 4, { replacement: true, generator: null }).toArray()).to.deep.equal(a);
    expectError(
      () => torch.multinomial(probs, 2, { generator: 5 as never }),
      TypeError,
      'torch.multinomial',
      'generator',
      'a torch.Generator',
    );
  });

  it('takes uint64 seeds as bigints, and wraps negative seeds as PyTorch', () => {
    const big = BigInt(fx.bigSeed);
    const g = new torch.Generator().manualSeed(big);
    expect(g.initialSeed()).to.equal(big);
    expect(torch.randperm(8, { generator: g }).toArray()).to.deep.equal(fx.bigSeedRandperm8);
    const n = new torch.Generator().manualSeed(-5);
    expect(n.initialSeed()).to.equal(2n ** 64n - 5n);
    expect(torch.randperm(8, { generator: n }).toArray()).to.deep.equal(fx.negSeedRandperm8);
  });

  it("getState equals PyTorch's state bytes; setState replays, from PyTorch's bytes too", () => {
    const g = new torch.Generator().manualSeed(7);
    torch.randperm(5, { generator: g });
    const state = g.getState();
    expect(state.dtype).to.equal('uint8');
    expect(state.toArray()).to.deep.equal(fx.state7.bytes);
    expect(torch.randperm(8, { generator: g }).toArray()).to.deep.equal(fx.state7.next);
    g.setState(state);
    expect(torch.randperm(8, { generator: g }).toArray()).to.deep.equal(fx.state7.next);
    const h = new torch.Generator().setState(torch.tensor(fx.state7.bytes, { dtype: 'uint8' }));
    expect(torch.randperm(8, { generator: h }).toArray()).to.deep.equal(fx.state7.next);
  });

  it('seed() reseeds nondeterministically and reports the seed', () => {
    const g = new torch.Generator();
    const s = g.seed();
    expect(typeof s).to.equal('bigint');
    expect(g.initialSeed()).to.equal(s);
    const a = torch.randperm(20, { generator: g }).toArray();
    g.manualSeed(s);
    expect(torch.randperm(20, { generator: g }).toArray()).to.deep.equal(a);
  });

  it('does not touch the global stream; the default generator is the global one', () => {
    torch.manualSeed(3);
    const a = torch.rand(5).toArray();
    torch.manualSeed(3);
    torch.randperm(10, { generator: new torch.Generator().manualSeed(1) });
    expect(torch.rand(5).toArray()).to.deep.equal(a);
    torch.manualSeed(3);
    expect(torch.defaultGenerator().initialSeed()).to.equal(3n);
    expect(String(drawSeed())).to.equal(fx.global3RandomInt64);
    torch.manualSeed(3);
    expect(String(drawSeed(torch.defaultGenerator()))).to.equal(fx.global3RandomInt64);
    expect(torch.defaultGenerator()).to.equal(torch.defaultGenerator());
  });

  it('generator: null or undefined means the global generator', () => {
    torch.manualSeed(0);
    const a = torch.randperm(6).toArray();
    torch.manualSeed(0);
    expect(torch.randperm(6, { generator: null }).toArray()).to.deep.equal(a);
    torch.manualSeed(0);
    expect(torch.randperm(6, { generator: undefined }).toArray()).to.deep.equal(a);
  });

  it('checks its arguments', () => {
    expectError(() => new torch.Generator('cuda'), TypeError, "torch.Generator: only the 'cpu' device");
    const g = new torch.Generator();
    expectError(() => g.manualSeed(1.5), RangeError, 'Generator.manualSeed', 'seed');
    expectError(() => g.manualSeed('1' as unknown as number), TypeError, 'Generator.manualSeed', 'seed');
    expectError(() => g.manualSeed(2n ** 64n), RangeError, 'Generator.manualSeed', 'seed');
    expectError(() => g.setState([1, 2] as unknown as torch.Tensor), TypeError, 'Generator.setState', 'state');
    expectError(() => g.setState(torch.zeros(4)), TypeError, 'Generator.setState', 'uint8');
    expectError(() => g.setState(torch.zeros([4], { dtype: 'uint8' })), Error);
    const bad = { generator: {} as torch.Generator };
    expectError(() => torch.randperm(3, bad), TypeError, 'torch.randperm', 'generator');
    expectError(() => torch.randint(0, 3, [2], bad), TypeError, 'torch.randint', 'generator');
    expectError(() => torch.rand(2, bad), TypeError, 'torch.rand', 'generator');
    expectError(() => torch.randn([2], bad), TypeError, 'torch.randn', 'generator');
    expectError(() => torch.empty(2).uniform_(0, 1, bad), TypeError, 'Tensor.uniform_', 'generator');
    expectError(() => torch.empty(2).normal_(0, 1, bad), TypeError, 'Tensor.normal_', 'generator');
    expectError(() => torch.empty(2).normal_(0, 1, { gen: g } as never), TypeError, 'Tensor.normal_');
    expectError(() => torch.zeros(2, { generator: g } as never), TypeError, 'torch.zeros', 'generator');
    expectError(() => torch.rand(), TypeError, 'torch.rand', 'expected a size');
  });
});
