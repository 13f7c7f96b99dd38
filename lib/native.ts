// The only module that touches the addon. Everything the native layer exports is typed here once.
import * as fs from 'node:fs';
import Module from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { type AddonKind, type Choice, chooseAddon, describeCandidate, majorMinor } from './prebuilds';

/**
 * An opaque handle to a native tensor: a number (small tensors, a slot in the native table) or
 * a Node-API external (see native/handle.h).
 */
export type Handle = number | { readonly __tensorHandle: unique symbol };
export type Scalar = number | boolean | bigint;
/** An opaque handle to a loaded TorchScript module (a Node-API external, native/jit.cc). */
export type JitHandle = { readonly __jitHandle: unique symbol };
/** An opaque handle to a recorded trace (a Node-API external, native/trace.cc). */
export type TraceHandle = { readonly __traceHandle: unique symbol };
/** An opaque handle to a CPU random generator (a Node-API external, native/generator.cc). */
export type GeneratorHandle = { readonly __generatorHandle: unique symbol };
/** An opaque handle to a DDP c10d::Reducer (a Node-API external, native/ddp.cc). */
export type ReducerHandle = { readonly __reducerHandle: unique symbol };
type H = Handle;
type S = Scalar;
type Opt<T> = T | undefined;

export interface NativeConfig {
  showConfig: string;
  parallelInfo: string;
  numThreads: number;
  blasNumThreads: number | null;
  onednnGemm: boolean;
  numInteropThreads: number;
  cudaBuilt: boolean;
  cudaAvailable: boolean;
  mkldnn: boolean;
  mkl: boolean;
  openmp: boolean;
  lapack: boolean;
}

/** The fused optimizer updates of native/optim.cc (`sgdStep`, ...). */
export type OptimKernel = 'sgd' | 'adam' | 'rmsprop' | 'adagrad';

/** A class that `jitRun` makes result tensors with (lib/tensor.ts's Tensor). */
export type TensorClass = abstract new (...args: never[]) => object;

/** `rnn`'s one argument, read by name (native/nn.cc). mode: 0 LSTM, 1 GRU, 2 RNN_TANH, 3 RNN_RELU. */
export interface RnnCall {
  mode: number;
  input: H;
  /** With batchSizes, `input` is a packed sequence's data. */
  batchSizes: H | null;
  hx: H[];
  /** With `hx` empty: `[lead, N, hOut]` (GRU/RNN) or `[lead, N, hOut, hiddenSize]` (LSTM), zero states made natively. */
  zeroStates?: number[];
  params: H[];
  hasBiases: boolean;
  numLayers: number;
  dropout: number;
  train: boolean;
  bidirectional: boolean;
  batchFirst: boolean;
}

/** `mha`'s one argument, read by name (native/attention.cc). */
export interface MhaCall {
  query: H;
  key: H;
  value: H;
  numHeads: number;
  batched: boolean;
  batchFirst: boolean;
  qkvSame: boolean;
  kvSame: boolean;
  inProjWeight?: H;
  inProjBias?: H;
  qProjWeight?: H;
  kProjWeight?: H;
  vProjWeight?: H;
  biasK?: H;
  biasV?: H;
  addZeroAttn: boolean;
  dropoutP: number;
  training: boolean;
  outProjWeight: H;
  outProjBias?: H;
  attnMask?: H;
  keyPaddingMask?: H;
  needWeights: boolean;
  averageAttnWeights: boolean;
}

/** A call object's values in the order of `K`, as the positional form of its binding takes them. */
type ValuesOf<C, K extends readonly (keyof C)[]> = { -readonly [I in keyof K]: C[K[I]] };

/** The option names of `rnnArgs`' arguments, in order (native/nn.cc's kRnnKeys). */
export const RNN_KEYS = [
  'mode',
  'input',
  'batchSizes',
  'hx',
  'zeroStates',
  'params',
  'hasBiases',
  'train',
  'bidirectional',
  'batchFirst',
  'numLayers',
  'dropout',
] as const satisfies readonly (keyof RnnCall)[];
/** `rnnArgs`' arguments: an RnnCall's values in the order of RNN_KEYS. */
export type RnnArgs = ValuesOf<RnnCall, typeof RNN_KEYS>;
/**
 * An RnnCall as `rnnArgs`' arguments (a hot call: the native side reads arguments, not properties).
 * Written out rather than `RNN_KEYS.map((k) => c[k])`, which cost ~250 ns more per call.
 */
