// torch.distributed: process groups and collectives on libtorch's own c10d (Gloo; NCCL where
// libtorch has it). The store protocol is PyTorch's own (distributed_c10d.py and rendezvous.py of
// the libtorch version built against), so Node and Python ranks form one group:
//   - the rendezvous store (TCPStore hosted by rank 0, or a FileStore) is wrapped in
//     PrefixStore("default_pg", ...);
//   - each group is named by a counter ("0" for the default group, then "1", "2"... for newGroup,
//     counted on every rank) and its backend gets PrefixStore(name, ...) (1.x) or
//     PrefixStore("cpu/", PrefixStore(name + "/", ...)) (2.x);
//   - 1.x then runs the store-based barrier (`store_based_barrier_key:<count>`); 2.x only when
//     TORCH_DIST_INIT_BARRIER=1 (`store_based_barrier_key:<name>`, its `:last_worker` key).
import { checkInt, TorchError, typeError } from '../errors';
import { Tensor } from '../tensor';
import { type CollectiveCall, D, type GroupHandle } from './native';
import { FileStore, PrefixStore, Store, TCPStore } from './store';

export type { SyncOption, TCPStoreOptions } from './store';
export { FileStore, PrefixStore, Store, TCPStore } from './store';

const NATIVE = D.available();
/** The libtorch major version's protocol (1: 1.13; 2: 2.x). */
const V2 = NATIVE.torchMajor >= 2;

/** PyTorch's default process-group timeout: 30 minutes. */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

/** Reduction operations (PyTorch's `ReduceOp`); the lowercase strings are accepted too. */
export const ReduceOp = {
  /** The sum (the default). */
  SUM: 'sum',
  /** The mean: floating-point tensors only (Gloo has no AVG: torch-napi sums, then divides by the group size). */
  AVG: 'avg',
  /** The product. */
  PRODUCT: 'product',
  /** The element-wise minimum. */
  MIN: 'min',
  /** The element-wise maximum. */
  MAX: 'max',
  /** Bitwise AND (integer tensors). */
  BAND: 'band',
  /** Bitwise OR (integer tensors). */
  BOR: 'bor',
  /** Bitwise XOR (integer tensors). */
  BXOR: 'bxor',
} as const;
/** A reduction's name: a value of {@link ReduceOp} (`'sum'`, `'avg'`, ...). */
export type ReduceOpName = (typeof ReduceOp)[keyof typeof ReduceOp];
const REDUCE_OPS: readonly string[] = Object.values(ReduceOp);

/** Whether torch.distributed can run here (this build has Gloo). */
export function isAvailable(): boolean {
  return NATIVE.gloo || NATIVE.nccl;
}
/** Whether this build has the Gloo backend (PyTorch's `is_gloo_available`). */
export function isGlooAvailable(): boolean {
  return NATIVE.gloo;
}
/** Whether the NCCL backend is available: libtorch was built with CUDA and NCCL (PyTorch's `is_nccl_available`). */
export function isNcclAvailable(): boolean {
  return NATIVE.nccl;
}

type Out<T, O> = O extends { sync: true } ? T : Promise<T>;

/** A process group: a set of ranks that run collectives together. */
export class ProcessGroup {
  /** @internal the native group (native/distributed.h's ProcessGroupOf reads it) */
  readonly _pg: GroupHandle;
  /** The global ranks of the members, in group-rank order. */
  readonly ranks: readonly number[];
  /** The group's name: `"0"` for the default group, then `"1"`, `"2"`... in newGroup order, as PyTorch names them. */
  readonly name: string;
  /** The group's backend: `'gloo'` or `'nccl'`. */
  readonly backend: string;
  /** @internal PrefixStore(name, ...): 2.x makes later groups under the default group's */
  readonly _groupStore: Store;

  /** @internal */
  constructor(pg: GroupHandle, ranks: number[], name: string, backend: string, groupStore: Store) {
    this._pg = pg;
    this._groupStore = groupStore;
    this.ranks = ranks;
    this.name = name;
    this.backend = backend;
  }

  /** This process's rank in the group. */
  rank(): number {
    return D.groupInfo(this._pg).rank;
  }
  /** The number of ranks in the group. */
  size(): number {
    return this.ranks.length;
  }
  /**
   * Whether each collective first checks that all ranks made the same call (op, root, dtype,
   * shape): on when every rank is torch-napi (see InitOptions.checkCollectives).
   */
  get checked(): boolean {
    return D.groupInfo(this._pg).checked;
  }
  /** The group's timeout (ms). */
  get timeout(): number {
    return D.groupInfo(this._pg).timeoutMs;
  }
}

