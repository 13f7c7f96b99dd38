// nn layers against PyTorch 1.13: forward values and gradients (w.r.t. the inputs and every
// parameter) for Linear, Bilinear, Embedding, Dropout, LayerNorm, the activations and the
// functional forms; shape and constructor errors. Weights, inputs and upstream gradients come
// from test/fixtures/nn_layers.json (test/fixtures/gen/gen_nn_fixtures.py) and are loaded with
// loadStateDict, so both sides compute from the same float32 values.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError, fromEncoded } from '../helpers';

const { nn } = torch;
const F = nn.functional;
type Tensor = torch.Tensor;

interface LayerCase {
  state: Record<string, Encoded>;
  inputs: Encoded[];
  out: Encoded;
  gradOut: Encoded;
  grads: Record<string, Encoded>;
  weightAfter?: Encoded;
}
interface FunctionalCase {
  inputs: Encoded[];
  out: Encoded;
  gradOut: Encoded;
  grads: (Encoded | null)[];
  index?: Encoded;
}
interface LayersFixture {
  cases: Record<string, LayerCase>;
  functional: Record<string, FunctionalCase>;
  dropout: {
    seed: number;
    p: number;
    input: Encoded;
    out: Encoded;
    grad: Encoded;
    functional: { seed: number; p: number; out: Encoded };
  };
}

const fx = JSON.parse(
  fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'nn_layers.json'), 'utf8'),
) as LayersFixture;
const TOL = { rtol: 1e-5, atol: 1e-5 };

function stateOf(c: { state: Record<string, Encoded> }): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [k, e] of Object.entries(c.state)) out[k] = fromEncoded(e);
  return out;
}

/**
 * Loads the case's weights into `m`, runs forward on the case's inputs (those flagged in
 * `gradInputs` require grad), backpropagates the case's upstream gradient and compares the
 * output and every gradient with PyTorch's.
 */
function checkCase(name: string, m: torch.nn.Module, gradInputs: boolean[]): { out: Tensor; inputs: Tensor[] } {
  const c = fx.cases[name];
  expect(m.loadStateDict(stateOf(c)), `${name} loadStateDict`).to.deep.equal({ missingKeys: [], unexpectedKeys: [] });
  const inputs = c.inputs.map((e, i) => fromEncoded(e, { requiresGrad: gradInputs[i] }));
  const out = (m.forward as (...a: Tensor[]) => Tensor)(...inputs);
  expectClose(out, c.out, TOL, `${name} forward`);
  out.backward(fromEncoded(c.gradOut));
  const params = new Map(m.namedParameters());
  const expectedGradNames = Object.keys(c.grads).filter((k) => !k.startsWith('input'));
  expect([...params.keys()], `${name}: parameters with grads`).to.deep.equal(expectedGradNames);
  for (const [k, g] of Object.entries(c.grads)) {
    const actual = k.startsWith('input') ? inputs[Number(k.slice(5))].grad : params.get(k)!.grad;
    expect(actual, `${name}: grad of ${k}`).to.not.equal(null);
    expectClose(actual!, g, TOL, `${name}: grad of ${k}`);
  }
  inputs.forEach((t, i) => {
    if (!gradInputs[i]) expect(t.grad).to.equal(null);
  });
  return { out, inputs };
}

// =============================================================================================
describe('nn_layers.json', () => {
  it('has all 24 layer cases and 5 functional cases', () => {
    expect(Object.keys(fx.cases), 'cases').to.have.length(24);
    expect(Object.keys(fx.functional), 'functional').to.have.length(5);
  });
});