export function rnnArgs(c: RnnCall): RnnArgs {
  return [
    c.mode,
    c.input,
    c.batchSizes,
    c.hx,
    c.zeroStates,
    c.params,
    c.hasBiases,
    c.train,
    c.bidirectional,
    c.batchFirst,
    c.numLayers,
    c.dropout,
  ];
}

/** The option names of `mhaArgs`' arguments, in order (native/attention.cc's kMhaKeys). */
export const MHA_KEYS = [
  'query',
  'key',
  'value',
  'numHeads',
  'batched',
  'batchFirst',
  'qkvSame',
  'kvSame',
  'inProjWeight',
  'inProjBias',
  'qProjWeight',
  'kProjWeight',
  'vProjWeight',
  'biasK',
  'biasV',
  'addZeroAttn',
  'dropoutP',
  'training',
  'outProjWeight',
  'outProjBias',
  'attnMask',
  'keyPaddingMask',
  'needWeights',
  'averageAttnWeights',
] as const satisfies readonly (keyof MhaCall)[];
/** `mhaArgs`' arguments: an MhaCall's values in the order of MHA_KEYS. */
export type MhaArgs = ValuesOf<MhaCall, typeof MHA_KEYS>;
/** An MhaCall as `mhaArgs`' arguments. */
export function mhaArgs(c: MhaCall): MhaArgs {
  return [
    c.query,
    c.key,
    c.value,
    c.numHeads,
    c.batched,
    c.batchFirst,
    c.qkvSame,
    c.kvSame,
    c.inProjWeight,
    c.inProjBias,
    c.qProjWeight,
    c.kProjWeight,
    c.vProjWeight,
    c.biasK,
    c.biasV,
    c.addZeroAttn,
    c.dropoutP,
    c.training,
    c.outProjWeight,
    c.outProjBias,
    c.attnMask,
    c.keyPaddingMask,
    c.needWeights,
    c.averageAttnWeights,
  ];
}

/** `transformerLayer`'s second argument, read by name (native/attention.cc). */
export interface TransformerLayerCall {
  x: H;
  memory?: H;
  normFirst: boolean;
  /** 0: relu, 1: gelu. */
  activation: number;
  linear1Weight: H;
  linear1Bias?: H;
  linear2Weight: H;
  linear2Bias?: H;
  norm1Weight?: H;
  norm1Bias?: H;
  norm2Weight?: H;
  norm2Bias?: H;
  norm3Weight?: H;
  norm3Bias?: H;
  eps1: number;
  eps2: number;
  eps3?: number;
}

/** A binding as `__exports()` reports it: its name and argument count, min..max (max -1: no maximum). */
export interface NativeExport {
  name: string;
  min: number;
  max: number;
}