interface World {
  group: ProcessGroup;
  /** The store the groups are made from: PrefixStore("default_pg", rendezvous store), or the user's. */
  store: Store;
  /** Stores kept alive as long as the world (the rendezvous store hosts the TCP server on rank 0). */
  keep: Store[];
  groups: Set<ProcessGroup>;
  initMethod: string;
  check: boolean;
}

let world: World | undefined;
/** Python's `_group_count`: groups made since the default group (reset by destroying it). */
let groupCount = 0;

function need(fn: string): World {
  if (!world)
    throw new TorchError(
      `torch.distributed.${fn}: the default process group is not initialized (call initProcessGroup first)`,
    );
  return world;
}

/** Whether the default process group is initialized (initProcessGroup has run and it was not destroyed). */
export function isInitialized(): boolean {
  return world !== undefined;
}

/** The default group (the one initProcessGroup made). Throws if there is none. */
export function getDefaultGroup(): ProcessGroup {
  return need('getDefaultGroup').group;
}

function groupOf(fn: string, group: ProcessGroup | undefined | null): ProcessGroup {
  const w = need(fn);
  if (group === undefined || group === null) return w.group;
  if (!(group instanceof ProcessGroup)) typeError(`torch.distributed.${fn}`, "option 'group'", 'a ProcessGroup', group);
  if (!w.groups.has(group)) throw new TorchError(`torch.distributed.${fn}: the process group was destroyed`);
  return group;
}

/** The `group` option of calls that run on a process group. */
export interface GroupOption {
  /** The process group to use (default: the default group). */
  group?: ProcessGroup;
}

/** This process's rank in `group` (default: the default group). */
export function getRank(group?: ProcessGroup): number {
  return groupOf('getRank', group).rank();
}
/** The number of ranks in `group` (default: the default group). */
export function getWorldSize(group?: ProcessGroup): number {
  return groupOf('getWorldSize', group).size();
}
/** The backend of `group` (default: the default group): `'gloo'` or `'nccl'`. */
export function getBackend(group?: ProcessGroup): string {
  return groupOf('getBackend', group).backend;
}

/** Options of {@link initProcessGroup} (PyTorch's `init_process_group` arguments). */
export interface InitOptions {
  /** The backend: `'gloo'` (default) or `'nccl'` (a libtorch with CUDA and NCCL). */
  backend?: 'gloo' | 'nccl';
  /** 'env://' (default), 'tcp://host:port' or 'file:///path'. */
  initMethod?: string;
  /** This process's rank, 0..worldSize-1 (default: `?rank=` in initMethod, or RANK with env://). */
  rank?: number;
  /** The number of ranks (default: `?world_size=` in initMethod, or WORLD_SIZE with env://). */
  worldSize?: number;
  /** ms; default 30 min, as PyTorch. */
  timeout?: number;
  /** A store to rendezvous on instead of initMethod (rank and worldSize are then required). */
  store?: Store;
  /**
   * Check before each collective that every rank made the same call (op, root, dtype, shape), at
   * the cost of one small all-gather. Default true; it takes effect only when every rank of the
   * group is torch-napi (a Python rank does not take part), and then turns Gloo's abort or hang on
   * mismatched tensors into an error on every rank. false: exactly PyTorch's behaviour.
   */
  checkCollectives?: boolean;
  /** Block this thread (and the event loop) until the group is made, instead of returning a Promise. */
  sync?: boolean;
}

const sleepShared = new Int32Array(new SharedArrayBuffer(4));
function sleep(ms: number, sync: boolean): Promise<void> | undefined {
  if (sync) {
    Atomics.wait(sleepShared, 0, 0, ms);
    return undefined;
  }
  return new Promise((r) => setTimeout(r, ms));
}

// Runs `steps` (a generator of native calls) either synchronously or as a Promise: one code path
// for `{sync: true}` and the async form.
type Step = Generator<unknown, unknown, unknown>;
function drive<T>(gen: Generator<unknown, T, unknown>, sync: boolean): T | Promise<T> {
  if (sync) {
    let r = gen.next();
    while (!r.done) r = gen.next(r.value);
    return r.value;
  }
  // Up to its first native call the generator runs here: argument errors throw synchronously.
  const first = gen.next();
  return (async () => {
    let r = first;
    while (!r.done) {
      let v: unknown;
      try {
        v = await r.value;
      } catch (e) {
        r = gen.throw(e); // into the generator, so that its try/catch sees a rejected step
        continue;
      }
      r = gen.next(v);
    }
    return r.value;
  })();
}