describe("nn.Linear / nn.Bilinear: forward and gradients equal PyTorch's", () => {
  it('Linear on 1-D input', () => {
    const { out } = checkCase('linear1d', new nn.Linear(3, 2), [true]);
    expect([...out.shape]).to.deep.equal([2]);
    expect(out.gradFn).to.be.a('string');
  });
  it('Linear on 2-D input', () => {
    checkCase('linear2d', new nn.Linear(3, 2), [true]);
  });
  it('Linear on 3-D input', () => {
    checkCase('linear3d', new nn.Linear(3, 2), [true]);
  });
  it('Linear without bias', () => {
    const m = new nn.Linear(3, 2, { bias: false });
    expect(m.bias).to.equal(null);
    checkCase('linearNoBias', m, [true]);
  });
  it('Bilinear (grads of both inputs, weight, bias)', () => {
    checkCase('bilinear', new nn.Bilinear(2, 3, 4), [true, true]);
  });
  it('Bilinear without bias', () => {
    checkCase('bilinearNoBias', new nn.Bilinear(2, 3, 4, { bias: false }), [true, true]);
  });

  it('Linear with a wrong input feature size is a RangeError naming the shapes; the layer still works', () => {
    const m = new nn.Linear(3, 2);
    expectError(() => m.forward(torch.ones(4, 5)), RangeError, 'Linear.forward', 'inFeatures=3', '[4, 5]');
    expectError(() => m.forward(torch.ones(2, 3, 4)), RangeError, 'Linear.forward', '[2, 3, 4]');
    expectError(() => m.forward(torch.tensor(1)), RangeError, 'Linear.forward');
    expectError(() => m.forward([1, 2, 3] as unknown as Tensor), TypeError, 'Linear.forward', 'input');
    expect([...m.forward(torch.ones(4, 3)).shape]).to.deep.equal([4, 2]);
  });

  it('Bilinear with mismatched inputs throws, naming the mismatch', () => {
    const m = new nn.Bilinear(2, 3, 4);
    expect(() => m.forward(torch.ones(5, 3), torch.ones(5, 3))).to.throw(Error, /input1|size/);
    expect(() => m.forward(torch.ones(5, 2), torch.ones(5, 2))).to.throw(Error, /input2|size/);
    expect([...m.forward(torch.ones(5, 2), torch.ones(5, 3)).shape]).to.deep.equal([5, 4]);
  });
});

// =============================================================================================
describe("nn.Embedding: forward and gradients equal PyTorch's", () => {
  it('paddingIdx: the output uses the row, but its gradient stays zero', () => {
    const m = new nn.Embedding(6, 3, { paddingIdx: 1 });
    expect(m.paddingIdx).to.equal(1);
    checkCase('embeddingPad', m, [false]);
    expect(m.weight.grad!.index(1).toArray() as number[]).to.deep.equal([0, 0, 0]);
    // the padding row of a fresh layer is zero
    expect(new nn.Embedding(6, 3, { paddingIdx: 1 }).weight.index(1).toArray()).to.deep.equal([0, 0, 0]);
    expect(new nn.Embedding(6, 3, { paddingIdx: -1 }).paddingIdx).to.equal(5);
  });

  it('scaleGradByFreq scales the gradient by the inverse frequency in the batch', () => {
    checkCase('embeddingScaleGrad', new nn.Embedding(6, 3, { scaleGradByFreq: true }), [false]);
  });

  it('maxNorm renormalises the looked-up rows of the weight in place (L2), as PyTorch', () => {
    const m = new nn.Embedding(6, 3, { maxNorm: 1 });
    const w = m.weight;
    checkCase('embeddingMaxNorm', m, [false]);
    expect(m.weight).to.equal(w);
    expectClose(m.weight, fx.cases['embeddingMaxNorm'].weightAfter!, TOL, 'weight after forward');
    // the referenced rows now have norm <= 1; the others are untouched (norm 3-ish)
    const norms = m.weight.norm(2, 1).toArray() as number[];
    for (const i of [0, 2, 5]) expect(norms[i]).to.be.at.most(1 + 1e-6);
    expect(m.weight.isLeaf).to.equal(true);
    expect(m.weight.requiresGrad).to.equal(true);
  });

  it('maxNorm with normType 1', () => {
    const m = new nn.Embedding(6, 3, { maxNorm: 2, normType: 1 });
    checkCase('embeddingMaxNormL1', m, [false]);
    expectClose(m.weight, fx.cases['embeddingMaxNormL1'].weightAfter!, TOL, 'weight after forward');
  });

  it('indices must be an integer tensor', () => {
    const m = new nn.Embedding(6, 3);
    expectError(() => m.forward(torch.tensor([1.0, 2.0])), TypeError, 'F.embedding', 'float32');
    expect([...m.forward(torch.tensor([1, 2], { dtype: 'int32' })).shape]).to.deep.equal([2, 3]);
    expect([...m.forward(torch.tensor([[1, 2]], { dtype: 'int64' })).shape]).to.deep.equal([1, 2, 3]);
    expect(() => m.forward(torch.tensor([6], { dtype: 'int64' }))).to.throw(Error, /index|range/i);
  });
});