/** The bindings that run at once; their `*Async` twins are derived from them below. */
export interface NativeSync {
  // handles and memory (native/handle.cc)
  dispose(h: H): void;
  /** FinalizationRegistry callback for number handles: releases the slot if still current. */
  releaseHandle(h: number): void;
  /** releaseHandle for the first `count` handles of `handles` (the GC fallback's batches). */
  releaseHandles(handles: Float64Array, count: number): void;
  /**
   * dispose() for the first `count` number handles of `handles` (a closing tidy scope); an entry an
   * async call holds is refused: it becomes -1, and the result counts them.
   */
  disposeHandles(handles: Float64Array, count: number): number;
  isDisposed(h: H): boolean;
  /** 0: free; 1: read by an async call in flight; 2: written by one (through this handle, or a view sharing its storage). */
  inUse(h: H): number;
  memory(): { tensors: number; bytes: number };
  // argument conversion and the error class (native/args.cc)
  registerErrorClass(ctor: new (message: string) => Error): void;
  dtypeNames(): string[];
  /** Every binding the addon exports, with its argument count (test/native/contract.test.ts). */
  __exports(): NativeExport[];
  // every ATen operator through the dispatcher (native/aten.cc, lib/aten.ts)
  /** [id, schema string] of each overload of a qualified name (`aten::topk`); [] when there is none. */
  atenSchemas(qualified: string): [number, string][];
  /** Whether libtorch may pick oneDNN kernels (at::globalContext().userEnabledMkldnn()). */
  mkldnnEnabled(): boolean;
  setMkldnnEnabled(enabled: boolean): void;
  /** Every registered operator with its overload name (`aten::add.Tensor`). */
  atenNames(): string[];
  /** Calls overload `id` boxed: one value per schema argument, in order (undefined: the default); bit k of wrapMask: a number for Tensor argument k. */
  atenCall(id: number, wrapMask: number, ...args: unknown[]): unknown;
  /** dlopen()s a library that registers operators (torch.ops.loadLibrary). */
  atenLoadLibrary(path: string): void;
  // creation (dtype codes index DTYPES in dtype.ts; native/creation.cc)
  fromBuffer(data: ArrayBufferView, shape: number[], srcDtype: number, dtype?: number, device?: string): H;
  zeros(shape: number[], dtype?: number, device?: string): H;
  ones(shape: number[], dtype?: number, device?: string): H;
  empty(shape: number[], dtype?: number, device?: string): H;
  rand(shape: number[], dtype?: number, device?: string): H;
  randn(shape: number[], dtype?: number, device?: string): H;
  full(shape: number[], fill: number | boolean, dtype?: number, device?: string): H;
  randint(low: number, high: number, shape: number[], dtype?: number, device?: string): H;
  arange(start: number, end: number, step: number, dtype?: number, device?: string): H;
  linspace(start: number, end: number, steps: number, dtype?: number, device?: string): H;
  eye(n: number, m: number, dtype?: number, device?: string): H;
  randperm(n: number, dtype?: number, device?: string): H;
  scalarTensor(v: number | boolean, dtype?: number, device?: string): H;
  // tensor ops (native/tensor_ops.cc): arithmetic
  add(a: H, b: H, alpha?: number): H;
  addScalar(a: H, b: S, alpha?: number): H;
  sub(a: H, b: H, alpha?: number): H;
  subScalar(a: H, b: S, alpha?: number): H;
  mul(a: H, b: H): H;
  mulScalar(a: H, b: S): H;
  div(a: H, b: H, roundingMode?: string): H;
  divScalar(a: H, b: S, roundingMode?: string): H;
  pow(a: H, b: H): H;
  powScalar(a: H, b: S): H;
  remainder(a: H, b: H): H;
  remainderScalar(a: H, b: S): H;
  matmul(a: H, b: H): H;
  // comparison and logic
  allclose(a: H, b: H, rtol: number, atol: number, equalNan: boolean): boolean;
  equal(a: H, b: H): boolean;
  maskedFill(a: H, mask: H, value: H): H;
  maskedFillScalar(a: H, mask: H, value: S): H;
  /** kinds: bit 0 = a is a tensor, bit 1 = b is a tensor */
  where(cond: H, a: H | S, b: H | S, kinds: number): H;
  // unary
  log1p(a: H): H;
  expm1(a: H): H;
  round(a: H): H;
  gelu(a: H, approximate?: string): H;
  softmax(a: H, dim: number, dtype?: number): H;
  logSoftmax(a: H, dim: number, dtype?: number): H;
  clamp(a: H, min: Opt<H | S>, max: Opt<H | S>, tensors: boolean): H;
  // reductions
  norm(a: H, p: number, dims?: number[], keepdim?: boolean): H;
  // in place
  add_(a: H, b: H, alpha?: number): void;
  add_Scalar(a: H, b: S, alpha?: number): void;
  sub_(a: H, b: H, alpha?: number): void;
  sub_Scalar(a: H, b: S, alpha?: number): void;
  mul_(a: H, b: H): void;
  mul_Scalar(a: H, b: S): void;
  div_(a: H, b: H): void;
  div_Scalar(a: H, b: S): void;
  fill_(a: H, v: H): void;
  fill_Scalar(a: H, v: S): void;
  maskedFill_(a: H, mask: H, v: H): void;
  maskedFill_Scalar(a: H, mask: H, v: S): void;
  zero_(a: H): void;
  copy_(a: H, src: H): void;
  clamp_(a: H, min: Opt<number>, max: Opt<number>): void;
  uniform_(a: H, from: number, to: number): void;
  normal_(a: H, mean: number, std: number): void;
  // shape
  reshape(a: H, shape: number[]): H;
  view(a: H, shape: number[]): H;
  flatten(a: H, start: number, end: number): H;
  squeeze(a: H, dim?: number): H;
  unsqueeze(a: H, dim: number): H;
  permute(a: H, dims: number[]): H;
  transpose(a: H, d0: number, d1: number): H;
  t(a: H): H;
  expand(a: H, shape: number[]): H;
  contiguous(a: H): H;
  narrow(a: H, dim: number, start: number, length: number): H;
  select(a: H, dim: number, index: number): H;
  slice(a: H, dim: number, start: Opt<number>, end: Opt<number>, step: number): H;
  asStrided(a: H, size: number[], stride: number[], offset?: number): H;
  rawBytes(a: H): Uint8Array;
  index(a: H, indices: (H | null)[]): H;
  chunk(a: H, chunks: number, dim: number): H[];
  split(a: H, sizes: number | number[], dim: number): H[];
  unbind(a: H, dim: number): H[];
  cat(ts: H[], dim: number): H;
  stack(ts: H[], dim: number): H;
  // conversion and reading
  to(a: H, dtype: Opt<number>, device: Opt<string>, copy: boolean): H;
  clone(a: H): H;
  detach(a: H): H;
  shape(a: H): number[];
  dtype(a: H): number;
  device(a: H): string;
  isContiguous(a: H): boolean;
  stride(a: H): number[];
  item(a: H): number | boolean;
  data(a: H): Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
  // autograd (native/autograd.cc)
  backward(a: H, gradient: Opt<H>, retainGraph: Opt<boolean>, createGraph: boolean): void;
  grad(a: H): H | null;
  setGrad(a: H, g: H | null): void;
  requiresGrad(a: H): boolean;
  setRequiresGrad(a: H, flag: boolean): void;
  isLeaf(a: H): boolean;
  retainGrad(a: H): void;
  gradFn(a: H): string | null;
  setGradEnabled(flag: boolean): void;
  isGradEnabled(): boolean;
  // nn kernels (native/nn.cc)
  linear(x: H, w: H, b?: H): H;
  bilinear(x1: H, x2: H, w: H, b?: H): H;
  embedding(w: H, idx: H, paddingIdx: number, scaleGradByFreq: boolean, sparse: boolean): H;
  embeddingRenorm_(w: H, idx: H, maxNorm: number, normType: number): void;
  dropout(x: H, p: number, train: boolean): H;
  layerNorm(x: H, shape: number[], w: Opt<H>, b: Opt<H>, eps: number): H;
  rnn(call: RnnCall): H[];
  /** `rnn` with the call's values as arguments (RnnArgs), for the modules' forward. */
  rnnArgs(...call: RnnArgs): H[];
  rnnCell(mode: number, input: H, hx: H[], wIh: H, wHh: H, bIh?: H, bHh?: H): H[];
  packPadded(input: H, lengths: H, batchFirst: boolean): [H, H];
  padPacked(data: H, batchSizes: H, batchFirst: boolean, paddingValue: number, totalLength: number): [H, H];
  padSequence(seqs: H[], batchFirst: boolean, paddingValue: number): H;
  setData(t: H, src: H): void;
  /** Reduced QR, for nn.init.orthogonal_. */
  qr(a: H): [H, H];
  // attention (native/attention.cc)
  mha(call: MhaCall): [H, H | null];
  /** `mha` with the call's values as arguments (MhaArgs), for the module's forward. */
  mhaArgs(...call: MhaArgs): [H, H | null];
  sdpa(q: H, k: H, v: H, attnMask: Opt<H>, dropoutP: number, isCausal: boolean, scale?: number): H;
  /** A whole Transformer encoder (or, with crossAttn, decoder) layer for inference; null: compose it. */
  transformerLayer(selfAttn: MhaCall, layer: TransformerLayerCall, crossAttn?: MhaCall): H | null;
  // losses (native/loss.cc); reduction: 0 none, 1 mean, 2 sum
  mseLoss(x: H, y: H, reduction: number): H;
  l1Loss(x: H, y: H, reduction: number): H;
  smoothL1Loss(x: H, y: H, reduction: number, beta: number): H;
  huberLoss(x: H, y: H, reduction: number, delta: number): H;
  crossEntropy(x: H, y: H, weight: Opt<H>, reduction: number, ignoreIndex: number, labelSmoothing: number): H;
  nllLoss(x: H, y: H, weight: Opt<H>, reduction: number, ignoreIndex: number): H;
  binaryCrossEntropy(x: H, y: H, weight: Opt<H>, reduction: number): H;
  binaryCrossEntropyWithLogits(x: H, y: H, weight: Opt<H>, posWeight: Opt<H>, reduction: number): H;
  klDiv(x: H, y: H, reduction: number, logTarget: boolean): H;
  // optimizer kernels and gradient clipping (native/optim.cc)
  sgdStep(
    param: H,
    grad: H,
    buf: H | null,
    lr: number,
    momentum: number,
    dampening: number,
    weightDecay: number,
    nesterov: boolean,
    maximize: boolean,
  ): H | null;
  adamStep(
    param: H,
    grad: H,
    expAvg: H,
    expAvgSq: H,
    maxExpAvgSq: H | null,
    step: H,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    amsgrad: boolean,
    maximize: boolean,
    decoupled: boolean,
  ): void;
  rmspropStep(
    param: H,
    grad: H,
    squareAvg: H,
    gradAvg: H | null,
    buf: H | null,
    lr: number,
    alpha: number,
    eps: number,
    weightDecay: number,
    momentum: number,
    centered: boolean,
    maximize: boolean,
  ): void;
  adagradStep(
    param: H,
    grad: H,
    stateSum: H,
    step: H,
    lr: number,
    lrDecay: number,
    weightDecay: number,
    eps: number,
    maximize: boolean,
  ): void;
  clipGradNorm(grads: H[], maxNorm: number, normType: number, errorIfNonfinite: boolean): H;
  clipGradValue(grads: H[], clipValue: number): void;
  // async bindings without a sync twin (native/optim.cc, native/workers.cc)
  /**
   * One optimizer step on the pool: `updates[i]` holds one parameter's arguments of `<kind>Step`;
   * resolves with SGD's created momentum buffers (null elsewhere). `name` prefixes its errors.
   */
  optimStepAsync<K extends OptimKernel>(
    name: string,
    kind: K,
    updates: Parameters<NativeSync[`${K}Step`]>[],
  ): Promise<(H | null)[]>;
  /** ops: 'matmul', 'mm', 'bmm' (a, b); 'linear' (x, w, b?) */
  runAsync(op: string, ...args: Opt<H>[]): Promise<H[]>;
  // TorchScript (native/jit.cc). Values cross by the method's schema; tensors cross as instances
  // of `tensorClass` (lib/tensor.ts's Tensor: read through `_h` / `_disposed`, made with `new`).
  jitLoad(bytes: Uint8Array, label: string, device?: string): JitHandle;
  jitSave(m: JitHandle): Buffer;
  jitRun(m: JitHandle, method: string, inputs: unknown[], tensorClass: TensorClass): unknown;
  jitDispose(m: JitHandle): void;
  jitSetTraining(m: JitHandle, on: boolean): void;
  jitIsTraining(m: JitHandle): boolean;
  jitMethods(m: JitHandle): string[];
  jitSchema(m: JitHandle, method: string): string | null;
  jitNamedParameters(m: JitHandle): [string, H][];
  jitNamedBuffers(m: JitHandle): [string, H][];
  jitStateDict(m: JitHandle): [string, H][];
  // torch.jit.trace (native/trace.cc): `fn` runs once under libtorch's tracer and returns the
  // handles of its result tensors; the trace replays the recorded ops on `inputs` (same count).
  jitTrace(inputs: H[], fn: () => H[]): TraceHandle;
  jitTraceForget(h: H): void;
  jitTraceIsTracing(): boolean;
  jitTraceRun(t: TraceHandle, inputs: H[]): H[];
  jitTraceGraph(t: TraceHandle): string;
  /** A TorchScript archive of the trace; `state` (named) are its last inputs, made attributes. */
  jitTraceSave(t: TraceHandle, nInputs: number, names: string[], state: H[], buffers: boolean[]): Buffer;
  jitTraceDispose(t: TraceHandle): void;
  // runtime (native/runtime.cc)
  libtorchVersion(): string;
  getNumThreads(): number;
  setNumThreads(n: number): void;
  manualSeed(seed: number | bigint): void;
  // torch.Generator (native/generator.cc); seeds cross as the int64 with the uint64's bits
  generatorNew(seed?: bigint): GeneratorHandle;
  generatorDefault(): GeneratorHandle;
  generatorManualSeed(g: GeneratorHandle, seed: bigint): void;
  generatorSeed(g: GeneratorHandle): bigint;
  generatorInitialSeed(g: GeneratorHandle): bigint;
  generatorGetState(g: GeneratorHandle): H;
  generatorSetState(g: GeneratorHandle, state: H): void;
  generatorSame(g: GeneratorHandle, h: GeneratorHandle): boolean;
  randpermGen(n: number, g: GeneratorHandle, dtype?: number, device?: string): H;
  randintGen(low: number, high: number, shape: number[], g: GeneratorHandle, dtype?: number, device?: string): H;
  randGen(shape: number[], g: GeneratorHandle, dtype?: number, device?: string): H;
  randnGen(shape: number[], g: GeneratorHandle, dtype?: number, device?: string): H;
  randomGen_(t: H, g: GeneratorHandle, from?: number | bigint, to?: number | bigint): void;
  uniformGen_(t: H, from: number, to: number, g: GeneratorHandle): void;
  normalGen_(t: H, mean: number, std: number, g: GeneratorHandle): void;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(device?: number): void;
  config(): NativeConfig;
  // kernels and their checks (native/rnn_kernels.cc)
  /** Runs fn and returns its result with the names of the ATen ops it dispatched on this thread. */
  recordOps<T>(fn: () => T): [T, string[]];
  /** The LSTM kernel: 0 libtorch's at::lstm, 1 the composed LSTM; with k, sets it first (-1: the default). */
  lstmKernel(k?: number): number;
  rnnSelfCheck(): NativeRnnSelfCheck;
  // the inference fast path (native/fast_path.cc)
  /** Whether inference calls may take the fused CPU kernels; with a value, sets it first. */
  fastPath(enable?: boolean): boolean;
  /** Calls that took each fused kernel so far (process-wide counters). */
  fastPathStats(): FastPathStats;
  // the caching CPU allocator (native/cpu_allocator.cc)
  allocatorCache(): CpuAllocatorCache;
  emptyCache(): number;
  // nn.parallel.DistributedDataParallel on c10d's Reducer (native/ddp.cc); `pg` is a process
  // group handle of native/distributed.cc
  ddpVerifyParams(pg: unknown, params: H[]): void;
  ddpBroadcastCoalesced(pg: unknown, tensors: H[], bufferBytes: number, src: number): void;
  ddpReducerNew(
    pg: unknown,
    params: H[],
    bucketBytesCap: number,
    findUnusedParameters: boolean,
    gradientAsBucketView: boolean,
    capIsDefault: boolean,
  ): ReducerHandle;
  ddpBucketIndices(r: ReducerHandle): number[][];
  ddpPrepareForForward(r: ReducerHandle): void;
  ddpRebuildBuckets(r: ReducerHandle): boolean;
  ddpPrepareForBackward(r: ReducerHandle, outputs: H[]): void;
  ddpReducerDispose(r: ReducerHandle): void;
}