function envInt(fn: string, name: string): number {
  const v = process.env[name];
  if (v === undefined || v === '')
    throw new TorchError(
      `torch.distributed.${fn}: environment variable ${name} expected, but not set (env:// needs MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE, or the rank and worldSize options)`,
    );
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(
      `torch.distributed.${fn}: environment variable ${name} must be a non-negative integer, got ${JSON.stringify(v)}`,
    );
  return n;
}

interface Rendezvous {
  store: Store;
  rank: number;
  worldSize: number;
}

function* rendezvous(fn: string, initMethod: string, o: InitOptions, timeout: number, sync: boolean): Step {
  const F = `torch.distributed.${fn}`;
  let rank = o.rank;
  let worldSize = o.worldSize;
  const url = new URL(initMethod);
  const q = url.searchParams;
  if (rank === undefined && q.has('rank')) rank = Number(q.get('rank'));
  if (worldSize === undefined && q.has('world_size')) worldSize = Number(q.get('world_size'));
  if (url.protocol === 'env:') {
    if (rank === undefined) rank = envInt(fn, 'RANK');
    if (worldSize === undefined) worldSize = envInt(fn, 'WORLD_SIZE');
  }
  if (rank === undefined) throw new TypeError(`${F}: rank expected (option 'rank', or ?rank= in initMethod)`);
  if (worldSize === undefined)
    throw new TypeError(`${F}: worldSize expected (option 'worldSize', or ?world_size= in initMethod)`);
  checkInt(F, "option 'rank'", rank, 0);
  checkInt(F, "option 'worldSize'", worldSize, 1);
  if (rank >= worldSize)
    throw new RangeError(
      `${F}: rank ${rank} is out of range for worldSize ${worldSize} (ranks are 0..${worldSize - 1})`,
    );
  let store: Store;
  if (url.protocol === 'file:') {
    store = new FileStore(decodeURIComponent(url.pathname), worldSize);
  } else {
    let host: string;
    let port: number;
    if (url.protocol === 'env:') {
      const addr = process.env.MASTER_ADDR;
      if (!addr)
        throw new TorchError(
          `${F}: environment variable MASTER_ADDR expected, but not set (env:// rendezvous: the host of rank 0)`,
        );
      host = addr;
      port = envInt(fn, 'MASTER_PORT');
    } else if (url.protocol === 'tcp:') {
      host = url.hostname.replace(/^\[|\]$/g, '');
      if (!url.port)
        throw new TypeError(`${F}: port expected in initMethod ${JSON.stringify(initMethod)} (tcp://host:port)`);
      port = Number(url.port);
    } else {
      throw new RangeError(
        `${F}: initMethod must be env://, tcp://host:port or file:///path, got ${JSON.stringify(initMethod)}`,
      );
    }
    const args = [host, port, worldSize, rank === 0, true, timeout, true] as const;
    let made: { handle: never; port: number };
    try {
      made = (yield sync ? D.tcpStore(...args, true) : D.tcpStore(...args, false)) as typeof made;
    } catch (e) {
      if (!(e instanceof TorchError)) throw e;
      throw new TorchError(e.message.replace(/^torch\.distributed\.tcpStore:/, `${F}:`));
    }
    store = new TCPStore(host, port, { worldSize, isMaster: rank === 0, timeout }, made);
  }
  store.setTimeout(timeout);
  return { store, rank, worldSize } satisfies Rendezvous;
}

// Python's _store_based_barrier (1.x: count to worldSize by polling add(key, 0); 2.x: the last
// worker sets `<key>:last_worker`).
function* storeBasedBarrier(
  fn: string,
  rank: number,
  store: Store,
  key: string,
  worldSize: number,
  timeout: number,
  sync: boolean,
): Generator<unknown, void, unknown> {
  const opt = { sync } as { sync: true };
  yield store.add(key, 1, opt);
  let count = (yield store.add(key, 0, opt)) as number;
  const start = Date.now();
  if (V2 && count === worldSize) yield store.set(`${key}:last_worker`, '1', opt);
  while (V2 ? !((yield store.check([`${key}:last_worker`], opt)) as boolean) : count !== worldSize) {
    if (Date.now() - start > timeout)
      throw new TorchError(
        `torch.distributed.${fn}: timed out initializing process group in store based barrier on rank ${rank}, for key: ${key} (world_size=${worldSize}, worker_count=${count}, timeout=${timeout} ms): a rank did not arrive (did it start? is worldSize right?)`,
      );
    yield sleep(10, sync);
    count = (yield store.add(key, 0, opt)) as number;
  }
}

