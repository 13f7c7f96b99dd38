// Key-value stores, as torch.distributed's (c10d's own TCPStore, FileStore and PrefixStore): the
// rendezvous of process groups, and a place for ranks to exchange small values.
import { checkInt, typeError } from '../errors';
import { D, type StoreHandle } from './native';

/** `{sync: true}` runs the call on this thread and returns its result; otherwise a Promise. */
export interface SyncOption {
  /** Run on this thread and return the result (blocks the event loop); otherwise a Promise. */
  sync?: boolean;
}
type Out<T, O> = O extends { sync: true } ? T : Promise<T>;

/** PyTorch's default store timeout (300 s). */
export const DEFAULT_STORE_TIMEOUT_MS = 300_000;

function checkKey(fn: string, key: unknown): string {
  if (typeof key !== 'string') typeError(fn, 'key', 'a string', key);
  return key;
}

function checkKeys(fn: string, keys: unknown): string[] {
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string'))
    typeError(fn, 'keys', 'an array of strings', keys);
  return keys as string[];
}

/** A c10d store. Each method returns a Promise (waited on the thread pool), or its value with `{sync: true}`. */
export class Store {
  /** @internal */
  readonly _store: StoreHandle;
  /** @internal */
  protected readonly _kind: string;

  /** @internal */
  constructor(handle: StoreHandle, kind: string) {
    this._store = handle;
    this._kind = kind;
  }

  private op<O extends SyncOption | undefined>(op: string, key: unknown, value: unknown, opts: O): unknown {
    return D.storeOp(this._store, op, `${this._kind}.${op}`, key as string, value, opts?.sync === true);
  }

  /** Sets `key` to `value` (a string is stored as its UTF-8 bytes). */
  set<O extends SyncOption | undefined = undefined>(key: string, value: string | Uint8Array, opts?: O): Out<void, O> {
    checkKey(`${this._kind}.set`, key);
    if (typeof value !== 'string' && !(value instanceof Uint8Array))
      typeError(`${this._kind}.set`, 'value', 'a string or a Uint8Array', value);
    return this.op('set', key, value, opts) as Out<void, O>;
  }

  /** The value of `key` (a Buffer), waiting for it up to the store's timeout. */
  get<O extends SyncOption | undefined = undefined>(key: string, opts?: O): Out<Buffer, O> {
    return this.op('get', checkKey(`${this._kind}.get`, key), undefined, opts) as Out<Buffer, O>;
  }

  /** Adds `amount` to the integer at `key` (created at 0) and returns the new value. */
  add<O extends SyncOption | undefined = undefined>(key: string, amount: number, opts?: O): Out<number, O> {
    checkKey(`${this._kind}.add`, key);
    checkInt(`${this._kind}.add`, 'amount', amount);
    return this.op('add', key, amount, opts) as Out<number, O>;
  }

  /** Waits until every key of `keys` is set (`timeout` ms, default the store's timeout). */
  wait<
    O extends
      | (SyncOption & {
          /** How long to wait (ms); default the store's timeout. */
          timeout?: number;
        })
      | undefined = undefined,
  >(keys: string[], opts?: O): Out<void, O> {
    checkKeys(`${this._kind}.wait`, keys);
    const t = opts?.timeout === undefined ? -1 : checkInt(`${this._kind}.wait`, 'timeout', opts.timeout, 0);
    return this.op('wait', keys, t, opts) as Out<void, O>;
  }

  /** Deletes `key`; true if it existed. */
  deleteKey<O extends SyncOption | undefined = undefined>(key: string, opts?: O): Out<boolean, O> {
    return this.op('deleteKey', checkKey(`${this._kind}.deleteKey`, key), undefined, opts) as Out<boolean, O>;
  }

  /** Whether every key of `keys` is set (does not wait). */
  check<O extends SyncOption | undefined = undefined>(keys: string[], opts?: O): Out<boolean, O> {
    return this.op('check', checkKeys(`${this._kind}.check`, keys), undefined, opts) as Out<boolean, O>;
  }

  /** The number of keys in the store (a TCPStore counts its own bookkeeping keys, as in PyTorch). */
  numKeys<O extends SyncOption | undefined = undefined>(opts?: O): Out<number, O> {
    return this.op('numKeys', undefined, undefined, opts) as Out<number, O>;
  }