/** The state of torch-napi's CPU storage cache (`torch.backends.cpu.allocatorCache()`). */
export interface CpuAllocatorCache {
  /** The cache is installed as libtorch's CPU allocator (not under ASan or TORCH_NAPI_CPU_CACHE=0). */
  enabled: boolean;
  /** Bytes held in released blocks, ready to be handed out again. */
  bytes: number;
  blocks: number;
  /** The most bytes ever kept. */
  limit: number;
  /** The largest block (bytes) that is cached; larger storages go back to the system allocator at once. */
  maxBlock: number;
}

/** Calls that took each fused kernel so far (`torch.backends.fastPathStats()`). */
export interface FastPathStats {
  rnn: number;
  mha: number;
  sdpa: number;
  layer: number;
  /** LSTM calls that took the fused training kernel (a gradient needed; its own autograd nodes). */
  rnnTrain: number;
  /** Linear calls (nn.Linear, F.linear) that took the fused small-product kernel. */
  linear: number;
  /** Float GEMMs inside the fused attention kernels that oneDNN's sgemm ran (`config().onednnGemm`). */
  onednnGemm: number;
}

/** The Promise-returning twin of a sync binding: the same parameters, its result in a Promise. */
export type AsyncOf<F> = F extends (...a: infer A) => infer R ? (...a: A) => Promise<R> : never;
/**
 * A twin run as a TensorWork (native/workers.h): the same parameters, resolving with its result
 * handles as an array (null for an absent result) instead of the sync result.
 */
