// A handle to a leaf's .grad taken before backwardAsync (`const g = w.grad`) shares the storage
// that the backward accumulates into (or reads) on the pool thread. Writes through it used to
// race silently (8-16 lost updates per run); now the storage is marked written while the backward
// runs, so any use of such a handle is refused until it settles.
import { expect } from 'chai';

import * as torch from '../../lib';

const { nn } = torch;
const IN_USE = /in use by an async operation/;

describe('backwardAsync: existing .grad tensors are marked as written', () => {
  it('a .grad handle taken before is refused (write and read) while the backward runs; free after', async () => {
    torch.manualSeed(4);
    const lstm = new nn.LSTM(32, 64, { numLayers: 2 });
    const x = torch.randn(200, 8, 32);
    lstm.forward(x)[0].sum().backward(); // every leaf has a .grad now
    const w = [...lstm.parameters()][0];
    const g = w.grad!; // a handle to that grad tensor
    const view = g.view(-1);
    const before = g.clone();
    const loss = lstm.forward(x)[0].square().mean();
    const p = loss.backwardAsync(); // hundreds of ms on the pool
    expect(() => g.add_(1)).to.throw(Error, IN_USE);
    expect(() => view.zero_()).to.throw(Error, IN_USE);
    expect(() => g.sum()).to.throw(Error, IN_USE); // written: reads are refused too
    expect(g.shape).to.deep.equal(w.shape); // metadata stays readable
    await p;
    // settled: the accumulation happened exactly once, and the handle is free again
    const twin = new nn.LSTM(32, 64, { numLayers: 2 });
    twin.loadStateDict(lstm.stateDict());
    twin.forward(x)[0].square().mean().backward();
    const expected = before.add([...twin.parameters()][0].grad!);
    expect(w.grad!.allclose(expected, { rtol: 1e-5, atol: 1e-6 })).to.equal(true);
    g.add_(0);
  });

  it('without existing grads nothing is marked: a first backwardAsync leaves other tensors alone', async () => {
    const lin = new nn.Linear(4, 3);
    const other = torch.ones(3);
    const p = lin.forward(torch.randn(2, 4)).sum().backwardAsync();
    other.add_(1);
    await p;
    expect([...lin.parameters()].every((q) => q.grad !== null)).to.equal(true);
  });
});
