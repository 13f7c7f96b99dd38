// Gradient clipping (nn.utils.clipGradNorm_ / clipGradValue_) against PyTorch 1.13
// (test/fixtures/optim.json, "clipGrad"): the returned total norm and the clipped gradients for
// norms 2, 1, 3 and inf, parameters without gradients, non-finite gradients with and without
// errorIfNonfinite, and clipping by value.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { type Encoded, expectClose, expectError, fromEncoded } from '../helpers';

interface ClipCase {
  name: string;
  fn: 'norm' | 'value';
  grads: (Encoded | null)[];
  maxNorm?: number;
  normType?: number | 'inf';
  errorIfNonfinite?: boolean;
  clipValue?: number;
  norm?: Encoded;
  error?: boolean;
  clipped: (Encoded | null)[];
}

const fx = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'test', 'fixtures', 'optim.json'), 'utf8')) as {
  clipGrad: ClipCase[];
};
const TOL = { rtol: 1e-5, atol: 1e-6 };
const { clipGradNorm_, clipGradValue_ } = torch.nn.utils;

function paramsWithGrads(c: ClipCase): torch.nn.Parameter[] {
  const shapeOf = (e: Encoded | null) => (e ?? c.grads.find((g) => g !== null)!).shape;
  return c.grads.map((g) => {
    const p = new torch.nn.Parameter(torch.zeros(shapeOf(g)));
    if (g !== null) {
      const t = fromEncoded(g);
      p.grad = t;
      t.dispose();
    }
    return p;
  });
}

function expectGrads(params: torch.nn.Parameter[], want: (Encoded | null)[], what: string): void {
  params.forEach((p, i) => {
    const g = p.grad;
    if (want[i] === null) {
      expect(g, `${what} grad ${i}`).to.equal(null);
    } else {
      expectClose(g!, want[i]!, TOL, `${what} grad ${i}`);
      g!.dispose();
    }
  });
}

describe('nn.utils clip_grad against PyTorch 1.13', () => {
  it('the fixture has all 13 cases', () => {
    expect(fx.clipGrad).to.have.length(13);
  });

  for (const c of fx.clipGrad) {
    it(c.name, () => {
      const params = paramsWithGrads(c);
      if (c.fn === 'value') {
        clipGradValue_(params, c.clipValue!);
        expectGrads(params, c.clipped, 'clipped');
        return;
      }
      const opts = {
        normType: c.normType === 'inf' ? Infinity : c.normType,
        errorIfNonfinite: c.errorIfNonfinite,
      };
      if (c.error) {
        expectError(() => clipGradNorm_(params, c.maxNorm!, opts), torch.TorchError, 'non-finite', 'errorIfNonfinite');
        // nothing was scaled
        expectGrads(params, c.grads, 'unchanged');
        return;
      }
      const norm = clipGradNorm_(params, c.maxNorm!, opts);
      expectClose(norm, c.norm!, TOL, 'total norm');
      norm.dispose();
      expectGrads(params, c.clipped, 'clipped');
    });
  }

  it('accepts a single tensor and returns a 0-dim tensor (0 when no gradients)', () => {
    const p = new torch.nn.Parameter(torch.tensor([3, 4]));
    const none = clipGradNorm_(p, 1);
    expect(none.dim()).to.equal(0);
    expect(none.item()).to.equal(0);
    const g = torch.tensor([3, 4]);
    p.grad = g;
    const n = clipGradNorm_(p, 1);
    expect(n.item()).to.be.closeTo(5, 1e-6);
    expectClose(p.grad!, [0.6, 0.8], TOL, 'scaled');
    clipGradValue_(p, 0.7);
    expectClose(p.grad!, [0.6, 0.7], TOL, 'clamped');
  });

  it('argument errors name the function and argument', () => {
    const p = new torch.nn.Parameter(torch.ones([2]));
    expectError(() => clipGradNorm_(p, '1' as unknown as number), TypeError, 'clipGradNorm_', 'maxNorm');
    // options: an object with known keys (null used to throw a bare "Cannot read properties of null")
    expectError(() => clipGradNorm_(p, 1, null as never), TypeError, 'clipGradNorm_', 'options object');
    expectError(() => clipGradNorm_(p, 1, { norm_type: 2 } as never), TypeError, 'clipGradNorm_', "'normType'");
    expectError(
      () => clipGradNorm_(p, 1, { normType: 'inf' as unknown as number }),
      TypeError,
      'clipGradNorm_',
      'normType',
    );
    expectError(
      () => clipGradNorm_(p, 1, { errorIfNonfinite: 1 as unknown as boolean }),
      TypeError,
      'clipGradNorm_',
      'errorIfNonfinite',
    );
    expectError(() => clipGradNorm_(5 as unknown as torch.Tensor, 1), TypeError, 'clipGradNorm_', 'parameters');
    expectError(
      () => clipGradNorm_([p, 'x' as unknown as torch.Tensor], 1),
      TypeError,
      'clipGradNorm_',
      'parameters[1]',
    );
    expectError(() => clipGradValue_(p, null as unknown as number), TypeError, 'clipGradValue_', 'clipValue');
  });

  it('leaves no tensors behind inside tidy', () => {
    const params = [new torch.nn.Parameter(torch.ones([3])), new torch.nn.Parameter(torch.ones([2, 2]))];
    for (const p of params) {
      const g = torch.full(p.shape as number[], 2);
      p.grad = g;
      g.dispose();
    }
    const before = torch.memory().tensors;
    for (let i = 0; i < 20; i++)
      torch.tidy(() => {
        clipGradNorm_(params, 1, { normType: 1 });
        clipGradValue_(params, 0.5);
      });
    expect(torch.memory().tensors).to.equal(before);
  });
});