// Python's _new_process_group_helper for a member: the group's stores, the native group.
function* makeGroup(
  fn: string,
  backend: string,
  store: Store,
  groupRank: number,
  ranks: number[],
  timeout: number,
  desc: string,
  check: boolean,
  sync: boolean,
): Generator<unknown, ProcessGroup, unknown> {
  const name = String(groupCount++);
  const groupStore = new PrefixStore(V2 ? `${name}/` : name, store);
  // Which ranks are torch-napi: each says so before connecting; once Gloo has connected them
  // all, every rank's mark (made before its connect) is in the store, so all ranks agree.
  const mark = (r: number) => `torch_napi/${r}`;
  const opt = { sync } as { sync: true };
  yield groupStore.set(mark(groupRank), check ? '1' : '0', opt);
  const backendStore = V2 ? new PrefixStore(backend === 'nccl' ? 'cuda/' : 'cpu/', groupStore) : groupStore;
  const args = [backend, groupStore._store, backendStore._store, groupRank, ranks.length, timeout, name, desc] as const;
  let pg: GroupHandle;
  try {
    pg = (yield sync ? D.newGroup(...args, true) : D.newGroup(...args, false)) as GroupHandle;
  } catch (e) {
    const m = (e as Error).message;
    if (e instanceof TorchError && !m.includes('Gloo') && !m.includes('nccl'))
      throw new TorchError(
        `torch.distributed.${fn}: could not connect the ranks of group ${name} (${ranks.length} ranks, timeout ${timeout} ms; did every rank start, with the same worldSize?): ${m.replace(/^torch\.distributed\.newGroup: /, '')}`,
      );
    throw e;
  }
  if (check) {
    const keys = ranks.map((_, i) => mark(i));
    let all = (yield groupStore.check(keys, opt)) as boolean;
    for (let i = 0; all && i < keys.length; i++)
      all = ((yield groupStore.get(keys[i], opt)) as Buffer).toString() === '1';
    D.setChecked(pg, all);
  }
  return new ProcessGroup(pg, ranks, name, backend, groupStore);
}

// 1.x: Python sets a group's sequence number (rank 0 writes it to the group's store, the others
// wait for it) after the store-based barrier; 2.x does it when making the backend (native).
function* sequenceNumber(g: ProcessGroup, sync: boolean): Generator<unknown, void, unknown> {
  yield sync ? D.setSequenceNumber(g._pg, true) : D.setSequenceNumber(g._pg, false);
}

function checkBackend(fn: string, backend: unknown): 'gloo' | 'nccl' {
  const F = `torch.distributed.${fn}`;
  if (backend !== 'gloo' && backend !== 'nccl')
    throw new RangeError(
      `${F}: unknown backend ${JSON.stringify(backend)} (torch-napi has 'gloo', and 'nccl' where libtorch has it)`,
    );
  if (backend === 'gloo' && !NATIVE.gloo)
    throw new TorchError(
      `${F}: this build of torch-napi has no Gloo: Gloo's headers (gloo/*.h) were missing when it was built. Install them (Debian/Ubuntu: apt install libgloo-dev) and rebuild torch-napi.`,
    );
  if (backend === 'nccl' && !NATIVE.nccl)
    throw new TorchError(
      `${F}: backend 'nccl' needs a libtorch with CUDA and NCCL; this one has none. Use backend 'gloo'.`,
    );
  return backend;
}

/**
 * Joins the default process group (PyTorch's `init_process_group`). Every rank calls it; rank 0
 * hosts the TCPStore. Resolves once all ranks are connected. `{sync: true}` blocks instead.
 */