// =============================================================================================
describe("nn.LayerNorm: forward and gradients equal PyTorch's", () => {
  it('with elementwiseAffine (weight and bias grads)', () => {
    checkCase('layerNorm', new nn.LayerNorm(4), [true]);
  });
  it('without elementwiseAffine (no parameters)', () => {
    const m = new nn.LayerNorm(4, { elementwiseAffine: false });
    expect(m.weight).to.equal(null);
    expect(m.bias).to.equal(null);
    expect([...m.parameters()]).to.deep.equal([]);
    checkCase('layerNormNoAffine', m, [true]);
  });
  it('2-D normalizedShape with eps 1e-3', () => {
    const m = new nn.LayerNorm([2, 3], { eps: 1e-3 });
    expect([...m.weight!.shape]).to.deep.equal([2, 3]);
    checkCase('layerNorm2d', m, [true]);
  });

  it('a wrong trailing shape is a RangeError naming both shapes; the layer still works', () => {
    const m = new nn.LayerNorm(4);
    expectError(() => m.forward(torch.ones(3, 5)), RangeError, 'LayerNorm.forward', '[4]', '[3, 5]');
    const m2 = new nn.LayerNorm([2, 3]);
    expectError(() => m2.forward(torch.ones(3)), RangeError, 'LayerNorm.forward', '[2, 3]', '[3]');
    expectError(() => m2.forward(torch.ones(2, 3, 2)), RangeError, 'LayerNorm.forward', '[2, 3]', '[2, 3, 2]');
    expect([...m.forward(torch.ones(3, 4)).shape]).to.deep.equal([3, 4]);
    expect([...m2.forward(torch.ones(5, 2, 3)).shape]).to.deep.equal([5, 2, 3]);
  });
});

// =============================================================================================
describe("activation modules: forward and gradients equal PyTorch's", () => {
  const acts: [string, () => torch.nn.Module][] = [
    ['ReLU', () => new nn.ReLU()],
    ['GELU', () => new nn.GELU()],
    ['GELUTanh', () => new nn.GELU({ approximate: 'tanh' })],
    ['Tanh', () => new nn.Tanh()],
    ['Sigmoid', () => new nn.Sigmoid()],
    ['SiLU', () => new nn.SiLU()],
    ['Softmax', () => new nn.Softmax(1)],
    ['LogSoftmax', () => new nn.LogSoftmax(1)],
    ['Softmax0', () => new nn.Softmax(0)],
    ['LogSoftmaxNeg1', () => new nn.LogSoftmax(-1)],
    ['Identity', () => new nn.Identity()],
  ];
  for (const [name, make] of acts) {
    it(name, () => {
      const m = make();
      expect([...m.parameters()]).to.deep.equal([]);
      checkCase(`act${name}`, m, [true]);
    });
  }

  it('GELU approximations differ (so both are really tested)', () => {
    const a = fx.cases['actGELU'].out.values as number[];
    const b = fx.cases['actGELUTanh'].out.values as number[];
    expect(a.some((v, i) => Math.abs(v - b[i]) > 1e-5)).to.equal(true);
  });

  it('Identity returns its input itself', () => {
    const x = torch.ones(2);
    expect(new nn.Identity().forward(x)).to.equal(x);
  });
});