export type TensorWorkOf<F, R = H[]> = F extends (...a: infer A) => unknown ? (...a: A) => Promise<R> : never;

/** The async twins, each defined beside its sync twin and run by a PoolWorker (native/workers.h). */
export type NativeAsync = {
  [K in 'rnn' | 'mha' | 'jitRun' | 'jitTraceRun' as `${K}Async`]: AsyncOf<NativeSync[K]>;
} & {
  [K in 'matmul' | 'linear' as `${K}Async`]: TensorWorkOf<NativeSync[K]>;
} & {
  /** Resolves with [output], or [null] when the call is not fused (compose the layer then). */
  transformerLayerAsync: TensorWorkOf<NativeSync['transformerLayer'], [H | null]>;
} & {
  /** Resolves with no handles once the grads are written. */
  backwardAsync: TensorWorkOf<NativeSync['backward'], []>;
};

/** Everything the addon exports. */
export interface Native extends NativeSync, NativeAsync {}

export interface NativeRnnSelfCheck {
  libtorchMaxAbsDiff: number;
  composedMaxAbsDiff: number;
  oneDnnRan: boolean;
  oneDnnPossible: boolean;
  cases: number;
}

/** The package root: the nearest directory above this file with our package.json. */
export const packageRoot = ((): string => {
  for (let dir = path.resolve(__dirname, '..'); ; dir = path.dirname(dir)) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'torch-napi') return dir;
    } catch {
      /* keep looking */
    }
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..');
  }
})();