  /** Sets the timeout (ms) of later get/wait calls. */
  setTimeout(timeout: number): void {
    checkInt(`${this._kind}.setTimeout`, 'timeout', timeout, 0);
    D.storeOp(this._store, 'setTimeout', `${this._kind}.setTimeout`, undefined, timeout, true);
  }
}

/** Options of {@link TCPStore} (PyTorch's `TCPStore` arguments). */
export interface TCPStoreOptions {
  /** The number of store users (ranks); the server waits for all of them when `waitForWorkers`. */
  worldSize?: number;
  /** Whether this process hosts the store (rank 0). */
  isMaster?: boolean;
  /** ms; default 300 000 as PyTorch. */
  timeout?: number;
  /** On the server: whether the constructor waits until `worldSize` clients have connected (default true). */
  waitForWorkers?: boolean;
  /** Whether the TCPStores of this process with the same host and port share one server (default false). */
  multiTenant?: boolean;
}

function tcpArgs(fn: string, host: unknown, port: unknown, o: TCPStoreOptions = {}) {
  if (typeof host !== 'string') typeError(fn, 'host', 'a string', host);
  checkInt(fn, 'port', port, 0);
  if ((port as number) > 65535) typeError(fn, 'port', 'a port number (0..65535)', port);
  const worldSize = o.worldSize === undefined ? -1 : checkInt(fn, 'worldSize', o.worldSize, 1);
  const timeout = o.timeout === undefined ? DEFAULT_STORE_TIMEOUT_MS : checkInt(fn, 'timeout', o.timeout, 0);
  return [
    host as string,
    port as number,
    worldSize,
    o.isMaster === true,
    o.waitForWorkers !== false,
    timeout,
    o.multiTenant === true,
  ] as const;
}

/**
 * c10d's TCPStore: the server on `isMaster` (rank 0), a client everywhere (the server's own too).
 * `new TCPStore(...)` blocks while it connects (and, on the server, waits for `worldSize` clients);
 * `TCPStore.create(...)` does the same on the thread pool.
 */
export class TCPStore extends Store {
  /** The server's host. */
  readonly host: string;
  /** The server's port (the one it bound, when 0 was asked for). */
  readonly port: number;

  constructor(host: string, port: number, opts?: TCPStoreOptions);
  /** @internal */
  constructor(
    host: string,
    port: number,
    opts: TCPStoreOptions | undefined,
    made: { handle: StoreHandle; port: number },
  );
  constructor(host: string, port: number, opts?: TCPStoreOptions, made?: { handle: StoreHandle; port: number }) {
    const m = made ?? D.tcpStore(...tcpArgs('TCPStore', host, port, opts), true);
    super(m.handle, 'TCPStore');
    this.host = host;
    this.port = m.port;
  }

  /** As `new TCPStore(...)`, but connects (and waits for the clients) on the thread pool: resolves with the store. */
  static async create(host: string, port: number, opts?: TCPStoreOptions): Promise<TCPStore> {
    const made = await D.tcpStore(...tcpArgs('TCPStore.create', host, port, opts), false);
    return new TCPStore(host, port, opts, made);
  }
}

/** c10d's FileStore: a file shared by the ranks (a local or shared file system). */
export class FileStore extends Store {
  /** The file's path. */
  readonly path: string;
  /** The store on file `path`, shared by `worldSize` ranks (-1: unknown). */
  constructor(path: string, worldSize = -1) {
    if (typeof path !== 'string') typeError('FileStore', 'path', 'a string', path);
    checkInt('FileStore', 'worldSize', worldSize, -1);
    super(D.fileStore(path, worldSize), 'FileStore');
    this.path = path;
  }
}

/** A view of `store` whose keys are `prefix + "/" + key` (c10d's PrefixStore). */
export class PrefixStore extends Store {
  /** The prefix put before every key. */
  readonly prefix: string;
  /** The store the keys are kept in. */
  readonly underlying: Store;
  /** A view of `store` under `prefix`. */
  constructor(prefix: string, store: Store) {
    if (typeof prefix !== 'string') typeError('PrefixStore', 'prefix', 'a string', prefix);
    if (!(store instanceof Store)) typeError('PrefixStore', 'store', 'a Store', store);
    super(D.prefixStore(prefix, store._store), 'PrefixStore');
    this.prefix = prefix;
    this.underlying = store;
  }
}