// =============================================================================================
describe('nn.Dropout', () => {
  const x = () => fromEncoded(fx.dropout.input, { requiresGrad: true });

  it('eval mode is the identity (value and gradient)', () => {
    const m = new nn.Dropout(0.5).eval();
    const xi = x();
    const y = m.forward(xi);
    expect(y.equal(xi)).to.equal(true);
    y.backward(torch.fullLike(y, 3));
    expect(xi.grad!.equal(torch.fullLike(xi, 3))).to.equal(true);
  });

  it('train mode with p = 0 keeps everything; with p = 1 zeroes everything (and the gradient)', () => {
    const xi = x();
    expect(new nn.Dropout(0).forward(xi).equal(xi)).to.equal(true);
    const xj = x();
    const y = new nn.Dropout(1).forward(xj);
    expect(y.abs().sum().item()).to.equal(0);
    y.backward(torch.onesLike(y));
    expect(xj.grad!.abs().sum().item()).to.equal(0);
  });

  it('train mode with p = 0.5: kept values are scaled by 2, the gradient is the mask times 2', () => {
    const xi = torch.randn(64, 64, { requiresGrad: true });
    const y = new nn.Dropout(0.5).forward(xi);
    y.backward(torch.onesLike(y));
    const xv = xi.data() as Float32Array,
      yv = y.data() as Float32Array,
      gv = xi.grad!.data() as Float32Array;
    let kept = 0;
    for (let i = 0; i < xv.length; i++) {
      if (gv[i] === 0) expect(yv[i]).to.equal(0);
      else {
        expect(gv[i]).to.equal(2);
        expect(yv[i]).to.be.closeTo(2 * xv[i], 1e-6);
        kept++;
      }
    }
    expect(kept / xv.length).to.be.within(0.45, 0.55);
  });

  it("after the same manualSeed, the mask is PyTorch's (module and functional form)", () => {
    torch.manualSeed(fx.dropout.seed);
    const m = new nn.Dropout(fx.dropout.p);
    const xi = x();
    const y = m.forward(xi);
    expectClose(y, fx.dropout.out, TOL, 'dropout out');
    y.backward(torch.onesLike(y));
    expectClose(xi.grad!, fx.dropout.grad, TOL, 'dropout grad');
    torch.manualSeed(fx.dropout.functional.seed);
    expectClose(
      F.dropout(fromEncoded(fx.dropout.input), fx.dropout.functional.p, true),
      fx.dropout.functional.out,
      TOL,
    );
  });
});