/** Where an addon comes from: `prebuilds/<platform>-<arch>/...` (shipped in the package) or `build/` (compiled here). */
function addonKind(file: string): AddonKind {
  return file.split(path.sep).includes('prebuilds') ? 'prebuild' : 'local build';
}

/** libtorch on this machine as install/find-libtorch.js finds it (what a compile would use). */
function libtorchHere(): string {
  try {
    const found = require(path.join(packageRoot, 'install', 'find-libtorch.js')).find();
    return `${found.version} (${found.source}) in ${found.libDir}`;
  } catch (e) {
    return `none found (${(e as Error).message.split('\n')[0]})`;
  }
}

/** The error thrown when no addon loads: what was tried, why each failed, and the fix. */
export type LoadError = Error & { cause?: unknown; fix?: string; addonFile?: string; choice?: Choice };

function explainLoadFailure(err: unknown, file: string | undefined, choice: Choice): LoadError {
  const msg = err instanceof Error ? err.message : String(err);
  const tuple = choice.tuple;
  const lines = ['torch-napi: could not load the native addon.', `  error: ${msg.split('\n')[0]}`];
  const tried = choice.candidates.find((c) => c.file === file);
  if (file) {
    lines.push(`  addon: ${file} (${addonKind(file)})`);
  } else {
    lines.push(
      `  addon: none found (no local build, no prebuild for ${tuple}); searched: ` +
        choice.searched.map((c) => `${c}${fs.existsSync(c) ? '' : ' (missing)'}`).join(', '),
    );
  }
  const info = tried?.record ?? null;
  if (info) {
    const sonames = Array.isArray(info.libtorchSonames) ? `, needs ${info.libtorchSonames.join(' ')}` : '';
    lines.push(
      `  built against: libtorch ${info.version} (${info.source}, C++11 ABI ${info.abi}) in ${info.libDir}${sonames}`,
    );
  } else if (file) {
    lines.push('  built against: not recorded');
  }
  if (choice.candidates.length > 0) {
    lines.push('  addons, in the order tried:', ...choice.candidates.map((c) => `    - ${describeCandidate(c)}`));
  }
  lines.push(`  libtorch on this machine now: ${libtorchHere()}`);
  // An installed package builds with node-gyp, a git checkout with cmake-js. `npm pack` says which:
  // its prepack writes dist/package-kind.json ({"kind": "package"}, scripts/package-kind.js) into the tarball.
  let kind = 'checkout';
  try {
    kind = JSON.parse(fs.readFileSync(path.join(packageRoot, 'dist', 'package-kind.json'), 'utf8')).kind;
  } catch {
    /* no flag: a git checkout */
  }
  const checkout = kind !== 'package';
  const rebuild = checkout
    ? '`npm run build`'
    : '`npm rebuild torch-napi --build-from-source` (node-gyp; set LIBTORCH=/path/to/libtorch if it is not found)';
  let fix: string;
  if (!file) {
    fix = checkout
      ? 'build the addon: `bash scripts/setup.sh`, or `npm run build` if libtorch is installed.'
      : `there is no prebuild for ${tuple} and the install script that compiles one did not run (--ignore-scripts, ` +
        'or npm holding back an unapproved install script). With libtorch installed, allow it and compile: ' +
        '`npm install-scripts approve torch-napi && npm rebuild torch-napi`.';
  } else if (addonKind(file) === 'prebuild') {
    // The libtorch versions the prebuilds were built for, the one tried first first.
    const wanted = [
      ...new Set(
        [tried, ...choice.candidates]
          .filter((c) => c?.kind === 'prebuild')
          .map((c) => majorMinor(c?.record ?? null))
          .filter(Boolean),
      ),
    ];
    const apt = wanted.map((mm) => `\`apt install libtorch${mm}\``).join(' or ');
    fix =
      wanted.length === 1
        ? `this prebuild needs libtorch ${wanted[0]} as Debian/Ubuntu package it (${apt}). ` +
          `To use the libtorch you have instead, compile against it: ${rebuild}.`
        : wanted.length > 1
          ? `these prebuilds need libtorch ${wanted.join(' or ')} as Debian/Ubuntu package them (${apt}). ` +
            `To use the libtorch you have instead, compile against it: ${rebuild}.`
          : `compile against the libtorch on this machine: ${rebuild}.`;
  } else {
    fix = checkout
      ? "run `bash scripts/setup.sh` (installs Debian's libtorch-dev and builds), or set LIBTORCH to an unpacked " +
        'libtorch and rebuild with `npm run build` (or `npm install --build-from-source`).'
      : `the local build does not match this machine's libtorch any more; rebuild it: ${rebuild}.`;
  }
  lines.push(`  fix: ${fix}`);
  const e = new Error(lines.join('\n')) as LoadError;
  e.cause = err;
  e.fix = fix; // for `torch-napi doctor`
  e.addonFile = file;
  e.choice = choice;
  return e;
}