export function initProcessGroup<O extends InitOptions>(opts: O): Out<void, O>;
export function initProcessGroup(opts: InitOptions = {}): void | Promise<void> {
  const fn = 'initProcessGroup';
  const F = `torch.distributed.${fn}`;
  if (typeof opts !== 'object' || opts === null) typeError(F, 'options', 'an options object', opts);
  const backend = checkBackend(fn, opts.backend ?? 'gloo');
  if (world)
    throw new TorchError(`${F}: trying to initialize the default process group twice (destroyProcessGroup first)`);
  const timeout = opts.timeout === undefined ? DEFAULT_TIMEOUT_MS : checkInt(F, "option 'timeout'", opts.timeout, 1);
  const sync = opts.sync === true;
  if (opts.store !== undefined && opts.initMethod !== undefined)
    throw new TypeError(`${F}: give either initMethod or store, not both`);
  const initMethod = opts.initMethod ?? (opts.store ? '' : 'env://');
  if (typeof initMethod !== 'string') typeError(F, "option 'initMethod'", 'a string', initMethod);
  const gen = (function* (): Generator<unknown, void, unknown> {
    let r: Rendezvous;
    let defaultStore: Store;
    const keep: Store[] = [];
    if (opts.store !== undefined) {
      if (!(opts.store instanceof Store)) typeError(F, "option 'store'", 'a Store', opts.store);
      const rank = checkInt(F, "option 'rank'", opts.rank, 0);
      const worldSize = checkInt(F, "option 'worldSize'", opts.worldSize, 1);
      if (rank >= worldSize) throw new RangeError(`${F}: rank ${rank} is out of range for worldSize ${worldSize}`);
      r = { store: opts.store, rank, worldSize };
      defaultStore = opts.store;
    } else {
      r = (yield* rendezvous(fn, initMethod, opts, timeout, sync)) as Rendezvous;
      keep.push(r.store);
      defaultStore = new PrefixStore('default_pg', r.store);
    }
    const ranks = Array.from({ length: r.worldSize }, (_, i) => i);
    groupCount = 0;
    const check = opts.checkCollectives !== false;
    const group = yield* makeGroup(fn, backend, defaultStore, r.rank, ranks, timeout, 'default_pg', check, sync);
    world = { group, store: defaultStore, keep, groups: new Set([group]), initMethod, check };
    try {
      if (!V2 || process.env.TORCH_DIST_INIT_BARRIER === '1') {
        const key = `store_based_barrier_key:${V2 ? group.name : groupCount}`;
        yield* storeBasedBarrier(fn, r.rank, defaultStore, key, r.worldSize, timeout, sync);
      }
      if (!V2) yield* sequenceNumber(group, sync);
    } catch (e) {
      destroyAll();
      throw e;
    }
  })();
  return drive(gen, sync);
}

/** Options of {@link newGroup}. */
export interface NewGroupOptions {
  /** The group's timeout (ms); default 30 min, as PyTorch (not the default group's timeout). */
  timeout?: number;
  /** The group's backend (default: the default group's). */
  backend?: 'gloo' | 'nccl';
  /** As InitOptions.checkCollectives (default: the default group's setting). */
  checkCollectives?: boolean;
  /** Block this thread (and the event loop) until the group is made, instead of returning a Promise. */
  sync?: boolean;
}

/**
 * A new group of `ranks` (default: all), PyTorch's `new_group`: every rank of the default group
 * must call it, in the same order as the others' newGroup calls, members or not. Resolves with
 * the group, or null on a rank outside `ranks` (Python's GroupMember.NON_GROUP_MEMBER).
 */
export function newGroup<O extends NewGroupOptions>(ranks?: number[] | null, opts?: O): Out<ProcessGroup | null, O>;
export function newGroup(ranks?: number[] | null, opts: NewGroupOptions = {}): unknown {
  const fn = 'newGroup';
  const F = `torch.distributed.${fn}`;
  const w = need(fn);
  const worldSize = w.group.size();
  const globalRank = w.group.rank();
  let sorted: number[];
  if (ranks === undefined || ranks === null) sorted = Array.from({ length: worldSize }, (_, i) => i);
  else {
    if (!Array.isArray(ranks)) typeError(F, 'ranks', 'an array of ranks', ranks);
    sorted = ranks.map((r, i) => checkInt(F, `ranks[${i}]`, r, 0)).sort((a, b) => a - b);
    if (sorted.length > worldSize)
      throw new RangeError(
        `${F}: the new group's world size (${sorted.length}) must be <= the world size (${worldSize})`,
      );
    for (const r of sorted)
      if (r >= worldSize) throw new RangeError(`${F}: rank ${r} is outside the world (worldSize ${worldSize})`);
    if (new Set(sorted).size !== sorted.length)
      throw new RangeError(`${F}: ranks has duplicates: ${JSON.stringify(ranks)}`);
  }
  const backend = checkBackend(fn, opts.backend ?? w.group.backend);
  const timeout = opts.timeout === undefined ? DEFAULT_TIMEOUT_MS : checkInt(F, "option 'timeout'", opts.timeout, 1);
  const sync = opts.sync === true;
  const gen = (function* (): Generator<unknown, ProcessGroup | null, unknown> {
    let group: ProcessGroup | null = null;
    const groupRank = sorted.indexOf(globalRank);
    if (groupRank >= 0) {
      const check = opts.checkCollectives ?? w.check;
      // 1.x makes a group from the default store; 2.x from the default group's own prefix store
      // (Python's _world.pg_map[default_pg][1])
      const from = V2 ? w.group._groupStore : w.store;
      group = yield* makeGroup(fn, backend, from, groupRank, sorted, timeout, 'undefined', check, sync);
      w.groups.add(group);
    } else groupCount++;
    if (!V2 || process.env.TORCH_DIST_INIT_BARRIER === '1') {
      const key = `store_based_barrier_key:${V2 ? String(groupCount - 1) : groupCount}`;
      yield* storeBasedBarrier(fn, globalRank, V2 ? w.group._groupStore : w.store, key, worldSize, timeout, sync);
    }
    if (!V2 && group) yield* sequenceNumber(group, sync);
    return group;
  })();
  return drive(gen, sync);
}

