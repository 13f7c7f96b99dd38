// libtorch 2.6's oneDNN convolution backward gives wrong input gradients for dilated convolutions
// on some AVX-512 CPUs (PyTorch 2.6 itself computes the same wrong numbers; they are right with
// torch.backends.mkldnn.enabled = False). lib/backends.ts checks before the first convolution and
// turns oneDNN off where it disagrees. These tests hold on every machine: they compare with a
// float64 convolution (which never runs oneDNN) and say which kernel ran.
import { expect } from 'chai';

import * as torch from '../../lib';

const F = torch.nn.functional;

function dilatedGrads(dtype: 'float32' | 'float64'): { grads: number[]; ops: string[] } {
  return torch.tidy(() => {
    const x = torch
      .arange(2 * 3 * 6 * 7, { dtype })
      .reshape(2, 3, 6, 7)
      .mul(0.37)
      .sin()
      .requiresGrad_(true);
    const w = torch
      .arange(4 * 3 * 3 * 2, { dtype })
      .reshape(4, 3, 3, 2)
      .mul(0.11)
      .cos()
      .requiresGrad_(true);
    const { ops } = torch.profiler.recordOps(() => {
      const y = F.conv2d(x, w, null, [2, 1], [1, 0], [1, 2]);
      y.mul(y.detach().cos()).sum().backward();
    });
    const grads = [
      ...(x.grad!.toArray() as unknown as number[]).flat(4),
      ...(w.grad!.toArray() as unknown as number[]).flat(4),
    ];
    return { grads: grads as never, ops: ops as never };
  }) as unknown as { grads: number[]; ops: string[] };
}

describe('convolution gradients on this CPU (the oneDNN self-check)', () => {
  it('a dilated, strided conv2d backward equals the float64 one, whichever kernel ran', () => {
    const f32 = dilatedGrads('float32');
    const f64 = dilatedGrads('float64');
    let max = 0;
    for (let i = 0; i < f64.grads.length; i++) max = Math.max(max, Math.abs(f32.grads[i] - f64.grads[i]));
    const oneDnn = f32.ops.includes('aten::mkldnn_convolution');
    expect(max, `max |float32 - float64| (oneDNN kernel ran: ${oneDnn})`).to.be.below(1e-4);
  });
  it('selfCheck() reports, and a failing check left oneDNN off', () => {
    const c = torch.backends.conv.selfCheck();
    expect(c.libtorchVersion).to.equal(torch.libtorchVersion);
    expect(typeof c.maxAbsDiff).to.equal('number');
    if (!c.ok) expect(torch.backends.mkldnn.isEnabled()).to.equal(false);
  });
  it('torch.backends.mkldnn.setEnabled checks its argument and round-trips', () => {
    const was = torch.backends.mkldnn.isEnabled();
    try {
      torch.backends.mkldnn.setEnabled(false);
      expect(torch.backends.mkldnn.isEnabled()).to.equal(false);
    } finally {
      torch.backends.mkldnn.setEnabled(was);
    }
    expect(() => torch.backends.mkldnn.setEnabled('no' as unknown as boolean)).to.throw(
      TypeError,
      /expected a boolean/,
    );
  });
});