/** The addon file loaded: under `prebuilds/` (a prebuild) or `build/` (a local build). */
export let addonFile = '';
/** Every addon considered, in order, with why and what happened to each (`torch-napi doctor` prints it). */
export let addonChoice: Choice | undefined;

function dlopen(file: string): Native {
  // RTLD_NOW binds every libtorch symbol the addon uses here, so a libtorch with another C++ ABI or
  // version fails to load with the explanation below instead of killing the process at its first call
  // ("symbol lookup error"). Registered in require.cache like a plain require() of the .node.
  const m = new Module(file, module as unknown as Module);
  m.filename = file;
  process.dlopen(m, file, os.constants.dlopen.RTLD_NOW);
  m.loaded = true;
  require.cache[file] = m as unknown as NodeJS.Module;
  return m.exports as Native;
}

function load(): Native {
  // TORCH_NAPI_PREBUILD: node-gyp-build's override of the directory to search.
  const choice = chooseAddon(process.env.TORCH_NAPI_PREBUILD || packageRoot);
  addonChoice = choice;
  if (choice.candidates.length === 0) {
    throw explainLoadFailure(new Error(`No native build was found for ${choice.tuple}`), undefined, choice);
  }
  let loaded: Native | undefined;
  let first: { err: unknown; file: string } | undefined;
  for (const c of choice.candidates) {
    if (loaded) {
      c.outcome = `not tried (${path.relative(choice.dir, addonFile)} loaded)`;
      continue;
    }
    try {
      loaded = dlopen(c.file);
      c.outcome = 'loaded';
      addonFile = c.file;
    } catch (err) {
      c.outcome = `failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`;
      first ??= { err, file: c.file };
    }
  }
  if (loaded) return loaded;
  throw explainLoadFailure(first?.err, first?.file, choice);
}

export const native: Native = load();
