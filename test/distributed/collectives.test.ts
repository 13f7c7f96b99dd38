// torch.distributed collectives between ranks in child processes on the loopback (the rank program
// is workers/rank.ts): each scenario starts its ranks once and runs every check in them; the
// checks compare each collective with its definition, computed locally from every rank's input.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'chai';

import * as torch from '../../lib';
import { freePort, killAll, type RankResult, runRanks, show } from './workers/harness';

const d = torch.distributed;
const V2 = !torch.libtorchVersion.startsWith('1.');

interface Checks {
  failures: string[];
  counts: Record<string, number>;
  fatal?: string;
}

function checksOf(results: RankResult[]): Checks[] {
  return results.map((r) => {
    const c = r.result as Checks | undefined;
    if (!c || c.fatal || r.code !== 0) throw new Error(`a rank failed\n${show(r)}\n${c?.fatal ?? ''}`);
    return c;
  });
}

function expectCategory(all: Checks[], category: string): void {
  const failed = all.flatMap((c, r) =>
    c.failures.filter((f) => f.startsWith(`${category}:`)).map((f) => `rank ${r}: ${f}`),
  );
  expect(failed).to.deep.equal([]);
  expect(
    all.some((c) => (c.counts[category] ?? 0) > 0),
    `no ${category} check ran`,
  ).to.equal(true);
}

const CATEGORIES = [
  'init',
  'allReduce',
  'broadcast',
  'reduce',
  'allGather',
  'gather',
  'scatter',
  'reduceScatter',
  'allToAllSingle',
  'sendRecv',
  'barrier',
  'sync',
  'inflight',
  'eventLoop',
  'mismatch',
  'newGroup',
  'reinit',
];

after(killAll);

for (const [n, method] of [
  [2, 'tcp'],
  [4, 'env'],
] as const) {
  describe(`torch.distributed: ${n} ranks, ${method}:// rendezvous`, function () {
    this.timeout(90_000);
    let checks: Checks[];
    before(async () => {
      const port = await freePort();
      const port2 = await freePort();
      const initMethod = method === 'tcp' ? `tcp://127.0.0.1:${port}` : 'env://';
      const results = await runRanks(n, {
        args: () => ['collectives', initMethod, String(port2)],
        env: (r) => ({
          RANK: String(r),
          WORLD_SIZE: String(n),
          ...(method === 'env' ? { MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) } : {}),
        }),
        timeoutMs: 80_000,
      });
      checks = checksOf(results);
    });
    for (const c of CATEGORIES)
      it(`${c}${c === 'reduceScatter' && !V2 ? ' (libtorch 1.x: rejected, Gloo has none)' : ''}`, () =>
        expectCategory(checks, c));
    if (n === 2) it('10 MB allReduce and broadcast', () => expectCategory(checks, 'large'));
  });
}