function destroyAll(): void {
  if (!world) return;
  for (const g of world.groups) D.destroyGroup(g._pg);
  world = undefined;
  groupCount = 0;
}

/** Destroys `group`, or (default) every group and the default one, as PyTorch's destroy_process_group. */
export function destroyProcessGroup(group?: ProcessGroup): void {
  const w = need('destroyProcessGroup');
  if (group === undefined || group === w.group) {
    destroyAll();
    return;
  }
  groupOf('destroyProcessGroup', group);
  D.destroyGroup(group._pg);
  w.groups.delete(group);
}

// ---------------------------------------------------------------------------------------------
// Collectives.

/** Options of every collective: the group, and whether to run synchronously. */
export interface CollectiveOptions extends GroupOption {
  /** Run on this thread and return (blocks the event loop); otherwise a Promise. */
  sync?: boolean;
}
/** Options of the reducing collectives (allReduce, reduce, reduceScatter). */
export interface ReduceOptions extends CollectiveOptions {
  /** Default ReduceOp.SUM. */
  op?: ReduceOpName | Uppercase<ReduceOpName>;
}

function tensorArg(F: string, what: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) typeError(F, what, 'a Tensor', t);
  return t;
}

function checkList(F: string, what: string, v: unknown, n: number, like: Tensor): Tensor[] {
  if (!Array.isArray(v)) typeError(F, what, 'an array of tensors', v);
  if (v.length !== n)
    throw new RangeError(`${F}: expected ${what} to hold ${n} tensors (one per rank of the group), got ${v.length}`);
  v.forEach((t, i) => {
    tensorArg(F, `${what}[${i}]`, t);
    const s = (t as Tensor).shape;
    if ((t as Tensor).dtype !== like.dtype || s.length !== like.shape.length || s.some((d, k) => d !== like.shape[k]))
      throw new TypeError(
        `${F}: ${what}[${i}] must have the dtype and shape of the tensor (${like.dtype} [${like.shape.join(', ')}]), got ${(t as Tensor).dtype} [${s.join(', ')}]`,
      );
  });
  return v as Tensor[];
}

const FLOATING = new Set(['float32', 'float64', 'float16', 'bfloat16']);

function reduceOp(F: string, op: unknown, t: Tensor): { reduceOp: string; avg: boolean } {
  const name = op === undefined ? 'sum' : typeof op === 'string' ? op.toLowerCase() : undefined;
  if (name === undefined || !REDUCE_OPS.includes(name))
    throw new RangeError(
      `${F}: expected option 'op' to be one of ${REDUCE_OPS.join(', ')} (ReduceOp), got ${JSON.stringify(op)}`,
    );
  if (name === 'avg') {
    if (!FLOATING.has(t.dtype))
      throw new TypeError(
        `${F}: ReduceOp.AVG needs a floating-point tensor, got ${t.dtype} (Gloo has no AVG: torch-napi sums, then divides by the group size)`,
      );
    return { reduceOp: 'sum', avg: true };
  }
  return { reduceOp: name, avg: false };
}

/**
 * gather's gatherList / scatter's scatterList: on the root (group rank `root`), one tensor per rank
 * of the group, as handles; on the other ranks none may be given (undefined).
 */
function rootList(
  F: string,
  g: ProcessGroup,
  root: number,
  globalRoot: number,
  name: 'gatherList' | 'scatterList',
  role: 'destination' | 'source',
  list: Tensor[] | undefined,
  like: Tensor,
): CollectiveCall['tensors'] {
  if (root === g.rank()) return checkList(F, `option '${name}'`, list, g.size(), like).map((x) => x._h);
  if (list !== undefined && list.length > 0)
    throw new TypeError(`${F}: ${name} is given on rank ${getRank()}, which is not the ${role} rank ${globalRoot}`);
  return undefined;
}

