// Regression tests for what the fuzzer found (test/fuzz/fuzz.js).

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect } from 'chai';
import * as torch from '../../lib';
import { gc, MAX_PEAK_GROWTH, peakRssGrowth } from '../helpers';

const { nn } = torch;
const lib = path.join(process.cwd(), 'dist-test/lib');

describe('fuzzer regressions', () => {
  it('GC-time frees never abort V8 (tensors left to the GC in a tight loop; nn.Transformer())', function () {
    this.timeout(120000);
    const code = `const torch = require(${JSON.stringify(lib)});
      for (let k = 0; k < 2000; k++) { torch.zeros([1 << 20]); torch.zeros([1 << 10]); }
      new torch.nn.Transformer({ dModel: 64, nhead: 4, dimFeedforward: 128 });
      console.log('ok');`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', timeout: 110000 });
    expect(r.status, `child exited with ${r.status} (signal ${r.signal}):\n${r.stderr}`).to.equal(0);
    expect(r.stdout.trim()).to.equal('ok');
  });

  it('absurd layer counts are refused before anything is allocated (they used to hang)', function () {
    this.timeout(60000); // a regression (building 1e12 layers) shows up as this timeout, not a flaky time limit
    gc();
    const before = torch.memory();
    const growth = peakRssGrowth(() => {
      expect(() => new nn.GRU(2, 2, 1e12)).to.throw(RangeError, /GRU: .*(numLayers|memory)/);
      expect(() => new nn.LSTM(2, 2, { numLayers: 2 ** 31 })).to.throw(RangeError, /LSTM/);
      expect(() => new nn.RNN(2, 2, 1e12)).to.throw(RangeError, /RNN/);
    });
    // refused up front: not one layer's parameters were made (and none left behind)
    expect(torch.memory().tensors, 'no parameter tensor was created').to.equal(before.tensors);
    expect(torch.memory().bytes).to.equal(before.bytes);
    expect(growth, 'peak memory growth').to.be.below(MAX_PEAK_GROWTH);
    const layer = new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8 });
    const withLayer = torch.memory();
    const growth2 = peakRssGrowth(() => {
      expect(() => new nn.TransformerEncoder(layer, 1e12)).to.throw(RangeError, /TransformerEncoder: numLayers/);
      // not one clone of `layer` was made
      expect(torch.memory(), 'TransformerEncoder refused before cloning').to.deep.equal(withLayer);
      expect(() => new nn.Transformer({ dModel: 4, nhead: 2, dimFeedforward: 8, numEncoderLayers: 1e12 })).to.throw(
        RangeError,
        /numLayers/,
      );
    });
    // nn.Transformer builds its one template layer (28 small tensors, garbage now) before refusing
    // the copies: bound what it made to that, rather than 1e12 layers' worth
    expect(torch.memory().tensors - withLayer.tensors, 'tensors made by the refused nn.Transformer').to.be.at.most(64);
    expect(growth2, 'peak memory growth').to.be.below(MAX_PEAK_GROWTH);
  });

  it('new Tensor(...) accepts only native handles; a guessed number does not alias a live tensor', () => {
    const x = torch.ones(3);
    for (const h of [{}, -1, 1.5, null, 'x', [] as unknown])
      expect(() => new torch.Tensor(h as never)).to.throw(TypeError, /not with new Tensor/);
    for (let i = 0; i < 64; i++) {
      try {
        new torch.Tensor(i as never).dispose();
      } catch {
        /* not a handle */
      }
    }
    expect(x.isDisposed).to.equal(false);
    expect(x.sum().item()).to.equal(3);
  });

  it('argument mistakes the fuzzer hit are TypeErrors naming the function', () => {
    const lin = new nn.Linear(3, 4);
    const cases: [() => unknown, RegExp][] = [
      [() => new nn.ModuleList(5 as never), /ModuleList/],
      [() => new (nn.RNNBase as never as new () => unknown)(), /RNNBase is abstract/],
      [() => new (nn.SingleStateRNN as never as new () => unknown)(), /SingleStateRNN is abstract/],
      [() => new (nn.RNNCellBase as never as new () => unknown)(), /RNNCellBase is abstract/],
      [() => nn.masks.findFullyMasked(1 as never), /findFullyMasked/],
      [() => nn.init.xavierNormal_(torch.ones(3, 4), 1n as never), /xavierNormal_/],
      [() => lin.loadStateDict({}, null as never), /Module.loadStateDict/],
      [() => lin.zeroGrad(null as never), /Module.zeroGrad/],
      [() => nn.functional.mseLoss(torch.ones(2), torch.ones(2), null as never), /F.mseLoss/],
      // a stray second constructor argument used to reach the options check as its list of keys
      [
        () => new (nn.MSELoss as never as new (...a: unknown[]) => unknown)(new nn.LayerNorm(4), [2 ** 40, 1]),
        /MSELoss: unknown option 'weight' \(known: reduction\)/,
      ],
      [() => new nn.ModuleDict(5 as never), /ModuleDict: expected a Map or an object of modules, got the number 5/],
    ];
    for (const [f, re] of cases) expect(f).to.throw(TypeError, re);
    // ModuleDict(null) is PyTorch's ModuleDict(None): empty (it threw "Cannot convert undefined or null")
    expect(new nn.ModuleDict(null).keys()).to.deep.equal([]);
    expect(lin.forward(torch.ones(2, 3)).shape).to.deep.equal([2, 4]);
  });

  it('a TorchError made from a non-string message still has a message', () => {
    const e = new torch.TorchError(Object.create(null) as never);
    expect(e).to.be.instanceOf(Error);
    expect(e.message).to.be.a('string').and.not.equal('');
  });
});
