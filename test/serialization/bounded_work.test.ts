// Unbounded work from small inputs. Pickles: a dict key made of tuples that the memo shares (t1 = (t0, t0),
// t2 = (t1, t1), ...) has 2^depth leaves; checking that it is hashable used to walk all of them
// (an 849-byte checkpoint hung torch.load). The check now remembers the tuples it has verified.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { unpickle } from '../../lib/serialization/pickle';
import { MAX_TENSORS } from '../../lib/serialization/safetensors';

const opts = {
  resolveGlobal: () => undefined,
  persistentLoad: () => {
    throw new Error('no persistent ids here');
  },
};

/** PROTO 2; t0 = (); t_i = (t_{i-1}, t_{i-1}) through the memo (BINPUT/BINGET); {t_depth: None}. */
function sharedTupleKey(depth: number, leaf: number[] = []): Uint8Array {
  const b: number[] = [0x80, 2];
  if (leaf.length) b.push(...leaf);
  else b.push(0x29); // EMPTY_TUPLE (or a custom leaf)
  b.push(0x71, 0, 0x30); // BINPUT 0, POP
  for (let i = 1; i <= depth; i++) b.push(0x68, i - 1, 0x68, i - 1, 0x86, 0x71, i, 0x30); // BINGET, BINGET, TUPLE2, BINPUT, POP
  b.push(0x7d, 0x68, depth, 0x4e, 0x73, 0x2e); // EMPTY_DICT, BINGET depth, NONE, SETITEM, STOP
  return Uint8Array.from(b);
}

describe('unpickle: memo-shared tuples as dict keys cost linear work', function () {
  this.timeout(20_000); // a watchdog for a hang, not a speed assertion

  it('a key of 2^200 leaves through 200 shared levels (a 1.6-KB pickle) unpickles', () => {
    const data = sharedTupleKey(200);
    expect(data.length).to.be.below(1700);
    const d = unpickle(data, opts) as Map<unknown, unknown>;
    expect(d).to.be.instanceOf(Map);
    expect(d.size).to.equal(1);
    let k = [...d.keys()][0] as unknown[];
    for (let i = 0; i < 200; i++) {
      expect(k).to.have.length(2);
      expect(k[0]).to.equal(k[1]); // shared, as the memo built it
      k = k[0] as unknown[];
    }
    expect(k).to.deep.equal([]);
  });

  it('an unhashable leaf deep inside a shared key is still refused', () => {
    // the leaf is ([],): a tuple holding a list (EMPTY_LIST, TUPLE1)
    expect(() => unpickle(sharedTupleKey(100, [0x5d, 0x85]), opts)).to.throw(/unhashable dict key/);
  });
});

describe('torch.loadSafetensors: the tensor count is bounded before any tensor is made', () => {
  const file = (count: number): Buffer => {
    const entries = Array.from({ length: count }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
    const body = Buffer.from(`{${entries.join(',')}}`);
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(body.length));
    return Buffer.concat([head, body]);
  };
  const tmp = path.join(os.tmpdir(), `torch-napi-st-${process.pid}.safetensors`);
  after(() => fs.rmSync(tmp, { force: true }));

  it(`${MAX_TENSORS + 1} zero-size entries are refused; ${MAX_TENSORS} load`, () => {
    const before = torch.memory().tensors;
    fs.writeFileSync(tmp, file(MAX_TENSORS + 1));
    expect(() => torch.loadSafetensors(tmp)).to.throw(
      new RegExp(`lists ${MAX_TENSORS + 1} tensors, more than the ${MAX_TENSORS}`),
    );
    // nothing made and left behind (other tests' garbage may be collected meanwhile: at most)
    expect(torch.memory().tensors).to.be.at.most(before);
    fs.writeFileSync(tmp, file(MAX_TENSORS));
    const loaded = torch.loadSafetensors(tmp) as Record<string, torch.Tensor>;
    expect(Object.keys(loaded)).to.have.length(MAX_TENSORS);
    expect(loaded.t7.shape).to.deep.equal([0]);
    torch.dispose(Object.values(loaded));
    expect(torch.memory().tensors).to.be.at.most(before);
  });
});