describe('torch.distributed: file:// rendezvous and stores between 2 ranks', function () {
  this.timeout(60_000);
  it('FileStore/PrefixStore set, get, add, wait, check across processes; a group over file://', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tnapi-dist-'));
    try {
      const results = await runRanks(2, {
        args: () => ['stores', `file://${path.join(dir, 'rendezvous')}`, path.join(dir, 'kv')],
        env: (r) => ({ RANK: String(r), WORLD_SIZE: '2' }),
        timeoutMs: 50_000,
      });
      const all = checksOf(results);
      expectCategory(all, 'store');
      expectCategory(all, 'file');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('torch.distributed: in this process', function () {
  this.timeout(30_000);

  it('reports what this build has', () => {
    expect(d.isGlooAvailable()).to.equal(true);
    expect(d.isAvailable()).to.equal(true);
    expect(d.isNcclAvailable()).to.equal(false);
    expect(d.isInitialized()).to.equal(false);
    expect(d.ReduceOp.AVG).to.equal('avg');
  });

  it('TCPStore: set, get, add, wait (and its timeout), check, deleteKey, numKeys; PrefixStore', async () => {
    const port = await freePort();
    const server = await d.TCPStore.create('127.0.0.1', port, {
      worldSize: 2,
      isMaster: true,
      waitForWorkers: false,
      timeout: 5000,
    });
    const client = new d.TCPStore('127.0.0.1', port, { worldSize: 2, timeout: 5000 });
    expect(server.port).to.equal(port);
    await server.set('a', 'xyz');
    expect((await client.get('a')).toString()).to.equal('xyz');
    client.set('bin', new Uint8Array([0, 255, 7]), { sync: true });
    expect([...server.get('bin', { sync: true })]).to.deep.equal([0, 255, 7]);
    expect(await client.add('n', 5)).to.equal(5);
    expect(server.add('n', -2, { sync: true })).to.equal(3);
    const waiting = server.wait(['late']);
    setTimeout(() => client.set('late', '1'), 50);
    await waiting;
    expect(await client.check(['a', 'late'])).to.equal(true);
    expect(await client.check(['a', 'missing'])).to.equal(false);
    expect(await client.deleteKey('a')).to.equal(true);
    expect(await client.check(['a'])).to.equal(false);
    expect(await client.numKeys()).to.be.a('number');
    const t0 = Date.now();
    const err = await client.wait(['never'], { timeout: 200 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/^torch\.distributed\.TCPStore\.wait: .*(timeout|Timeout|timed out)/i);
    expect(Date.now() - t0).to.be.lessThan(3000);
    const p = new d.PrefixStore('job', client);
    await p.set('k', 'v');
    expect((await server.get('job/k')).toString()).to.equal('v');
    expect(() => server.set(3 as unknown as string, 'x')).to.throw(
      TypeError,
      /TCPStore\.set: expected key to be a string, got the number 3/,
    );
    expect(() => server.add('k', 1.5)).to.throw(RangeError, /TCPStore\.add: expected amount to be an integer/);
    expect(() => new d.PrefixStore('p', {} as torch.distributed.Store)).to.throw(
      TypeError,
      /PrefixStore: expected store to be a Store/,
    );
  });

  it('store arguments are checked', async () => {
    expect(() => new d.TCPStore(3 as unknown as string, 1)).to.throw(
      TypeError,
      /TCPStore: expected host to be a string, got the number 3/,
    );
    expect(() => new d.TCPStore('127.0.0.1', 70000)).to.throw(
      TypeError,
      /TCPStore: expected port to be a port number \(0\.\.65535\), got the number 70000/,
    );
    expect(() => new d.TCPStore('127.0.0.1', 1, { worldSize: 0 })).to.throw(
      RangeError,
      /TCPStore: expected worldSize to be a positive integer/,
    );
    expect(() => new d.FileStore(7 as unknown as string)).to.throw(
      TypeError,
      /FileStore: expected path to be a string/,
    );
    expect(() => new d.PrefixStore(1 as unknown as string, {} as torch.distributed.Store)).to.throw(
      TypeError,
      /PrefixStore: expected prefix to be a string/,
    );
    const port = await freePort();
    const s = new d.TCPStore('127.0.0.1', port, { isMaster: true, worldSize: 1, timeout: 2000 });
    expect(() => s.set('k', 5 as unknown as string)).to.throw(
      TypeError,
      /TCPStore\.set: expected value to be a string or a Uint8Array, got the number 5/,
    );
    expect(() => s.wait('k' as unknown as string[])).to.throw(
      TypeError,
      /TCPStore\.wait: expected keys to be an array of strings/,
    );
    expect(() => s.wait(['k'], { timeout: -1 })).to.throw(
      RangeError,
      /TCPStore\.wait: expected timeout to be a non-negative integer/,
    );
    expect(() => s.setTimeout(-5)).to.throw(
      RangeError,
      /TCPStore\.setTimeout: expected timeout to be a non-negative integer/,
    );
    const unreachable = await d.TCPStore.create('127.0.0.1', await freePort(), { timeout: 300 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(unreachable?.message).to.match(
      /^torch\.distributed\.tcpStore: cannot reach the TCPStore of rank 0 at 127\.0\.0\.1:\d+ within 300 ms/,
    );
  });

  describe('a one-rank group: argument errors', () => {
    before(async () => {
      const port = await freePort();
      await d.initProcessGroup({ initMethod: `tcp://127.0.0.1:${port}`, rank: 0, worldSize: 1, timeout: 10_000 });
    });
    after(() => {
      if (d.isInitialized()) d.destroyProcessGroup();
    });

    it('works: allReduce, broadcast, barrier, allGather on one rank', async () => {
      const t = torch.tensor([1, 2, 3]);
      await d.allReduce(t);
      expect(t.tolist()).to.deep.equal([1, 2, 3]);
      d.broadcast(t, 0, { sync: true });
      await d.barrier();
      const out = [torch.zeros([3])];
      await d.allGather(out, t);
      expect(out[0].tolist()).to.deep.equal([1, 2, 3]);
    });

    it('initProcessGroup twice is refused', () => {
      expect(() => d.initProcessGroup({ initMethod: 'tcp://127.0.0.1:1', rank: 0, worldSize: 1 })).to.throw(
        torch.TorchError,
        /initialize the default process group twice/,
      );
    });

    it('tensors must be contiguous CPU tensors', () => {
      const nc = torch.ones([3, 4]).t();
      expect(() => d.allReduce(nc)).to.throw(
        TypeError,
        /torch\.distributed\.allReduce: tensor must be a dense, contiguous tensor/,
      );
      expect(() => d.allReduce([1, 2] as unknown as torch.Tensor)).to.throw(
        TypeError,
        /allReduce: expected tensor to be a Tensor, got an array/,
      );
      const gone = torch.ones([2]);
      gone.dispose();
      expect(() => d.allReduce(gone)).to.throw(/disposed/);
    });

    it('reduce ops: unknown names, AVG on integers', () => {
      expect(() => d.allReduce(torch.ones([2]), { op: 'mean' as 'sum' })).to.throw(
        RangeError,
        /expected option 'op' to be one of sum, avg, product/,
      );
      expect(() => d.allReduce(torch.ones([2], { dtype: 'int32' }), { op: 'avg' })).to.throw(
        TypeError,
        /AVG needs a floating-point tensor, got int32/,
      );
    });

    it('ranks: outside the group, self send', () => {
      expect(() => d.broadcast(torch.ones([2]), 1)).to.throw(RangeError, /broadcast: src 1 is not a rank of the group/);
      expect(() => d.send(torch.ones([2]), 0)).to.throw(RangeError, /send: dst 0 is this rank/);
      expect(() => d.recv(torch.ones([2]), -1)).to.throw(RangeError, /recv: expected src to be a non-negative integer/);
    });

    it('lists: one tensor per rank, of the same dtype and shape', () => {
      const t = torch.ones([2]);
      expect(() => d.allGather([], t)).to.throw(RangeError, /allGather: expected tensorList to hold 1 tensors/);
      expect(() => d.allGather([torch.ones([3])], t)).to.throw(
        TypeError,
        /tensorList\[0\] must have the dtype and shape of the tensor \(float32 \[2\]\), got float32 \[3\]/,
      );
      expect(() => d.gather(t, {})).to.throw(
        TypeError,
        /gather: expected option 'gatherList' to be an array of tensors/,
      );
      expect(() => d.scatter(t, { scatterList: [] })).to.throw(
        RangeError,
        /scatter: expected option 'scatterList' to hold 1 tensors/,
      );
    });

    it('reduceScatter: libtorch 1.x rejects (Gloo has none), 2.x reduces', async () => {
      const out = torch.zeros([2]);
      if (V2) {
        await d.reduceScatter(out, [torch.ones([2])]);
        expect(out.tolist()).to.deep.equal([1, 1]);
      } else
        expect(() => d.reduceScatter(out, [torch.ones([2])])).to.throw(
          torch.TorchError,
          /the Gloo backend of libtorch 1\.13\.\d+ has no reduce_scatter/,
        );
    });

    it('options and groups are checked', () => {
      const t = torch.ones([4]);
      expect(() => d.allReduce(t, 3 as unknown as torch.distributed.ReduceOptions)).to.throw(
        TypeError,
        /allReduce: expected options to be an options object, got the number 3/,
      );
      expect(() => d.allReduce(t, { group: {} as torch.distributed.ProcessGroup })).to.throw(
        TypeError,
        /allReduce: expected option 'group' to be a ProcessGroup, got an object/,
      );
      expect(() => d.allToAllSingle(torch.ones([4]), torch.ones([3]))).to.throw(
        TypeError,
        /allToAllSingle: output and input must have the same dtype and size/,
      );
      expect(() => d.allToAllSingle(torch.ones([]), torch.ones([]))).to.throw(
        RangeError,
        /allToAllSingle: input's first dimension must divide by the group size 1/,
      );
      expect(() => d.newGroup('0' as unknown as number[])).to.throw(
        TypeError,
        /newGroup: expected ranks to be an array of ranks/,
      );
      expect(() => d.newGroup([0, 0])).to.throw(
        RangeError,
        /newGroup: the new group's world size \(2\) must be <= the world size \(1\)/,
      );
    });

    it('newGroup checks its ranks', () => {
      expect(() => d.newGroup([0, 1])).to.throw(
        RangeError,
        /new group's world size \(2\) must be <= the world size \(1\)/,
      );
      expect(() => d.newGroup([3])).to.throw(RangeError, /rank 3 is outside the world/);
    });

    it('the native accessor rejects what is not a process group', () => {
      const g = d.getDefaultGroup();
      expect(g.size()).to.equal(1);
      expect(g.rank()).to.equal(0);
      expect(g.checked).to.equal(true);
      expect(g.timeout).to.equal(10_000);
    });

    it('destroyProcessGroup: collectives then refuse', () => {
      const g = d.getDefaultGroup();
      d.destroyProcessGroup();
      expect(d.isInitialized()).to.equal(false);
      expect(() => d.allReduce(torch.ones([1]))).to.throw(
        torch.TorchError,
        /allReduce: the default process group is not initialized/,
      );
      expect(() => d.getRank(g)).to.throw(torch.TorchError, /not initialized/);
    });
  });
});