function groupRankOf(F: string, g: ProcessGroup, globalRank: unknown, what: string): number {
  checkInt(F, what, globalRank, 0);
  const r = g.ranks.indexOf(globalRank as number);
  if (r < 0)
    throw new RangeError(
      `${F}: ${what} ${globalRank} is not a rank of the group (global ranks ${JSON.stringify(g.ranks)})`,
    );
  return r;
}

function run<O extends CollectiveOptions>(
  g: ProcessGroup,
  op: string,
  call: CollectiveCall,
  o: O | undefined,
): Out<void, O> {
  if (o?.sync === true) return D.collective(g._pg, op, call, true) as Out<void, O>;
  return D.collective(g._pg, op, call, false) as Out<void, O>;
}

function prologue(fn: string, o: CollectiveOptions | undefined): { F: string; g: ProcessGroup } {
  const F = `torch.distributed.${fn}`;
  if (o !== undefined && (typeof o !== 'object' || o === null)) typeError(F, 'options', 'an options object', o);
  return { F, g: groupOf(fn, o?.group) };
}

/** Reduces `tensor` across the group in place (every rank gets the result). */
export function allReduce<O extends ReduceOptions>(tensor: Tensor, opts?: O): Out<void, O> {
  const { F, g } = prologue('allReduce', opts);
  const t = tensorArg(F, 'tensor', tensor);
  return run(g, 'allReduce', { tensor: t._h, ...reduceOp(F, opts?.op, t) }, opts);
}

/** Copies `src`'s tensor (a global rank) into `tensor` on every rank. */
export function broadcast<O extends CollectiveOptions>(tensor: Tensor, src: number, opts?: O): Out<void, O> {
  const { F, g } = prologue('broadcast', opts);
  const t = tensorArg(F, 'tensor', tensor);
  return run(g, 'broadcast', { tensor: t._h, root: groupRankOf(F, g, src, 'src') }, opts);
}

/** Reduces `tensor` into rank `dst`'s `tensor` (the others' are left as they are, or scratch). */
export function reduce<O extends ReduceOptions>(tensor: Tensor, dst: number, opts?: O): Out<void, O> {
  const { F, g } = prologue('reduce', opts);
  const t = tensorArg(F, 'tensor', tensor);
  return run(g, 'reduce', { tensor: t._h, root: groupRankOf(F, g, dst, 'dst'), ...reduceOp(F, opts?.op, t) }, opts);
}

/** Every rank's `tensor` into `tensorList` (one tensor per rank of the group), on every rank. */
export function allGather<O extends CollectiveOptions>(tensorList: Tensor[], tensor: Tensor, opts?: O): Out<void, O> {
  const { F, g } = prologue('allGather', opts);
  const t = tensorArg(F, 'tensor', tensor);
  const list = checkList(F, 'tensorList', tensorList, g.size(), t);
  return run(g, 'allGather', { tensor: t._h, tensors: list.map((x) => x._h) }, opts);
}

/** Options of {@link gather}. */
export interface GatherOptions extends CollectiveOptions {
  /** On `dst`: one tensor per rank of the group. */
  gatherList?: Tensor[];
  /** Default 0 (a global rank). */
  dst?: number;
}

/** Every rank's `tensor` into `gatherList` on rank `dst`. */
export function gather<O extends GatherOptions>(tensor: Tensor, opts?: O): Out<void, O> {
  const { F, g } = prologue('gather', opts);
  const t = tensorArg(F, 'tensor', tensor);
  const root = groupRankOf(F, g, opts?.dst ?? 0, 'dst');
  const tensors = rootList(F, g, root, opts?.dst ?? 0, 'gatherList', 'destination', opts?.gatherList, t);
  return run(g, 'gather', { tensor: t._h, root, tensors }, opts);
}

/** Options of {@link scatter}. */
export interface ScatterOptions extends CollectiveOptions {
  /** On `src`: one tensor per rank of the group. */
  scatterList?: Tensor[];
  /** Default 0 (a global rank). */
  src?: number;
}

/** Rank `src`'s `scatterList[i]` into rank i's `tensor`. */
export function scatter<O extends ScatterOptions>(tensor: Tensor, opts?: O): Out<void, O> {
  const { F, g } = prologue('scatter', opts);
  const t = tensorArg(F, 'tensor', tensor);
  const root = groupRankOf(F, g, opts?.src ?? 0, 'src');
  const inputs = rootList(F, g, root, opts?.src ?? 0, 'scatterList', 'source', opts?.scatterList, t);
  return run(g, 'scatter', { tensor: t._h, root, inputs }, opts);
}

