// One rank of a torch.distributed test (see harness.ts): `node rank.js <scenario> <initMethod> [...]`,
// RANK and WORLD_SIZE in the environment. Reports `{result}` over IPC and exits.
import * as torch from '../../../lib';

const d = torch.distributed;
const rank = Number(process.env.RANK);
const worldSize = Number(process.env.WORLD_SIZE);
const [scenario, initMethod, extra] = process.argv.slice(2);
const V2 = !torch.libtorchVersion.startsWith('1.');

type Tensor = torch.Tensor;
type DType = torch.DType;

const failures: string[] = [];
const counts: Record<string, number> = {};

function note(op: string, ok: boolean, what: string): void {
  counts[op] = (counts[op] ?? 0) + 1;
  if (!ok) failures.push(`${op}: ${what}`);
}

const DTYPES: DType[] = ['float32', 'float64', 'int32', 'int64', 'uint8'];
const SHAPES: number[][] = [[0], [1], [1000], [3, 4]];
const FLOAT = new Set<DType>(['float32', 'float64']);

/** Rank r's input: values in 1..3 (so products fit uint8 on 4 ranks), different per rank. */
function input(r: number, shape: number[], dtype: DType, salt = 0): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return torch
    .arange(n)
    .add(r + salt)
    .remainder(3)
    .add(1)
    .reshape(shape)
    .to(dtype);
}

function same(got: Tensor, want: Tensor): boolean {
  if (got.dtype !== want.dtype || got.shape.join() !== want.shape.join()) return false;
  if (got.numel() === 0) return true;
  return FLOAT.has(got.dtype) ? got.allclose(want, { rtol: 1e-5, atol: 1e-6 }) : got.equal(want);
}

function desc(dtype: DType, shape: number[]): string {
  return `${dtype} [${shape.join(', ')}]`;
}

async function expectReject(p: () => Promise<unknown> | unknown, pattern: RegExp): Promise<string | null> {
  try {
    await p();
  } catch (e) {
    const m = (e as Error).message;
    return pattern.test(m) ? null : `wrong error: ${m}`;
  }
  return 'did not fail';
}

