// TorchScript archives that are intact (zip, CRCs) but whose data records declare tensors outside
// their storage, or whose pickles and code exceed what libtorch's unpickler and parser handle
// (test/fixtures/gen/gen_hostile_jit_fixtures.py). libtorch loads the first kind as they are; torch.jit.load
// must refuse them before JS can read (leak) or write (corrupt) the heap, and the second kind
// before libtorch reads them.

import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { expectError } from '../helpers';

const dir = path.join(process.cwd(), 'test', 'fixtures', 'jit', 'hostile');

describe('torch.jit.load: hostile data records and code are refused', () => {
  const cases: [string, RegExp][] = [
    ['big_view', /parameter 'w' declares a view of 1600 bytes over a storage of 16 bytes \(shape \[200, 2\]\)/],
    ['offset_neg', /parameter 'w' declares a negative storage offset \(-2147483648\)/],
    ['offset_2e31', /parameter 'w' declares a view of \d+ bytes over a storage of 16 bytes/],
    ['buffer_view', /buffer 'b' declares a view of \d+ bytes over a storage of 12 bytes \(shape \[3, 1000\]\)/],
  ];
  for (const [name, message] of cases) {
    it(`${name}.pt`, () => {
      const before = torch.memory().tensors;
      expectError(
        () => torch.jit.load(path.join(dir, `${name}.pt`)),
        torch.TorchError,
        /torch\.jit\.load: .*the archive is corrupt or hostile/,
        message,
      );
      // nothing made and left behind (other tests' garbage may be collected meanwhile: at most)
      expect(torch.memory().tensors).to.be.at.most(before);
    });
  }

  const bounds: [string, RegExp][] = [
    ['deep_constants', /constants\.pkl: nests deeper than 1000 levels/],
    ['deep_data', /data\.pkl: nests deeper than 1000 levels/],
    ['huge_string', /constants\.pkl: declares a 4294967295-byte value with 4 bytes left in the record/],
    ['huge_memo', /constants\.pkl: memo index 4294967280 is larger than the 9-byte record/],
    ['deep_code', /code\/__torch__\.py: brackets nest deeper than 500 levels \(line \d+\)/],
  ];
  for (const [name, message] of bounds) {
    it(`${name}.pt is refused before libtorch reads it`, () => {
      expectError(() => torch.jit.load(path.join(dir, `${name}.pt`)), torch.TorchError, /^torch\.jit\.load: /, message);
    });
  }

  it("neg_stride.pt: refused, or loaded with the stride libtorch rebuilt (1.13 ignores the record's -2)", () => {
    let m: torch.jit.ScriptModule;
    try {
      m = torch.jit.load(path.join(dir, 'neg_stride.pt'));
    } catch (e) {
      expect((e as Error).message).to.match(/parameter 'w' declares a negative stride in dim 0/);
      return;
    }
    const [[, w]] = m.namedParameters();
    expect(w.stride().every((s: number) => s >= 0)).to.equal(true);
    expect(Array.from(w.data() as Float32Array)).to.deep.equal([0, 1, 2, 3]);
    m.dispose();
  });

  it('the same archive with honest records loads and computes', () => {
    const m = torch.jit.load(path.join(dir, 'good.pt'));
    const y = m.forward(torch.ones(1, 2)) as torch.Tensor;
    expect(Array.from(y.data() as Float32Array)).to.deep.equal([12, 14]); // [1,1]·[[0,1],[2,3]] + 10
    m.dispose();
  });
});
