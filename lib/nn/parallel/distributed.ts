// nn.parallel.DistributedDataParallel: PyTorch's DDP, driving libtorch's own c10d::Reducer
// (native/ddp.cc). Every call into the Reducer and every collective happens at the point where
// PyTorch's torch/nn/parallel/distributed.py makes it, so a Node rank and a Python rank can be in
// one DDP group: at wrap time verify_params_across_processes (an allgather and a broadcast), then
// broadcast_coalesced of rank 0's parameters and buffers (250 MB buckets); at each forward
// prepare_for_forward, rebuild_buckets, the buffers' broadcast (broadcastBuffers) and, after the
// wrapped module ran, prepare_for_backward. The gradients are averaged by the Reducer during
// backward: bucketed, each bucket's allreduce started from the autograd hooks as soon as its
// gradients are ready, overlapped with the rest of the backward pass.

import { isGradEnabled } from '../../autograd';
import { getDefaultGroup, isInitialized, ProcessGroup } from '../../distributed';
import { checkBool, checkOptions, describe, TorchError } from '../../errors';
import { type Handle, native as N, type ReducerHandle } from '../../native';
import { Tensor } from '../../tensor';
import { Module } from '../modules/module';

/** Options of `new nn.parallel.DistributedDataParallel(module, opts)` (PyTorch's keyword arguments). */
export interface DistributedDataParallelOptions {
  /** The group whose ranks average gradients; default: the default group (`initProcessGroup`). */
  processGroup?: ProcessGroup;
  /** The size of a gradient bucket in MiB (the first bucket is 1 MiB, as in PyTorch). Default 25. */
  bucketCapMB?: number;
  /**
   * Walk the autograd graph from the forward's outputs to find the parameters this iteration does
   * not use, so that their buckets do not wait for them. Default false (as PyTorch).
   */
  findUnusedParameters?: boolean;
  /** Broadcast rank 0's buffers at the start of each forward. Default true. */
  broadcastBuffers?: boolean;
  /** Make each `.grad` a view into its allreduce bucket (saves one copy and memory). Default false. */
  gradientAsBucketView?: boolean;
}

const kBroadcastBucketBytes = 250 * 1024 * 1024; // PyTorch's DDP broadcast_bucket_size

/** The tensors of a forward's output (arrays, plain objects, Maps), as PyTorch's `_find_tensors`. */
function findTensors(v: unknown, out: Handle[], seen = new Set<unknown>()): Handle[] {
  if (v instanceof Tensor) {
    if (!v.isDisposed) out.push(v._h);
  } else if (v !== null && typeof v === 'object' && !seen.has(v)) {
    seen.add(v);
    if (Array.isArray(v)) for (const x of v) findTensors(x, out, seen);
    else if (v instanceof Map) for (const x of v.values()) findTensors(x, out, seen);
    else if (Object.getPrototypeOf(v) === Object.prototype)
      for (const x of Object.values(v as Record<string, unknown>)) findTensors(x, out, seen);
  }
  return out;
}

/**
 * Data-parallel training across the ranks of a process group (PyTorch's
 * `torch.nn.parallel.DistributedDataParallel`). Each rank runs the same model on its own shard of
 * the data; during `backward()` the gradients are averaged across the ranks by libtorch's
 * `c10d::Reducer` (bucketed allreduce, overlapped with the backward pass), so every rank's
 * optimizer takes the same step. Wrapping verifies that every rank's parameters have the same
 * shapes and copies rank 0's parameters and buffers to all ranks.
 *
 * The wrapper is an `nn.Module` whose only child is `module`: `stateDict()` keys start with
 * `module.` as in PyTorch, and `loadStateDict` takes them. Pass `ddp.parameters()` (or
 * `ddp.module.parameters()`: the same tensors) to any optimizer.
 *
 * @example
 * torch.distributed.initProcessGroup({ backend: 'gloo' }); // env://, from the launcher
 * const ddp = new nn.parallel.DistributedDataParallel(new Net());
 * const opt = new torch.optim.Adam(ddp.parameters(), { lr: 1e-3 });
 * const loss = F.mseLoss(ddp.forward(x), y);
 * loss.backward(); // gradients averaged across ranks
 * opt.step();
 */