// =============================================================================================
describe("nn.functional forms equal PyTorch's (values and gradients)", () => {
  function checkFunctional(name: string, fn: (...ts: Tensor[]) => Tensor): void {
    const c = fx.functional[name];
    const ts = c.inputs.map((e) => fromEncoded(e, { requiresGrad: e.dtype.startsWith('float') }));
    const out = fn(...ts);
    expectClose(out, c.out, TOL, `${name} forward`);
    out.backward(fromEncoded(c.gradOut));
    c.grads.forEach((g, i) => {
      if (g === null) return;
      expect(ts[i].grad, `${name} grad ${i}`).to.not.equal(null);
      expectClose(ts[i].grad!, g, TOL, `${name} grad ${i}`);
    });
  }

  it('F.linear with bias', () => {
    checkFunctional('linear', (x, w, b) => F.linear(x, w, b));
  });
  it('F.linear without bias (undefined and null)', () => {
    checkFunctional('linearNoBias', (x, w) => F.linear(x, w));
    checkFunctional('linearNoBias', (x, w) => F.linear(x, w, null));
  });
  it('F.layerNorm with weight, bias, eps', () => {
    checkFunctional('layerNorm', (x, w, b) => F.layerNorm(x, [4], { weight: w, bias: b, eps: 1e-4 }));
  });
  // Expected values below came from PyTorch 1.13.
  it("F.layerNorm(input, normalizedShape, weight, bias, eps) positionally (PyTorch's signature)", () => {
    const x = torch.tensor([
      [1, 2, 4, 7],
      [0.5, -1, 3, 2],
    ]);
    const w = torch.tensor([1, 0.5, 2, -1]),
      b = torch.tensor([0, 1, -1, 0.25]);
    const both = [
      [-1.0808441638946533, 0.675746738910675, -0.567662239074707, -1.2631819248199463],
      [-0.40369871258735657, 0.3137121796607971, 1.4221923351287842, -0.3151782155036926],
    ];
    expectClose(F.layerNorm(x, [4], w, b, 0.1), both);
    expectClose(F.layerNorm(x, [4], w, b, { eps: 0.1 }), both);
    expectClose(F.layerNorm(x, [4], { weight: w, bias: b, eps: 0.1 }), both);
    expectClose(F.layerNorm(x, [4], null, b), [
      [-1.0910884141921997, 0.34534698724746704, -0.7817822694778442, 1.7775238752365112],
      [-0.41239213943481445, -0.40213334560394287, 0.2371765375137329, 0.827349066734314],
    ]);
    expectClose(F.layerNorm(x, [4], w, null, { eps: 0.5 }), [
      [-1.042572021484375, -0.31277158856391907, 0.41702890396118164, -1.4596009254455566],
      [-0.3737175762653351, -0.6353198885917664, 2.2423055171966553, -0.5232046246528625],
    ]);
  });
  it('F.layerNorm positional errors name the argument', () => {
    const x = torch.ones(2, 4),
      w = torch.ones(4);
    expectError(() => F.layerNorm(x, [4], 2 as unknown as Tensor), TypeError, 'F.layerNorm', 'weight');
    expectError(() => F.layerNorm(x, [4], w, 'b' as unknown as Tensor), TypeError, 'F.layerNorm', 'bias');
    expectError(() => F.layerNorm(x, [4], w, w, 'e' as unknown as number), TypeError, 'F.layerNorm', 'eps');
    // a keyword given positionally already: the options object may not repeat it
    expectError(() => F.layerNorm(x, [4], w, { weight: w }), TypeError, 'F.layerNorm', 'weight');
    const more = F.layerNorm as unknown as (...a: unknown[]) => Tensor;
    // an options object only goes last
    expectError(() => more(x, [4], { eps: 0.1 }, w), TypeError, 'F.layerNorm', 'weight');
    expectError(() => more(x, [4], w, w, 0.1, 1), TypeError, 'F.layerNorm', 'at most 5');
  });
  it('F.layerNorm over two dims without affine', () => {
    checkFunctional('layerNormNoAffine', (x) => F.layerNorm(x, [3, 4]));
  });
  it('F.embedding with paddingIdx', () => {
    const idx = fromEncoded(fx.functional['embedding'].index!);
    checkFunctional('embedding', (w) => F.embedding(idx, w, { paddingIdx: 3 }));
  });
  it('F.dropout: training = false is the identity; p = 0 too; p = 1 gives zeros', () => {
    const x = fromEncoded(fx.dropout.input);
    expect(F.dropout(x, 0.5, false).equal(x)).to.equal(true);
    expect(F.dropout(x, 0, true).equal(x)).to.equal(true);
    expect(F.dropout(x, 1, true).abs().sum().item()).to.equal(0);
    // default training is true, as PyTorch's F.dropout
    torch.manualSeed(fx.dropout.functional.seed);
    expectClose(F.dropout(x, fx.dropout.functional.p), fx.dropout.functional.out, TOL);
  });
  it('argument errors name the function', () => {
    const x = torch.ones(2, 3);
    expectError(() => F.linear('x' as unknown as Tensor, x), TypeError, 'F.linear', 'input');
    expectError(() => F.linear(x, 3 as unknown as Tensor), TypeError, 'F.linear', 'weight');
    expectError(() => F.dropout(x, 1.5), RangeError, 'F.dropout', '1.5');
    expectError(() => F.dropout(x, 0.5, 'yes' as unknown as boolean), TypeError, 'F.dropout', 'training');
    expectError(() => F.layerNorm(x, 3 as unknown as number[]), TypeError, 'F.layerNorm', 'normalizedShape');
    expectError(() => F.embedding(torch.tensor([0.5]), x), TypeError, 'F.embedding');
    expectError(
      () => F.embedding(torch.tensor([0], { dtype: 'int64' }), x, { paddingIdx: 2 }),
      RangeError,
      'F.embedding',
      'paddingIdx',
    );
    expectError(() => F.relu(null as unknown as Tensor), TypeError, 'F.relu');
  });
});