async function collectives(): Promise<void> {
  const n = d.getWorldSize();
  const all = (shape: number[], dtype: DType, salt = 0) =>
    Array.from({ length: n }, (_, r) => input(r, shape, dtype, salt));

  // allReduce, every op, against its definition
  for (const dtype of DTYPES)
    for (const shape of SHAPES) {
      const xs = all(shape, dtype);
      const stacked = torch.stack(xs);
      const want: Record<string, Tensor> = {
        sum: stacked.sum(0).to(dtype),
        product: stacked.prod(0).to(dtype),
        min: stacked.amin(0),
        max: stacked.amax(0),
      };
      if (FLOAT.has(dtype)) want.avg = stacked.mean(0);
      for (const [op, w] of Object.entries(want)) {
        const t = input(rank, shape, dtype);
        await d.allReduce(t, { op: op as torch.distributed.ReduceOpName });
        note('allReduce', same(t, w), `${op} ${desc(dtype, shape)}: got ${t.tolist()}`);
      }
    }
  const intAvg = await expectReject(
    () => d.allReduce(torch.ones([2], { dtype: 'int64' }), { op: d.ReduceOp.AVG }),
    /AVG needs a floating-point tensor, got int64/,
  );
  note('allReduce', intAvg === null, `avg on int64: ${intAvg}`);
  const upper = input(rank, [5], 'float32');
  await d.allReduce(upper, { op: 'MAX' as 'max' });
  note('allReduce', same(upper, torch.stack(all([5], 'float32')).amax(0)), 'op given as MAX');

  // broadcast from every rank
  for (const dtype of DTYPES)
    for (const shape of SHAPES)
      for (let src = 0; src < n; src++) {
        const t = input(rank, shape, dtype, 1);
        await d.broadcast(t, src);
        note('broadcast', same(t, input(src, shape, dtype, 1)), `src ${src} ${desc(dtype, shape)}`);
      }

  // reduce to each rank (sum, max)
  for (const dtype of ['float32', 'int64', 'uint8'] as DType[])
    for (let dst = 0; dst < n; dst++)
      for (const op of ['sum', 'max'] as const) {
        const t = input(rank, [7], dtype);
        await d.reduce(t, dst, { op });
        const stacked = torch.stack(all([7], dtype));
        const w = op === 'sum' ? stacked.sum(0).to(dtype) : stacked.amax(0);
        if (rank === dst) note('reduce', same(t, w), `${op} to ${dst} ${dtype}`);
        else note('reduce', true, '');
      }

  // allGather
  for (const dtype of DTYPES)
    for (const shape of SHAPES) {
      const out = Array.from({ length: n }, () => torch.zeros(shape, { dtype }));
      await d.allGather(out, input(rank, shape, dtype, 2));
      note(
        'allGather',
        out.every((t, r) => same(t, input(r, shape, dtype, 2))),
        desc(dtype, shape),
      );
    }

  // gather to the last rank, scatter from rank 0
  for (const dtype of DTYPES) {
    const dst = n - 1;
    const list = rank === dst ? Array.from({ length: n }, () => torch.zeros([6], { dtype })) : undefined;
    await d.gather(input(rank, [6], dtype), { gatherList: list, dst });
    if (list)
      note(
        'gather',
        list.every((t, r) => same(t, input(r, [6], dtype))),
        dtype,
      );
    else note('gather', true, '');
    const out = torch.zeros([6], { dtype });
    const scatterList = rank === 0 ? Array.from({ length: n }, (_, r) => input(r, [6], dtype, 5)) : undefined;
    await d.scatter(out, { scatterList, src: 0 });
    note('scatter', same(out, input(rank, [6], dtype, 5)), dtype);
  }

  // reduceScatter: Gloo has it from 2.0
  if (V2) {
    for (const dtype of ['float32', 'int64'] as DType[]) {
      const inputs = Array.from({ length: n }, (_, k) => input(rank, [4], dtype, k));
      const out = torch.zeros([4], { dtype });
      await d.reduceScatter(out, inputs);
      const w = torch
        .stack(Array.from({ length: n }, (_, r) => input(r, [4], dtype, rank)))
        .sum(0)
        .to(dtype);
      note('reduceScatter', same(out, w), dtype);
    }
  } else {
    const err = await expectReject(
      () =>
        d.reduceScatter(
          torch.zeros([4]),
          Array.from({ length: n }, () => torch.ones([4])),
        ),
      /Gloo backend of libtorch 1\.13.* has no reduce_scatter/,
    );
    note('reduceScatter', err === null, `1.13 rejection: ${err}`);
  }

  // allToAllSingle: chunk i of rank r's input -> chunk r of rank i's output
  for (const dtype of ['float32', 'int32'] as DType[]) {
    const inp = torch
      .arange(2 * n)
      .add(100 * rank)
      .to(dtype);
    const out = torch.zeros([2 * n], { dtype });
    await d.allToAllSingle(out, inp);
    const w = torch
      .cat(
        Array.from({ length: n }, (_, r) =>
          torch
            .arange(2 * n)
            .add(100 * r)
            .narrow(0, 2 * rank, 2),
        ),
      )
      .to(dtype);
    note('allToAllSingle', same(out, w), dtype);
  }

  // send/recv around the ring (isend + irecv, then the blocking pair with alternating order)
  const next = (rank + 1) % n;
  const prev = (rank + n - 1) % n;
  for (const dtype of DTYPES) {
    const got = torch.zeros([5], { dtype });
    const ws = [d.isend(input(rank, [5], dtype, 7), next), d.irecv(got, prev)];
    await Promise.all(ws.map((w) => w.wait()));
    note('sendRecv', same(got, input(prev, [5], dtype, 7)) && ws.every((w) => w.isCompleted()), `isend/irecv ${dtype}`);
  }
  {
    const got = torch.zeros([3]);
    if (rank % 2 === 0) {
      await d.send(input(rank, [3], 'float32'), next, { tag: 3 });
      await d.recv(got, prev, { tag: 3 });
    } else {
      await d.recv(got, prev, { tag: 3 });
      await d.send(input(rank, [3], 'float32'), next, { tag: 3 });
    }
    note('sendRecv', same(got, input(prev, [3], 'float32')), 'send/recv');
    // a checked group: a receiver whose tensor differs fails, and the sender completes
    const small = torch.zeros([2]);
    const sent = d.isend(input(rank, [3], 'float32'), next, { tag: 4 });
    const err = await expectReject(
      () => d.recv(small, prev, { tag: 4 }),
      /sent 3 elements of float32, but this rank's tensor holds 2/,
    );
    await sent.wait();
    note('sendRecv', err === null, `mismatched recv: ${err}`);
  }

  // barrier
  await d.barrier();
  note('barrier', true, '');

  // sync forms
  {
    const t = input(rank, [4], 'float64');
    const r = d.allReduce(t, { sync: true });
    note('sync', r === undefined && same(t, torch.stack(all([4], 'float64')).sum(0)), 'allReduce sync');
    const b = input(rank, [4], 'int32', 1);
    d.broadcast(b, n - 1, { sync: true });
    note('sync', same(b, input(n - 1, [4], 'int32', 1)), 'broadcast sync');
    d.barrier({ sync: true });
    note('sync', true, '');
  }

  // the async form leaves the event loop free: rank 0 waits while the others arrive 400 ms late
  {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const t = torch.ones([1000]);
    if (rank !== 0) await new Promise((r) => setTimeout(r, 400));
    const p = d.allReduce(t);
    if (rank === 0) {
      // while in flight, the written tensor is refused
      const used = await expectReject(() => t.add(1), /in use|in flight|running|async/i);
      note('inflight', used === null, `using a tensor mid-collective: ${used}`);
      const disposed = await expectReject(() => t.dispose(), /in use|in flight|running|async/i);
      note('inflight', disposed === null, `disposing a tensor mid-collective: ${disposed}`);
    }
    await p;
    clearInterval(timer);
    if (rank === 0) note('eventLoop', ticks >= 15, `only ${ticks} timer ticks during a 400 ms collective`);
    note('eventLoop', same(t, torch.full([1000], n)), 'result after waiting');
  }

  // a checked group turns mismatched tensors into an error on every rank (Gloo would abort)
  {
    const t = torch.ones([rank === 0 ? 10 : 1000]);
    const err = await expectReject(
      () => d.allReduce(t),
      /the ranks called different collectives or passed different tensors: rank \d called allReduce\(float32 \[(10|1000)\]/,
    );
    note('mismatch', err === null, `shapes: ${err}`);
    const dt = await expectReject(
      () => (rank === 0 ? d.allReduce(torch.ones([4])) : d.broadcast(torch.ones([4]), 0)),
      /called (broadcast|allReduce)\(float32 \[4\].*root 0|called allReduce\(float32 \[4\]/,
    );
    note('mismatch', dt === null, `different collectives: ${dt}`);
    const after = torch.ones([3]);
    await d.allReduce(after);
    note('mismatch', same(after, torch.full([3], n)), 'the group works after a refused call');
  }

  // newGroup: a collective call on every rank; members run in it, the others get null
  {
    const g = await d.newGroup([1, 0]);
    if (rank <= 1) {
      note(
        'newGroup',
        g !== null && d.getWorldSize(g ?? undefined) === 2 && d.getRank(g ?? undefined) === rank,
        'members',
      );
      const t = input(rank, [8], 'float32');
      await d.allReduce(t, { group: g ?? undefined });
      note('newGroup', same(t, input(0, [8], 'float32').add(input(1, [8], 'float32'))), 'allReduce in the group');
      const b = input(rank, [8], 'int64');
      await d.broadcast(b, 1, { group: g ?? undefined });
      note('newGroup', same(b, input(1, [8], 'int64')), 'broadcast from global rank 1');
    } else note('newGroup', g === null, 'non-member gets null');
    const everyone = await d.newGroup();
    const t = torch.ones([2]);
    await d.allReduce(t, { group: everyone ?? undefined });
    note('newGroup', same(t, torch.full([2], n)), 'newGroup() of all ranks');
    if (g) d.destroyProcessGroup(g);
    const gone = await expectReject(
      () => d.allReduce(torch.ones([1]), { group: g ?? everyone ?? undefined }),
      /destroyed|not a rank/,
    );
    if (g) note('newGroup', gone === null, `destroyed group: ${gone}`);
  }

  // 10 MB (float32 x 2.6M): allReduce and broadcast
  if (n === 2) {
    const big = torch.arange(2_621_440).remainder(1000).to('float32').add(rank);
    await d.allReduce(big);
    note('large', same(big, torch.arange(2_621_440).remainder(1000).to('float32').mul(2).add(1)), '10 MB allReduce');
    const b = torch.full([2_621_440], rank + 1);
    await d.broadcast(b, 1);
    note('large', same(b, torch.full([2_621_440], 2)), '10 MB broadcast');
  }
}

async function stores(): Promise<void> {
  // the scenario's own FileStore: every rank counts in and waits for the others
  const path = extra;
  const s = new d.FileStore(path, worldSize);
  const p = new d.PrefixStore('scope', s);
  await p.set(`from${rank}`, `hello ${rank}`);
  const total = await p.add('count', rank + 1);
  note('store', total >= rank + 1, 'add returns the new value');
  await p.wait(Array.from({ length: worldSize }, (_, r) => `from${r}`));
  const got = await p.get(`from${(rank + 1) % worldSize}`);
  note('store', got.toString() === `hello ${(rank + 1) % worldSize}`, `get: ${got}`);
  const direct = s.get(`scope/from${rank}`, { sync: true });
  note('store', direct.toString() === `hello ${rank}`, 'PrefixStore keys are prefix/key in the underlying store');
  note('store', (await p.check([`from${rank}`])) && !(await p.check(['nope'])), 'check');
  s.setTimeout(200);
  const err = await expectReject(() => p.get('never'), /timeout|Timeout|timed out/i);
  note('store', err === null, `get of a missing key after setTimeout(200): ${err}`);
  s.setTimeout(20_000);
}

async function main(): Promise<unknown> {
  const timeout = 20_000;
  switch (scenario) {
    case 'collectives': {
      const opts = initMethod === 'env://' ? { timeout } : { initMethod, rank, worldSize, timeout };
      await d.initProcessGroup(opts);
      note(
        'init',
        d.isInitialized() && d.getRank() === rank && d.getWorldSize() === worldSize && d.getBackend() === 'gloo',
        'getters',
      );
      note('init', d.getDefaultGroup().checked, 'an all-torch-napi group is checked');
      await collectives();
      d.destroyProcessGroup();
      note('reinit', !d.isInitialized(), 'destroyed');
      // a new default group after destroying one (another rendezvous port)
      if (extra) {
        d.initProcessGroup({ initMethod: `tcp://127.0.0.1:${extra}`, rank, worldSize, timeout, sync: true });
        const t = torch.ones([3]).mul(rank);
        await d.allReduce(t);
        note('reinit', same(t, torch.full([3], (worldSize * (worldSize - 1)) / 2)), 'allReduce after re-init');
        d.destroyProcessGroup();
      }
      return { failures, counts };
    }
    case 'stores':
      await stores();
      await d.initProcessGroup({ initMethod, rank, worldSize, timeout });
      {
        const t = torch.ones([2]);
        await d.allReduce(t);
        note('file', same(t, torch.full([2], worldSize)), 'allReduce over file://');
      }
      d.destroyProcessGroup();
      return { failures, counts };
    case 'kill': {
      // rank 1 joins, then waits to be killed; rank 0 runs a collective rank 1 never joins
      await d.initProcessGroup({ initMethod, rank, worldSize, timeout: Number(extra) });
      process.send?.({ ready: true });
      if (rank !== 0) await new Promise(() => setTimeout(() => {}, 1e9));
      const start = Date.now();
      await new Promise((r) => setTimeout(r, 300));
      try {
        await d.allReduce(torch.ones([1000]));
        return { error: null, ms: Date.now() - start };
      } catch (e) {
        return { error: (e as Error).message, name: (e as Error).name, ms: Date.now() - start };
      }
    }
    case 'stall': {
      // rank 1 stays connected but never joins the collective: rank 0's call ends at the timeout
      await d.initProcessGroup({ initMethod, rank, worldSize, timeout: Number(extra) });
      if (rank !== 0) {
        await new Promise((r) => setTimeout(r, Number(extra) + 2000));
        return { waited: true };
      }
      const start = Date.now();
      try {
        await d.allReduce(torch.ones([10]));
        return { error: null, ms: Date.now() - start };
      } catch (e) {
        return { error: (e as Error).message, ms: Date.now() - start };
      }
    }
    case 'worldsize': {
      const start = Date.now();
      try {
        await d.initProcessGroup({ initMethod, rank, worldSize: worldSize + 1, timeout: Number(extra) });
        return { error: null };
      } catch (e) {
        return { error: (e as Error).message, ms: Date.now() - start };
      }
    }
    case 'exit-live': {
      // leaves with the group alive: the process must still end by itself
      await d.initProcessGroup({ initMethod, rank, worldSize, timeout });
      const t = torch.ones([4]);
      await d.allReduce(t);
      return { sum: t.tolist() };
    }
    case 'exit-pending': {
      // rank 0 exits while its collective waits for a rank that never joins it
      await d.initProcessGroup({ initMethod, rank, worldSize, timeout });
      if (rank === 0) {
        void d.allReduce(torch.ones([4])).catch(() => {});
        setTimeout(() => process.exit(7), 300);
        return new Promise(() => {});
      }
      await new Promise((r) => setTimeout(r, 1500));
      return { waited: true };
    }
    case 'interop': {
      // the Node side of test/distributed/workers/py_rank.py: the same calls, results by name
      await d.initProcessGroup({ initMethod, rank, worldSize, timeout });
      const out: Record<string, unknown> = { checked: d.getDefaultGroup().checked };
      for (const dtype of ['float32', 'float64', 'int64', 'int32', 'uint8'] as DType[])
        for (const op of ['sum', 'product', 'min', 'max', 'avg']) {
          if (op === 'avg' && !FLOAT.has(dtype)) continue;
          const t = input(rank, [6], dtype);
          await d.allReduce(t, { op: op as 'sum' });
          out[`allReduce/${op}/${dtype}`] = t.to('float64').tolist();
        }
      for (let src = 0; src < worldSize; src++) {
        const t = input(rank, [5], 'float32', 1);
        await d.broadcast(t, src);
        out[`broadcast/${src}`] = t.tolist();
      }
      const g = await d.newGroup([0, 1]);
      const t = input(rank, [4], 'float64', 2);
      await d.allReduce(t, { group: g ?? undefined });
      out['newGroup/allReduce'] = t.tolist();
      const big = torch.arange(100_000).remainder(7).to('float32').add(rank);
      await d.allReduce(big);
      out['large/sum'] = big.sum().item();
      await d.barrier();
      d.destroyProcessGroup();
      return out;
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

main().then(
  (result) => {
    if (process.send) process.send({ result }, () => process.exit(0));
    else {
      console.log(JSON.stringify(result));
      process.exit(0);
    }
  },
  (e) => {
    const result = { fatal: String((e as Error).stack ?? e) };
    if (process.send) process.send({ result }, () => process.exit(1));
    else {
      console.log(JSON.stringify(result));
      process.exit(1);
    }
  },
);