export class DistributedDataParallel<M extends Module = Module> extends Module {
  /** The wrapped model. */
  declare module: M;
  declare private readonly _reducer: ReducerHandle;
  declare private readonly _pg: unknown;
  declare private readonly _opts: Required<Omit<DistributedDataParallelOptions, 'processGroup'>>;
  declare private _requireBackwardGradSync: boolean;
  declare private _requireForwardParamSync: boolean;
  declare private _disposed: boolean;

  constructor(module: M, opts: DistributedDataParallelOptions = {}) {
    super();
    const fn = 'DistributedDataParallel';
    if (!(module instanceof Module))
      throw new TypeError(`${fn}: expected module to be an nn.Module, got ${describe(module)}`);
    const o = checkOptions<DistributedDataParallelOptions>(fn, opts, [
      'processGroup',
      'bucketCapMB',
      'findUnusedParameters',
      'broadcastBuffers',
      'gradientAsBucketView',
    ]);
    const bucketCapMB = o.bucketCapMB ?? 25;
    if (typeof bucketCapMB !== 'number' || !Number.isFinite(bucketCapMB) || bucketCapMB <= 0)
      throw new RangeError(`${fn}: expected bucketCapMB to be a positive number, got ${describe(bucketCapMB)}`);
    const settings = {
      bucketCapMB,
      findUnusedParameters:
        o.findUnusedParameters === undefined ? false : checkBool(fn, 'findUnusedParameters', o.findUnusedParameters),
      broadcastBuffers: o.broadcastBuffers === undefined ? true : checkBool(fn, 'broadcastBuffers', o.broadcastBuffers),
      gradientAsBucketView:
        o.gradientAsBucketView === undefined ? false : checkBool(fn, 'gradientAsBucketView', o.gradientAsBucketView),
    };
    // The Reducer's parameters: those that require grad, module by module (PyTorch's
    // _build_params_for_reducer: named_modules, then each module's own parameters, each once).
    const params: Tensor[] = [];
    const names: string[] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of module.namedModules())
      for (const [name, p] of m.namedParameters({ recurse: false }))
        if (p.requiresGrad && !seen.has(p)) {
          seen.add(p);
          params.push(p);
          names.push(prefix ? `${prefix}.${name}` : name);
        }
    if (params.length === 0)
      throw new RangeError(
        `${fn}: the module has no parameter that requires grad (DistributedDataParallel is not needed ` +
          "when a module doesn't have any parameter that requires a gradient)",
      );
    let group: ProcessGroup;
    if (o.processGroup !== undefined) {
      if (!(o.processGroup instanceof ProcessGroup))
        throw new TypeError(
          `${fn}: expected option 'processGroup' to be a torch.distributed ProcessGroup, got ${describe(o.processGroup)}`,
        );
      group = o.processGroup;
    } else {
      if (!isInitialized())
        throw new TorchError(
          `${fn}: the default process group is not initialized (call torch.distributed.initProcessGroup first, ` +
            "or pass option 'processGroup')",
        );
      group = getDefaultGroup();
    }
    const pg = group._pg;
    const hs = params.map((p) => p._h);
    try {
      N.ddpVerifyParams(pg, hs);
    } catch (e) {
      // libtorch names the parameter by its index: add its name.
      const m = /params\[(\d+)\]/.exec((e as Error).message);
      if (m && names[Number(m[1])] !== undefined)
        (e as Error).message += ` (params[${m[1]}] is '${names[Number(m[1])]}')`;
      throw e;
    }
    // Rank 0's parameters and buffers to every rank (PyTorch's _sync_module_states).
    const states = [...module.parameters(), ...module.buffers()].map((t) => t._h);
    try {
      N.ddpBroadcastCoalesced(pg, states, kBroadcastBucketBytes, 0);
    } catch (e) {
      (e as Error).message +=
        " (while broadcasting rank 0's parameters and buffers at wrap time: when another rank left, see its error;" +
        " its parameters may not match this one's)";
      throw e;
    }
    const reducer = N.ddpReducerNew(
      pg,
      hs,
      Math.floor(bucketCapMB * 1024 * 1024),
      settings.findUnusedParameters,
      settings.gradientAsBucketView,
      o.bucketCapMB === undefined,
    );
    this.module = module; // the one child: state-dict keys get the `module.` prefix
    for (const [k, v] of [
      ['_reducer', reducer],
      ['_pg', pg],
      ['_opts', settings],
      ['_requireBackwardGradSync', true],
      ['_requireForwardParamSync', true],
      ['_disposed', false],
    ] as [string, unknown][])
      Object.defineProperty(this, k, { value: v, writable: true, enumerable: false, configurable: true });
  }

  /** The parameter indices of each gradient bucket, in the order the buckets were first built. */
  get bucketIndices(): number[][] {
    return N.ddpBucketIndices(this._reducer);
  }

  private checkLive(fn: string): void {
    if (this._disposed) throw new Error(`DistributedDataParallel.${fn}: the DistributedDataParallel was disposed`);
  }

  private preForward(): void {
    const grad = isGradEnabled();
    if (grad && this._requireBackwardGradSync) N.ddpPrepareForForward(this._reducer);
    if (grad) N.ddpRebuildBuckets(this._reducer);
    if (this._requireForwardParamSync && this._opts.broadcastBuffers) {
      const bufs = [...this.module.buffers()].map((b) => b._h);
      if (bufs.length) N.ddpBroadcastCoalesced(this._pg, bufs, kBroadcastBucketBytes, 0);
    }
  }

  private postForward<T>(out: T): T {
    if (isGradEnabled() && this._requireBackwardGradSync) {
      this._requireForwardParamSync = true;
      N.ddpPrepareForBackward(this._reducer, this._opts.findUnusedParameters ? findTensors(out, []) : []);
    } else this._requireForwardParamSync = false;
    return out;
  }

  /** Runs the wrapped module's `forward` with the arguments unchanged, between DDP's own steps. */
  // biome-ignore lint/suspicious/noExplicitAny: passes through to the wrapped module's forward
  forward(...args: any[]): any {
    this.checkLive('forward');
    this.preForward();
    // biome-ignore lint/suspicious/noExplicitAny: the wrapped module's own signature
    return this.postForward((this.module.forward as (...a: any[]) => unknown)(...args));
  }

  /** `forward` with the wrapped module's `forwardAsync` (the event loop stays free while it runs). */
  // biome-ignore lint/suspicious/noExplicitAny: passes through to the wrapped module's forwardAsync
  override async forwardAsync(...args: any[]): Promise<any> {
    this.checkLive('forwardAsync');
    this.preForward();
    return this.postForward(await this.module.forwardAsync(...args));
  }

  /**
   * Gradient accumulation without communication (PyTorch's `no_sync()`): the backward passes of
   * the forwards run inside `fn` only accumulate local gradients; the first forward/backward after
   * it averages everything accumulated. With `fn` returning a Promise, the scope ends when it
   * settles. Without `fn`, returns a disposable for `using`.
   * @example
   * ddp.noSync(() => { F.mseLoss(ddp.forward(x1), y1).backward(); });
   * F.mseLoss(ddp.forward(x2), y2).backward(); // averages the gradients of both batches
   */
  noSync(): Disposable;
  noSync<T>(fn: () => T): T;
  noSync<T>(fn?: () => T): T | Disposable {
    if (fn !== undefined && typeof fn !== 'function')
      throw new TypeError(`DistributedDataParallel.noSync: expected fn to be a function, got ${describe(fn)}`);
    const old = this._requireBackwardGradSync;
    this._requireBackwardGradSync = false;
    let done = false;
    const restore = () => {
      if (!done) this._requireBackwardGradSync = old;
      done = true;
    };
    if (fn === undefined) return { [Symbol.dispose]: restore };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      restore();
      throw e;
    }
    if (result instanceof Promise) return result.finally(restore) as T;
    restore();
    return result;
  }

  /** Drops the Reducer now (its autograd hooks go with it); the wrapped module is left as it is. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    N.ddpReducerDispose(this._reducer);
  }
  /** The same as `dispose()`, so that a `using` declaration drops the Reducer at the end of its block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  override extraRepr(): string {
    return '';
  }
}