/**
 * Reduces `inputList[i]` across the ranks into rank i's `output`. libtorch 2.x: Gloo's reduce_scatter_tensor (the inputs laid end to end);
 * on 1.13 it rejects, saying so.
 */
export function reduceScatter<O extends ReduceOptions>(output: Tensor, inputList: Tensor[], opts?: O): Out<void, O> {
  const { F, g } = prologue('reduceScatter', opts);
  const t = tensorArg(F, 'output', output);
  const list = checkList(F, 'inputList', inputList, g.size(), t);
  return run(g, 'reduceScatter', { tensor: t._h, inputs: list.map((x) => x._h), ...reduceOp(F, opts?.op, t) }, opts);
}

/** PyTorch's all_to_all_single with equal splits: chunk i of `input` goes to rank i, into chunk `rank` of its `output`. */
export function allToAllSingle<O extends CollectiveOptions>(output: Tensor, input: Tensor, opts?: O): Out<void, O> {
  const { F, g } = prologue('allToAllSingle', opts);
  const o = tensorArg(F, 'output', output);
  const i = tensorArg(F, 'input', input);
  if (o.dtype !== i.dtype || o.numel() !== i.numel())
    throw new TypeError(
      `${F}: output and input must have the same dtype and size, got ${o.dtype} [${o.shape.join(', ')}] and ${i.dtype} [${i.shape.join(', ')}]`,
    );
  if (i.shape.length === 0 || i.shape[0] % g.size() !== 0)
    throw new RangeError(
      `${F}: input's first dimension must divide by the group size ${g.size()}, got [${i.shape.join(', ')}]`,
    );
  return run(g, 'allToAll', { tensor: o._h, input: i._h }, opts);
}

/** Options of the point-to-point calls (send, recv, isend, irecv). */
export interface P2POptions extends CollectiveOptions {
  /** Matches a send with the recv of the same tag (default 0). */
  tag?: number;
}

/** Sends `tensor` to rank `dst` (a global rank). */
export function send<O extends P2POptions>(tensor: Tensor, dst: number, opts?: O): Out<void, O> {
  const { F, g } = prologue('send', opts);
  const t = tensorArg(F, 'tensor', tensor);
  const peer = groupRankOf(F, g, dst, 'dst');
  if (peer === g.rank()) throw new RangeError(`${F}: dst ${dst} is this rank: a rank cannot send to itself`);
  return run(g, 'send', { tensor: t._h, peer, tag: checkInt(F, "option 'tag'", opts?.tag ?? 0) }, opts);
}

/** Receives into `tensor` from rank `src` (a global rank). */
export function recv<O extends P2POptions>(tensor: Tensor, src: number, opts?: O): Out<void, O> {
  const { F, g } = prologue('recv', opts);
  const t = tensorArg(F, 'tensor', tensor);
  const peer = groupRankOf(F, g, src, 'src');
  if (peer === g.rank()) throw new RangeError(`${F}: src ${src} is this rank: a rank cannot receive from itself`);
  return run(g, 'recv', { tensor: t._h, peer, tag: checkInt(F, "option 'tag'", opts?.tag ?? 0) }, opts);
}

/** A point-to-point operation in flight (isend/irecv), as PyTorch's Work. */
export class Work {
  private done = false;
  private readonly promise: Promise<void>;
  /** @internal */
  constructor(p: Promise<void>) {
    this.promise = p.then(() => {
      this.done = true;
    });
    // A Work nobody waits on must not become an unhandled rejection before wait() is called.
    this.promise.catch(() => {});
  }
  /** Resolves when the operation has finished; rejects if it failed. */
  wait(): Promise<void> {
    return this.promise;
  }
  /** Whether the operation has finished successfully (false while in flight, or if it failed). */
  isCompleted(): boolean {
    return this.done;
  }
}

/** Starts sending `tensor` to rank `dst` (a global rank) and returns its {@link Work} at once (PyTorch's `isend`). */
export function isend(tensor: Tensor, dst: number, opts?: Omit<P2POptions, 'sync'>): Work {
  return new Work(send(tensor, dst, { ...opts, sync: false }));
}
/** Starts receiving into `tensor` from rank `src` (a global rank) and returns its {@link Work} at once (PyTorch's `irecv`). */
export function irecv(tensor: Tensor, src: number, opts?: Omit<P2POptions, 'sync'>): Work {
  return new Work(recv(tensor, src, { ...opts, sync: false }));
}

/** Waits until every rank of the group reaches it. */
export function barrier<O extends CollectiveOptions>(opts?: O): Out<void, O> {
  const { g } = prologue('barrier', opts);
  return run(g, 'barrier', {}, opts);
}