// =============================================================================================
describe('layer constructors reject bad arguments', () => {
  it('sizes must be non-negative integers', () => {
    expectError(() => new nn.Linear(-1, 2), RangeError, 'Linear', 'inFeatures');
    expectError(() => new nn.Linear(3, 2.5), RangeError, 'Linear', 'outFeatures');
    expectError(() => new nn.Linear('3' as unknown as number, 2), TypeError, 'Linear', 'inFeatures');
    expectError(() => new nn.Bilinear(2, -3, 4), RangeError, 'Bilinear', 'in2Features');
    expectError(() => new nn.Bilinear(2, 3, 0.5), RangeError, 'Bilinear', 'outFeatures');
    expectError(() => new nn.Embedding(-1, 3), RangeError, 'Embedding', 'numEmbeddings');
    expectError(() => new nn.Embedding(5, 2.5), RangeError, 'Embedding', 'embeddingDim');
    expectError(() => new nn.LayerNorm(-1), RangeError, 'LayerNorm');
    expectError(() => new nn.LayerNorm([2, 1.5]), RangeError, 'LayerNorm', 'normalizedShape[1]');
    expectError(() => new nn.LayerNorm('4' as unknown as number), TypeError, 'LayerNorm', 'normalizedShape');
    expectError(() => new nn.Softmax(1.5), RangeError, 'Softmax', 'dim');
    expectError(() => new nn.LogSoftmax('1' as unknown as number), TypeError, 'LogSoftmax', 'dim');
  });

  it('bad option values throw in the constructor', () => {
    expectError(() => new nn.Linear(2, 2, { bias: 'yes' as unknown as boolean }), TypeError, 'Linear', 'bias');
    expectError(() => new nn.Linear(2, 2, 'x' as unknown as object), TypeError, 'Linear', 'options');
    expectError(() => new nn.Linear(2, 2, { dtype: 'float13' as torch.DType }), TypeError, 'float13');
    expectError(() => new nn.Bilinear(2, 2, 2, { bias: 1 as unknown as boolean }), TypeError, 'Bilinear', 'bias');
    expectError(() => new nn.Embedding(5, 3, { paddingIdx: 5 }), RangeError, 'Embedding', 'paddingIdx');
    expectError(() => new nn.Embedding(5, 3, { paddingIdx: -6 }), RangeError, 'Embedding', 'paddingIdx');
    expectError(() => new nn.Embedding(5, 3, { paddingIdx: 1.5 }), RangeError, 'Embedding', 'paddingIdx');
    expectError(() => new nn.Embedding(5, 3, { maxNorm: 'x' as unknown as number }), TypeError, 'Embedding', 'maxNorm');
    expectError(
      () => new nn.Embedding(5, 3, { scaleGradByFreq: 1 as unknown as boolean }),
      TypeError,
      'Embedding',
      'scaleGradByFreq',
    );
    expectError(() => new nn.Dropout(1.5), RangeError, 'Dropout', '1.5');
    expectError(() => new nn.Dropout(-0.1), RangeError, 'Dropout');
    expectError(() => new nn.Dropout(NaN), RangeError, 'Dropout');
    expectError(() => new nn.Dropout('0.5' as unknown as number), TypeError, 'Dropout', 'p');
    expectError(() => new nn.LayerNorm(4, { eps: 'x' as unknown as number }), TypeError, 'LayerNorm', 'eps');
    expectError(
      () => new nn.LayerNorm(4, { elementwiseAffine: 0 as unknown as boolean }),
      TypeError,
      'LayerNorm',
      'elementwiseAffine',
    );
    expectError(() => new nn.GELU({ approximate: 'fast' as 'tanh' }), TypeError, 'GELU', 'approximate');
  });

  it('dtype option: parameters are created in that dtype', () => {
    expect(new nn.Linear(2, 2, { dtype: 'float64' }).weight.dtype).to.equal('float64');
    expect(new nn.Bilinear(2, 2, 2, { dtype: 'float64' }).bias!.dtype).to.equal('float64');
    expect(new nn.Embedding(3, 2, { dtype: 'float64' }).weight.dtype).to.equal('float64');
    expect(new nn.LayerNorm(2, { dtype: 'float64' }).weight!.dtype).to.equal('float64');
  });

  it('zero-sized layers that PyTorch allows: Linear(3, 0), Embedding(0, 3), LayerNorm(0)', () => {
    expect([...new nn.Linear(3, 0).weight.shape]).to.deep.equal([0, 3]);
    expect([...new nn.Embedding(0, 3).weight.shape]).to.deep.equal([0, 3]);
    expect([...new nn.LayerNorm(0).weight!.shape]).to.deep.equal([0]);
  });

  // FIXED (was a bug): new nn.Linear(0, 3) throws TorchError "from is out of bounds for float" (lib/nn/init.ts
  // kaimingUniform_ computes bound = gain / sqrt(fanIn = 0) = Infinity and calls
  // uniform_(-Infinity, Infinity)). PyTorch's kaiming_uniform_ returns early for zero-element
  // tensors ("Initializing zero-element tensors is a no-op"), so nn.Linear(0, 3) works there
  // (weight shape [3, 0], bias U(0, 0)). Same for nn.init.kaimingNormal_/kaimingUniform_ on
  // any zero-element tensor with fanIn 0.
  it('Linear(0, 3) constructs (PyTorch: zero-element init is a no-op)', () => {
    const m = new nn.Linear(0, 3);
    expect([...m.weight.shape]).to.deep.equal([3, 0]);
    expect(m.forward(torch.ones(2, 0)).toArray()).to.deep.equal(m.bias!.expand(2, 3).toArray());
  });

  // FIXED (was a bug): LayerNorm.forward (lib/nn/modules/normalization.ts) given a non-tensor reports a
  // shape problem, RangeError "LayerNorm.forward: expected input with trailing shape [4], got []",
  // instead of the TypeError naming the argument that Linear.forward gives ("expected input to
  // be a Tensor"). Likewise new nn.GELU(null) throws the engine's "Cannot read properties of
  // null (reading 'approximate')" instead of a TypeError naming GELU (no checkOptions).
  it('non-tensor input to LayerNorm.forward and null options to GELU are TypeErrors naming them', () => {
    expectError(
      () => new nn.LayerNorm(4).forward([1, 2, 3, 4] as unknown as Tensor),
      TypeError,
      'LayerNorm.forward',
      'input',
    );
    expectError(() => new nn.GELU(null as unknown as object), TypeError, 'GELU');
  });

  // FIXED (was a bug; project-wide convention, reported for nn): unknown option keys are ignored, so a typo
  // or PyTorch's spelling silently does nothing: new nn.Embedding(5, 3, { padding_idx: 0 })
  // builds an Embedding without padding, new nn.Linear(2, 2, { biass: false }) keeps the bias.
  // PyTorch raises TypeError("__init__() got an unexpected keyword argument 'padding_idx'").
  it('unknown option keys throw (PyTorch: unexpected keyword argument)', () => {
    expect(() => new nn.Linear(2, 2, { biass: false } as object)).to.throw(TypeError, /biass/);
    expect(() => new nn.Embedding(5, 3, { padding_idx: 0 } as object)).to.throw(TypeError, /padding_idx/);
    expect(() => new nn.LayerNorm(4, { elementwise_affine: false } as object)).to.throw(
      TypeError,
      /elementwise_affine/,
    );
  });

  it('an unknown option names the class and the key, lists the known ones, and suggests the camelCase spelling', () => {
    expectError(
      () => new nn.Embedding(5, 3, { padding_idx: 0 } as object),
      TypeError,
      "Embedding: unknown option 'padding_idx', did you mean 'paddingIdx'?",
      'known: paddingIdx, maxNorm, normType, scaleGradByFreq, sparse, dtype, device',
    );
    const err = expectError(
      () => new nn.Linear(2, 2, { biass: false } as object),
      TypeError,
      "Linear: unknown option 'biass'",
      'known: bias, dtype, device',
    );
    expect(err.message).to.not.match(/did you mean/);
    expectError(
      () => new nn.Bilinear(2, 2, 2, { Bias: false } as object),
      TypeError,
      'Bilinear',
      "'Bias', did you mean 'bias'?",
    );
    expectError(() => new nn.GELU({ approx: 'tanh' } as object), TypeError, 'GELU', "'approx'");
    expectError(
      () => new nn.MultiheadAttention(4, 2, { batch_first: true } as object),
      TypeError,
      'MultiheadAttention',
      "did you mean 'batchFirst'?",
    );
    const mha = new nn.MultiheadAttention(4, 2);
    const q = torch.zeros(3, 1, 4);
    expectError(
      () => mha.forward(q, q, q, { key_padding_mask: null } as object),
      TypeError,
      'MultiheadAttention.forward',
      "did you mean 'keyPaddingMask'?",
    );
    expectError(
      () => new nn.CrossEntropyLoss({ label_smoothing: 0.1 } as object),
      TypeError,
      'CrossEntropyLoss',
      "did you mean 'labelSmoothing'?",
    );
    expectError(() => new nn.NLLLoss({ size_average: true } as object), TypeError, 'NLLLoss', "'size_average'");
    expectError(
      () => new nn.MSELoss({ reduce: false } as object),
      TypeError,
      'MSELoss',
      "'reduce'",
      'known: reduction',
    );
    expectError(
      () => new nn.SmoothL1Loss({ delta: 1 } as object),
      TypeError,
      'SmoothL1Loss',
      "'delta'",
      'known: reduction, beta',
    );
    expectError(
      () => new nn.BCEWithLogitsLoss({ pos_weight: null } as object),
      TypeError,
      'BCEWithLogitsLoss',
      "did you mean 'posWeight'?",
    );
    expectError(
      () => new nn.KLDivLoss({ log_target: true } as object),
      TypeError,
      'KLDivLoss',
      "did you mean 'logTarget'?",
    );
    expectError(
      () => F.layerNorm(torch.ones(2, 2), [2], { epsilon: 1e-3 } as object),
      TypeError,
      'F.layerNorm',
      "'epsilon'",
    );
    expectError(
      () => F.embedding(torch.tensor([0n]), torch.ones(2, 2), { padding_idx: 0 } as object),
      TypeError,
      'F.embedding',
      "did you mean 'paddingIdx'?",
    );
    expectError(
      () => F.gelu(torch.ones(2), { approximation: 'tanh' } as object),
      TypeError,
      'F.gelu',
      "'approximation'",
    );
    expectError(
      () => F.scaledDotProductAttention(q, q, q, { is_causal: true } as object),
      TypeError,
      'F.scaledDotProductAttention',
      "did you mean 'isCausal'?",
    );
    expectError(
      () => nn.init.kaimingUniform_(torch.empty(2, 2), { nonLinearity: 'relu' } as object),
      TypeError,
      'nn.init.kaimingUniform_',
      "'nonLinearity'",
    );
    // every known key still works
    expect(
      new nn.Embedding(5, 3, {
        paddingIdx: 0,
        maxNorm: null,
        normType: 2,
        scaleGradByFreq: false,
        sparse: false,
        dtype: 'float32',
        device: 'cpu',
      }).paddingIdx,
    ).to.equal(0);
    expect(
      new nn.MultiheadAttention(4, 2, {
        dropout: 0,
        bias: true,
        addBiasKv: false,
        addZeroAttn: false,
        kdim: 4,
        vdim: 4,
        batchFirst: false,
        dtype: 'float32',
        device: 'cpu',
      }).embedDim,
    ).to.equal(4);
    expect(
      new nn.CrossEntropyLoss({ weight: null, ignoreIndex: -100, reduction: 'sum', labelSmoothing: 0 }).reduction,
    ).to.equal('sum');
  });
});
