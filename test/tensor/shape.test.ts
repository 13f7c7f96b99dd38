import { expect } from 'chai';

import * as torch from '../../lib';
import {
  describeSpec,
  expectClose,
  expectError,
  expectExact,
  fixture,
  fromEncoded,
  indexItems,
  input,
  output,
  outputs,
} from '../helpers';

describe('shape', () => {
  // X = arange(24).reshape(2, 3, 4) (float32); Y has shape (1, 3, 1, 2)
  const X = input('X'),
    Y = input('Y'),
    a = input('a'),
    b = input('b'),
    c = input('c'),
    col = input('col');

  describe('matches PyTorch (fixture)', () => {
    const cases: [string, () => torch.Tensor][] = [
      ['shape.reshape_4_m1', () => X.reshape(4, -1)],
      ['shape.view_6_4', () => X.view([6, 4])],
      ['shape.flatten', () => X.flatten()],
      ['shape.flatten_1', () => X.flatten(1)],
      ['shape.flatten_0_1', () => X.flatten(0, 1)],
      ['shape.squeeze', () => Y.squeeze()],
      ['shape.squeeze_2', () => Y.squeeze(2)],
      ['shape.squeeze_1_noop', () => Y.squeeze(1)],
      ['shape.unsqueeze_0', () => X.unsqueeze(0)],
      ['shape.unsqueeze_m1', () => X.unsqueeze(-1)],
      ['shape.permute_2_0_1', () => X.permute(2, 0, 1)],
      ['shape.transpose_0_2', () => X.transpose(0, 2)],
      ['shape.t', () => a.t()],
      ['shape.expand_col', () => col.expand(3, 4)],
      ['shape.expand_m1', () => Y.expand([2, -1, 3, -1])],
      ['shape.narrow_2_1_2', () => X.narrow(2, 1, 2)],
      ['shape.select_1_m1', () => X.select(1, -1)],
      ['shape.index_select_2', () => X.indexSelect(2, torch.tensor([3n, 0n, 3n]))],
      ['shape.gather_2', () => X.gather(2, input('gidx'))],
      ['shape.cat_0', () => torch.cat([X, X.mul(10)], 0)],
      ['shape.cat_m1', () => torch.cat([a, b, a], -1)],
      ['shape.stack_0', () => torch.stack([a, b])],
      ['shape.stack_2', () => torch.stack([a, b, c.expand(3, 4)], 2)],
    ];
    for (const [name, f] of cases) {
      it(name.slice(6), () => expectClose(f(), output(name), { rtol: 0, atol: 0 }, name));
    }

    const lists: [string, () => torch.Tensor[]][] = [
      ['shape.chunk_3_2', () => X.chunk(3, 2)],
      ['shape.chunk_2_1', () => X.chunk(2, 1)],
      ['shape.split_2_2', () => X.split(2, 2)],
      ['shape.split_1_2_d1', () => X.split([1, 2], 1)],
    ];
    for (const [name, f] of lists) {
      it(name.slice(6), () => {
        const got = f();
        const want = outputs(name);
        expect(got.length).to.equal(want.length);
        got.forEach((t, i) => expectClose(t, want[i], { rtol: 0, atol: 0 }, `${name}[${i}]`));
      });
    }

    it('torch.* functions equal the methods', () => {
      expectClose(torch.reshape(X, [4, -1]), output('shape.reshape_4_m1'));
      expectClose(torch.flatten(X, 1), output('shape.flatten_1'));
      expectClose(torch.squeeze(Y, 2), output('shape.squeeze_2'));
      expectClose(torch.unsqueeze(X, -1), output('shape.unsqueeze_m1'));
      expectClose(torch.permute(X, [2, 0, 1]), output('shape.permute_2_0_1'));
      expectClose(torch.transpose(X, 0, 2), output('shape.transpose_0_2'));
      expectClose(torch.narrow(X, 2, 1, 2), output('shape.narrow_2_1_2'));
      expectClose(torch.select(X, 1, -1), output('shape.select_1_m1'));
      expectClose(torch.indexSelect(X, 2, torch.tensor([3n, 0n, 3n])), output('shape.index_select_2'));
      expectClose(torch.gather(X, 2, input('gidx')), output('shape.gather_2'));
      expect(torch.chunk(X, 3, 2).length).to.equal(2);
      expect(torch.split(X, 2, 2).length).to.equal(2);
    });
  });

  describe('index() matches PyTorch x[...]', () => {
    // (a 0-dim bool index tensor, X[torch.tensor(True)], is a new axis of size 1, or 0 for False)
    it('the fixture has all 43 index cases', () => {
      expect(fixture().index).to.have.length(43);
    });

    for (const c of fixture().index) {
      it(`${c.input}${describeSpec(c.spec)}`, () => {
        const t = input(c.input);
        expectClose(t.index(...indexItems(c.spec)), c.out, { rtol: 0, atol: 0 });
      });
    }
  });

  describe('by hand', () => {
    it('reshape / view with -1, and view shares storage', () => {
      const x = torch.arange(6);
      expectExact(
        x.reshape(2, 3),
        [
          [0, 1, 2],
          [3, 4, 5],
        ],
        'int64',
      );
      expectExact(x.reshape([3, -1]), [
        [0, 1],
        [2, 3],
        [4, 5],
      ]);
      expectExact(x.view(-1, 1, 2).flatten(), [0, 1, 2, 3, 4, 5]);
      expectExact(torch.tensor([5]).reshape([]), 5);
      expect(torch.tensor([5]).reshape([]).shape).to.deep.equal([]);
      const v = x.view(2, 3);
      v.index(0, 0).fill_(100);
      expect((x.toArray() as number[])[0]).to.equal(100);
      // reshape of a non-contiguous tensor copies; view refuses
      const tr = torch.arange(6).reshape(2, 3).t();
      expectExact(tr.reshape(6), [0, 3, 1, 4, 2, 5]);
      expect(() => tr.view(6)).to.throw(torch.TorchError);
    });

    it('flatten / squeeze / unsqueeze', () => {
      const x = torch.zeros(2, 1, 3, 1);
      expect(x.flatten().shape).to.deep.equal([6]);
      expect(x.flatten(1, 2).shape).to.deep.equal([2, 3, 1]);
      expect(x.squeeze().shape).to.deep.equal([2, 3]);
      expect(x.squeeze(1).shape).to.deep.equal([2, 3, 1]);
      expect(x.squeeze(-1).shape).to.deep.equal([2, 1, 3]);
      expect(x.squeeze(0).shape).to.deep.equal([2, 1, 3, 1]);
      expect(x.unsqueeze(0).shape).to.deep.equal([1, 2, 1, 3, 1]);
      expect(x.unsqueeze(4).shape).to.deep.equal([2, 1, 3, 1, 1]);
      expect(x.unsqueeze(-1).shape).to.deep.equal([2, 1, 3, 1, 1]);
      expect(torch.tensor(3).flatten().shape).to.deep.equal([1]);
    });

    it('permute / transpose / t / T, and contiguous', () => {
      const x = torch.arange(6).reshape(2, 3);
      const t = x.t();
      expectExact(t, [
        [0, 3],
        [1, 4],
        [2, 5],
      ]);
      expect(t.isContiguous()).to.equal(false);
      expect(t.stride()).to.deep.equal([1, 3]);
      const cont = t.contiguous();
      expect(cont.isContiguous()).to.equal(true);
      expect(cont.stride()).to.deep.equal([2, 1]);
      expectExact(cont, [
        [0, 3],
        [1, 4],
        [2, 5],
      ]);
      expectExact(x.transpose(0, 1), [
        [0, 3],
        [1, 4],
        [2, 5],
      ]);
      expectExact(x.transpose(-1, -2), [
        [0, 3],
        [1, 4],
        [2, 5],
      ]);
      expectExact(x.permute([1, 0]), [
        [0, 3],
        [1, 4],
        [2, 5],
      ]);
      expectExact(x.T, [
        [0, 3],
        [1, 4],
        [2, 5],
      ]);
      expect(X.permute(1, 2, 0).shape).to.deep.equal([3, 4, 2]);
      expect(torch.arange(3).t().shape).to.deep.equal([3]);
      // contiguous of a contiguous tensor is the same data
      expectExact(x.contiguous(), [
        [0, 1, 2],
        [3, 4, 5],
      ]);
    });

    it('expand / expandAs make views with stride 0', () => {
      const x = torch.tensor([[1], [2]]);
      const e = x.expand(2, 3);
      expectExact(e, [
        [1, 1, 1],
        [2, 2, 2],
      ]);
      expect(e.stride()).to.deep.equal([1, 0]);
      expectExact(x.expand(2, 2, -1), [
        [[1], [2]],
        [[1], [2]],
      ]);
      expectExact(x.expandAs(torch.zeros(2, 2)), [
        [1, 1],
        [2, 2],
      ]);
      x.add_(10);
      expectExact(e, [
        [11, 11, 11],
        [12, 12, 12],
      ]);
    });

    it('narrow / select / slice are views', () => {
      const x = torch.arange(12).reshape(3, 4);
      expectExact(x.narrow(0, 1, 2), [
        [4, 5, 6, 7],
        [8, 9, 10, 11],
      ]);
      expectExact(x.narrow(1, -2, 2), [
        [2, 3],
        [6, 7],
        [10, 11],
      ]);
      expectExact(x.select(0, 1), [4, 5, 6, 7]);
      expectExact(x.select(1, -1), [3, 7, 11]);
      expectExact(x.slice(1, 1, null, 2), [
        [1, 3],
        [5, 7],
        [9, 11],
      ]);
      expectExact(x.slice(0, null, 2), [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
      ]);
      x.narrow(0, 0, 1).fill_(0);
      expectExact(x.select(0, 0), [0, 0, 0, 0]);
    });

    it('indexSelect / gather', () => {
      const x = torch.tensor([
        [1, 2],
        [3, 4],
        [5, 6],
      ]);
      expectExact(x.indexSelect(0, torch.tensor([2n, 0n])), [
        [5, 6],
        [1, 2],
      ]);
      expectExact(x.indexSelect(1, torch.tensor([1], { dtype: 'int64' })), [[2], [4], [6]]);
      expectExact(
        x.gather(
          1,
          torch.tensor([
            [1n, 0n],
            [0n, 0n],
            [1n, 1n],
          ]),
        ),
        [
          [2, 1],
          [3, 3],
          [6, 6],
        ],
      );
      expectExact(x.gather(0, torch.tensor([[2n, 0n]])), [[5, 2]]);
    });

    it('chunk / split / unbind', () => {
      const x = torch.arange(5);
      const ch = x.chunk(2);
      expect(ch.map((t) => t.toArray())).to.deep.equal([
        [0, 1, 2],
        [3, 4],
      ]);
      expect(x.chunk(5).map((t) => t.toArray())).to.deep.equal([[0], [1], [2], [3], [4]]);
      expect(x.chunk(10).length).to.equal(5);
      expect(x.split(2).map((t) => t.toArray())).to.deep.equal([[0, 1], [2, 3], [4]]);
      expect(x.split([1, 4]).map((t) => t.toArray())).to.deep.equal([[0], [1, 2, 3, 4]]);
      const m = torch.arange(6).reshape(2, 3);
      expect(m.split(1, 1).map((t) => t.toArray())).to.deep.equal([
        [[0], [3]],
        [[1], [4]],
        [[2], [5]],
      ]);
      expect(m.unbind().map((t) => t.toArray())).to.deep.equal([
        [0, 1, 2],
        [3, 4, 5],
      ]);
      expect(m.unbind(1).map((t) => t.toArray())).to.deep.equal([
        [0, 3],
        [1, 4],
        [2, 5],
      ]);
      // chunks are views
      ch[0].fill_(9);
      expectExact(x, [9, 9, 9, 3, 4]);
    });

    it('torch.cat / torch.stack', () => {
      const p = torch.tensor([[1, 2]]),
        q = torch.tensor([
          [3, 4],
          [5, 6],
        ]);
      expectExact(torch.cat([p, q]), [
        [1, 2],
        [3, 4],
        [5, 6],
      ]);
      expectExact(torch.cat([q, q], 1), [
        [3, 4, 3, 4],
        [5, 6, 5, 6],
      ]);
      expectExact(torch.cat([q]), [
        [3, 4],
        [5, 6],
      ]);
      expectExact(torch.stack([p, p]), [[[1, 2]], [[1, 2]]]);
      expectExact(torch.stack([torch.tensor([1, 2]), torch.tensor([3, 4])], 1), [
        [1, 3],
        [2, 4],
      ]);
      expectExact(torch.stack([torch.tensor([1, 2]), torch.tensor([3, 4])], -1), [
        [1, 3],
        [2, 4],
      ]);
      // type promotion in cat
      expect(torch.cat([torch.tensor([1]), torch.tensor([2], { dtype: 'float64' })]).dtype).to.equal('float64');
      const r = torch.stack([torch.tensor(1), torch.tensor(2)]);
      expectExact(r, [1, 2]);
    });

    it('flip / repeat', () => {
      const x = torch.tensor([
        [1, 2],
        [3, 4],
      ]);
      expectExact(x.flip(0), [
        [3, 4],
        [1, 2],
      ]);
      expectExact(x.flip([0, 1]), [
        [4, 3],
        [2, 1],
      ]);
      expectExact(x.repeat(1, 2), [
        [1, 2, 1, 2],
        [3, 4, 3, 4],
      ]);
      expectExact(torch.tensor([1, 2]).repeat([2, 1]), [
        [1, 2],
        [1, 2],
      ]);
    });

    it('index(): ints, slices, ellipsis, null', () => {
      const x = torch.arange(24).reshape(2, 3, 4);
      expectExact(x.index(1, 2), [20, 21, 22, 23]);
      expectExact(x.index(1, 2, 3), 23);
      expect(x.index(1, 2, 3).shape).to.deep.equal([]);
      expectExact(x.index(0, ':', 0), [0, 4, 8]);
      expectExact(x.index('...', 0), [
        [0, 4, 8],
        [12, 16, 20],
      ]);
      expectExact(x.index(0, '1:', '::2'), [
        [4, 6],
        [8, 10],
      ]);
      expectExact(x.index(0, 0, '-2:'), [2, 3]);
      expectExact(x.index(0, 0, ':-2'), [0, 1]);
      expectExact(x.index(0, 0, '1:3:1'), [1, 2]);
      expectExact(x.index(0, 0, ' 1 : 3 '), [1, 2]);
      expect(x.index(null).shape).to.deep.equal([1, 2, 3, 4]);
      expect(x.index('...', null).shape).to.deep.equal([2, 3, 4, 1]);
      expect(x.index(':', null, ':', null).shape).to.deep.equal([2, 1, 3, 1, 4]);
      expect(x.index().shape).to.deep.equal([2, 3, 4]);
      expect(x.index(0, '10:').shape).to.deep.equal([0, 4]);
    });

    it('index(): results are views for basic indexing, copies for advanced', () => {
      const x = torch.zeros(2, 3);
      x.index(0, '1:').fill_(1);
      x.index('...', 0).fill_(2);
      expectExact(x, [
        [2, 1, 1],
        [2, 0, 0],
      ]);
      const adv = x.index(torch.tensor([0n]));
      adv.fill_(7);
      expectExact(x, [
        [2, 1, 1],
        [2, 0, 0],
      ]);
      const whole = x.index();
      whole.fill_(3);
      expectExact(x, [
        [3, 3, 3],
        [3, 3, 3],
      ]);
    });

    it('index(): bool masks and int64 tensors', () => {
      const x = torch.tensor([
        [1, -2, 3],
        [-4, 5, -6],
      ]);
      expectExact(x.index(x.gt(0)), [1, 3, 5]);
      expectExact(x.index(torch.tensor([false, true])), [[-4, 5, -6]]);
      expectExact(x.index(':', torch.tensor([true, false, true])), [
        [1, 3],
        [-4, -6],
      ]);
      expectExact(x.index(torch.tensor([1n, 1n, 0n])), [
        [-4, 5, -6],
        [-4, 5, -6],
        [1, -2, 3],
      ]);
      expectExact(x.index(':', torch.tensor([2n, 0n])), [
        [3, 1],
        [-6, -4],
      ]);
      expectExact(x.index(torch.tensor([0n, 1n]), torch.tensor([2n, 0n])), [3, -4]);
      expectExact(x.index(torch.tensor([-1n])), [[-4, 5, -6]]);
      expectExact(x.index(torch.tensor([[0n], [1n]]), torch.tensor([[0n, 2n]])), [
        [1, 3],
        [-4, -6],
      ]);
      expectExact(x.index(x.gt(100)), []);
    });

    it('index(): 0-dim bool tensors add an axis of size 1 or 0, as PyTorch; no tensors left behind', () => {
      const x = torch.arange(6).reshape(2, 3);
      const t = torch.tensor(true),
        f = torch.tensor(false);
      const before = torch.memory().tensors;
      const r = [x.index(t), x.index(f), x.index(t, 0), x.index('...', t), x.index(t, torch.tensor([1n, 0n]))];
      expect(torch.memory().tensors - before).to.be.at.most(r.length + 1); // + the [1n, 0n] index
      expectExact(
        r[0],
        [
          [
            [0, 1, 2],
            [3, 4, 5],
          ],
        ],
        'int64',
      );
      expect(r[1].shape).to.deep.equal([0, 2, 3]);
      expectExact(r[2], [[0, 1, 2]]);
      expect(r[3].shape).to.deep.equal([2, 3, 1]);
      expectExact(r[4], [
        [3, 4, 5],
        [0, 1, 2],
      ]);
      expectExact(x.index(0, torch.tensor(true, { dtype: 'uint8' })), [[0, 1, 2]]);
      expect(x.index(1, f, '1:').shape).to.deep.equal([0, 2]);
      for (const y of r) y.dispose();
    });

    it('index() works on fixture inputs built from encoded tensors', () => {
      const m = fromEncoded({ shape: [2, 2], dtype: 'int64', values: [1, 2, 3, 4] });
      expectExact(m.index(-1, -1), 4, 'int64');
    });

    it('shape / size / dim / numel / ndim', () => {
      expect(X.shape).to.deep.equal([2, 3, 4]);
      expect(X.size()).to.deep.equal([2, 3, 4]);
      expect(X.size(1)).to.equal(3);
      expect(X.size(-1)).to.equal(4);
      expect(X.dim()).to.equal(3);
      expect(X.ndim).to.equal(3);
      expect(X.numel()).to.equal(24);
      expect(Object.isFrozen(X.shape)).to.equal(true);
    });
  });
});

// Expected values below came from PyTorch 1.13.
describe('narrow with a 0-dim integer tensor start (as PyTorch)', () => {
  const a = torch.arange(12, { dtype: 'float32' }).reshape(3, 4);
  it('Tensor.narrow and torch.narrow take it, negative too', () => {
    expectClose(a.narrow(1, torch.tensor(1, { dtype: 'int64' }), 2), [
      [1, 2],
      [5, 6],
      [9, 10],
    ]);
    expectClose(torch.narrow(a, 0, torch.tensor(-2, { dtype: 'int32' }), 2), [
      [4, 5, 6, 7],
      [8, 9, 10, 11],
    ]);
  });
  it('refuses a float, bool or non-0-dim tensor start', () => {
    for (const s of [torch.tensor(1), torch.tensor(true), torch.tensor([1], { dtype: 'int64' })])
      expectError(() => a.narrow(0, s, 1), TypeError, 'Tensor.narrow', 'start', '0-dim integer tensor');
  });
});
