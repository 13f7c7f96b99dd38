// Recurrent layers: LSTM, GRU, RNN and their cells (PyTorch's torch/nn/modules/rnn.py). Parameters
// carry PyTorch's names and order; each forward makes one fused native call (at::lstm, at::gru,
// at::rnn_tanh / rnn_relu, or the *_cell kernels) with the weights in PyTorch's `_flat_weights`
// order. Arguments are checked here first, with messages that say what was expected.
import { beforeLstm } from '../../backends';
import { empty } from '../../creation';
import { type DType, ITEM_SIZE, isFloatingPoint } from '../../dtype';
import {
  checkAllocation,
  checkBool,
  checkInt,
  checkMemoryBudget,
  checkNumber,
  checkOptions,
  describe,
  formatBytes,
  shapeStr,
  typeError,
} from '../../errors';
import { type Handle, native as N, rnnArgs } from '../../native';
import { Tensor } from '../../tensor';
import * as init from '../init';
import { Parameter } from '../parameter';
import { PackedSequence } from '../utils/rnn';
import type { FactoryOptions } from './linear';
import { Module, pyBool } from './module';

type Mode = 'LSTM' | 'GRU' | 'RNN_TANH' | 'RNN_RELU';
const MODE_CODE: Record<Mode, number> = { LSTM: 0, GRU: 1, RNN_TANH: 2, RNN_RELU: 3 };
const GATES: Record<Mode, number> = { LSTM: 4, GRU: 3, RNN_TANH: 1, RNN_RELU: 1 };
/** The most layers a recurrent module may have (40000 parameter tensors for an LSTM; about a second to build). */
const MAX_LAYERS = 10000;
/** Memory one parameter tensor costs besides its data (native tensor, storage, JS objects): ~2 KiB measured. */
const PER_TENSOR_BYTES = 2048;

/** Options of `nn.LSTM`, `nn.GRU` and `nn.RNN` (camelCase of PyTorch's keyword arguments). */
export interface RNNBaseOptions extends FactoryOptions {
  /** Stacked recurrent layers. Default 1. */
  numLayers?: number;
  /** Whether the layers have the biases `b_ih` and `b_hh`. Default true. */
  bias?: boolean;
  /** Input and output are `(N, L, *)` instead of `(L, N, *)` (never the states). Default false. */
  batchFirst?: boolean;
  /** Dropout on the outputs of every layer but the last, in training mode. Default 0. */
  dropout?: number;
  /** A second, backward-running set of layers; outputs concatenate both. Default false. */
  bidirectional?: boolean;
}
/** Options of `nn.LSTM`. */
export interface LSTMOptions extends RNNBaseOptions {
  /** Project the hidden state to this size (`weight_hr_l{k}`); 0 (default) for none. */
  projSize?: number;
}
/** Options of `nn.GRU`. */
export type GRUOptions = RNNBaseOptions;
/** Options of `nn.RNN`. */
export interface RNNOptions extends RNNBaseOptions {
  /** `'tanh'` (default) or `'relu'`. */
  nonlinearity?: 'tanh' | 'relu';
}
/** The sizes, when the layer is built from one options object. */
export interface RNNSizes {
  /** The number of features of each input step. */
  inputSize: number;
  /** The number of features of the hidden state. */
  hiddenSize: number;
}

const BASE_KEYS = ['numLayers', 'bias', 'batchFirst', 'dropout', 'bidirectional', 'dtype', 'device'];

/** Python's `repr` of a float (`0.5`, `1.0`, `1e-05`), for reprs that must read like PyTorch's. */
function pyFloat(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1);
  const [mant, exp] = x.toExponential().split('e');
  const e = Number(exp);
  if (e >= -4 && e < 16) return String(x);
  return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

const warned = new Set<string>();
/** Emits a UserWarning once per message, as Python's default warning filter does. */
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.emitWarning(message, 'UserWarning');
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
function describeValue(v: unknown): string {
  if (v instanceof Tensor) return `a ${v.dtype} tensor of shape ${shapeStr(v.shape)}`;
  if (v instanceof PackedSequence) return 'a PackedSequence';
  return describe(v);
}

/**
 * Splits `(inputSize, hiddenSize, opts?)`, `(inputSize, hiddenSize, numLayers, opts?)` and
 * `({inputSize, hiddenSize, ...opts})`, and refuses option names the layer does not have (a
 * snake_case `batch_first` would otherwise be silently ignored).
 */
function parseArgs<O extends object>(
  fn: string,
  args: unknown[],
  keys: string[],
): { inputSize: number; hiddenSize: number; o: Partial<O> } {
  const withLayers = keys.includes('numLayers');
  let [a, b, c, d] = args;
  let o: Record<string, unknown>;
  const isOpts = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Tensor);
  if (isOpts(a) && args.length === 1) {
    o = { ...a };
    a = o.inputSize;
    b = o.hiddenSize;
    delete o.inputSize;
    delete o.hiddenSize;
  } else {
    if (withLayers && typeof c === 'number' && (d === undefined || isOpts(d))) {
      d = { ...d, numLayers: c };
      c = d;
    } else if (d !== undefined || args.length > 3)
      throw new TypeError(
        `${fn}: expected (inputSize, hiddenSize, ${withLayers ? 'numLayers?, ' : ''}options?), ` +
          `got ${args.length} arguments`,
      );
    if (c !== undefined && !isOpts(c)) typeError(fn, 'options', 'an options object', c);
    o = { ...(c as Record<string, unknown> | undefined) };
  }
  const inputSize = checkInt(fn, 'inputSize', a, 0);
  const hiddenSize = checkInt(fn, 'hiddenSize', b, 1);
  // An option given as undefined means its default, as an absent one does.
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  if ('projSize' in given && !keys.includes('projSize'))
    throw new TypeError(`${fn}: the projSize option is only supported for LSTM, not RNN or GRU`);
  checkOptions(fn, given, keys);
  return { inputSize, hiddenSize, o: o as Partial<O> };
}

/** Builds a parameter of `shape` (uninitialised; `resetParameters` fills it). */
function param(shape: number[], f: FactoryOptions): Parameter {
  const t = empty(shape, f);
  const p = new Parameter(t);
  t.dispose();
  return p;
}

function hint(name: string): string {
  return (
    ` Recurrent layers take no attention mask: the second argument of ${name}.forward is the initial state ` +
    `(a recurrent layer is causal by construction). Masks belong to nn.MultiheadAttention (its attnMask option, ` +
    'and keyPaddingMask for padding); to skip padded steps, pack the batch with nn.utils.rnn.packPaddedSequence.'
  );
}

/** What forward knows about its input, for the state checks. */
interface InputInfo {
  fn: string;
  batched: boolean;
  packed: boolean;
  /** sequence length (the longest one for packed input) */
  L: number;
  /** batch size */
  N: number;
  inputShape: readonly number[];
  dtype: string;
  device: string;
}

/**
 * The base of `nn.LSTM`, `nn.GRU` and `nn.RNN` (PyTorch's `RNNBase`): parameters, their
 * initialisation, argument checks and the fused native call.
 */
export abstract class RNNBase extends Module {
  /** `'LSTM'`, `'GRU'`, `'RNN_TANH'` or `'RNN_RELU'`. */
  declare readonly mode: Mode;
  /** The number of features of each input step. */
  declare readonly inputSize: number;
  /** The number of features of the hidden state. */
  declare readonly hiddenSize: number;
  /** The number of stacked recurrent layers. */
  declare readonly numLayers: number;
  /** Whether the layers have the biases `bias_ih_l*` and `bias_hh_l*`. */
  declare readonly bias: boolean;
  /** Inputs and outputs are `(N, L, features)` instead of `(L, N, features)` (the states are not affected). */
  declare readonly batchFirst: boolean;
  /** The dropout probability on the outputs of every layer but the last, in training mode. */
  declare readonly dropout: number;
  /** Whether each layer also runs backwards (doubling the output features). */
  declare readonly bidirectional: boolean;
  /** LSTM only: the size the hidden state is projected to (0: no projection). */
  declare readonly projSize: number;
  /** Parameter names in the order the fused kernel takes them (PyTorch's `_flat_weights_names`). */
  declare readonly flatWeightsNames: readonly string[];
  declare private readonly allWeightsNames: readonly (readonly string[])[];

  protected constructor(mode: Mode, fn: string, args: unknown[], keys: string[]) {
    super();
    if (new.target === RNNBase || new.target === (SingleStateRNN as unknown))
      throw new TypeError(`nn.${new.target.name} is abstract: use nn.LSTM, nn.GRU or nn.RNN`);
    const { inputSize, hiddenSize, o } = parseArgs<LSTMOptions & RNNOptions>(fn, args, keys);
    const numLayers = o.numLayers === undefined ? 1 : checkInt(fn, 'numLayers', o.numLayers, 1);
    // Building a layer costs time and memory whatever its size (see PER_TENSOR_BYTES); PyTorch has
    // no limit, but a stack this deep does not train and would take minutes to build.
    if (numLayers > MAX_LAYERS)
      throw new RangeError(`${fn}: expected numLayers to be at most ${MAX_LAYERS}, got ${numLayers}`);
    const bias = o.bias === undefined ? true : checkBool(fn, 'bias', o.bias);
    const batchFirst = o.batchFirst === undefined ? false : checkBool(fn, 'batchFirst', o.batchFirst);
    const bidirectional = o.bidirectional === undefined ? false : checkBool(fn, 'bidirectional', o.bidirectional);
    const dropout = o.dropout === undefined ? 0 : checkNumber(fn, 'dropout', o.dropout);
    if (!(dropout >= 0 && dropout <= 1))
      throw new RangeError(
        `${fn}: dropout should be a number in range [0, 1] representing the probability of an ` +
          `element being zeroed, got ${dropout}`,
      );
    const projSize = o.projSize === undefined ? 0 : checkInt(fn, 'projSize', o.projSize, 0);
    if (projSize >= hiddenSize)
      throw new RangeError(
        `${fn}: projSize has to be smaller than hiddenSize, got projSize=${projSize} and hiddenSize=${hiddenSize}`,
      );
    if (dropout > 0 && numLayers === 1)
      warnOnce(
        'dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects ' +
          `num_layers greater than 1, but got dropout=${dropout} and num_layers=${numLayers}`,
      );
    const attrs = { mode, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, projSize };
    for (const [k, v] of Object.entries(attrs)) Object.defineProperty(this, k, { value: v, enumerable: false });

    const f: FactoryOptions = { dtype: o.dtype, device: o.device };
    const D = bidirectional ? 2 : 1;
    const gateSize = GATES[mode] * hiddenSize;
    const realHidden = projSize > 0 ? projSize : hiddenSize;
    // Refuse, before allocating anything, a layer count or size whose parameters cannot fit.
    const perDir = (input: number) =>
      gateSize * input + gateSize * realHidden + (bias ? 2 * gateSize : 0) + (projSize > 0 ? projSize * hiddenSize : 0);
    const elements = D * (perDir(inputSize) + (numLayers - 1) * perDir(realHidden * D));
    const itemSize = ITEM_SIZE[(o.dtype ?? 'float32') as DType] ?? 4;
    checkAllocation(fn, [elements], itemSize);
    // What is really allocated: the parameter bytes plus, per parameter tensor, the native tensor,
    // its storage and the JS objects (about 2 KiB measured), which dominate for small layers.
    const tensors = D * numLayers * (2 + (bias ? 2 : 0) + (projSize > 0 ? 1 : 0));
    const bytes = elements * itemSize + tensors * PER_TENSOR_BYTES;
    const parts = `${tensors} parameter tensors, ${formatBytes(elements * itemSize)} of parameters`;
    checkMemoryBudget(fn, `numLayers=${numLayers} (${parts})`, bytes);
    const flat: string[] = [];
    const all: string[][] = [];
    const self = this as unknown as Record<string, Parameter>;
    for (let layer = 0; layer < numLayers; layer++) {
      for (let dir = 0; dir < D; dir++) {
        const layerInput = layer === 0 ? inputSize : realHidden * D;
        const sfx = `_l${layer}${dir === 1 ? '_reverse' : ''}`;
        const names = [`weight_ih${sfx}`, `weight_hh${sfx}`];
        const shapes = [
          [gateSize, layerInput],
          [gateSize, realHidden],
        ];
        if (bias) {
          names.push(`bias_ih${sfx}`, `bias_hh${sfx}`);
          shapes.push([gateSize], [gateSize]);
        }
        if (projSize > 0) {
          names.push(`weight_hr${sfx}`);
          shapes.push([projSize, hiddenSize]);
        }
        names.forEach((n, i) => {
          self[n] = param(shapes[i], f);
        });
        flat.push(...names);
        all.push(names);
      }
    }
    Object.defineProperty(this, 'flatWeightsNames', { value: Object.freeze(flat), enumerable: false });
    Object.defineProperty(this, 'allWeightsNames', {
      value: Object.freeze(all.map((a) => Object.freeze(a))),
      enumerable: false,
    });
    this.resetParameters();
  }

  /** The parameters in the fused kernel's order (PyTorch's `_flat_weights`). */
  get flatWeights(): Parameter[] {
    return this.flatWeightsNames.map((n) => (this as unknown as Record<string, Parameter>)[n]);
  }
  /** The parameters per layer and direction (PyTorch's `all_weights`). */
  get allWeights(): Parameter[][] {
    return this.allWeightsNames.map((names) => names.map((n) => (this as unknown as Record<string, Parameter>)[n]));
  }

  /** Every parameter ~ U(-1/√hiddenSize, 1/√hiddenSize), in registration order (as PyTorch). */
  resetParameters(): void {
    const stdv = this.hiddenSize > 0 ? 1 / Math.sqrt(this.hiddenSize) : 0;
    for (const p of this.parameters()) init.uniform_(p, -stdv, stdv);
  }

  /** A no-op on the CPU (PyTorch's `flatten_parameters` only matters for cuDNN); kept for ported code. */
  flattenParameters(): void {
    /* nothing to do */
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.projSize !== 0) s += `, proj_size=${this.projSize}`;
    if (this.numLayers !== 1) s += `, num_layers=${this.numLayers}`;
    if (this.bias !== true) s += `, bias=${pyBool(this.bias)}`;
    if (this.batchFirst !== false) s += `, batch_first=${pyBool(this.batchFirst)}`;
    if (this.dropout !== 0) s += `, dropout=${pyFloat(this.dropout)}`;
    if (this.bidirectional !== false) s += `, bidirectional=${pyBool(this.bidirectional)}`;
    return s;
  }

  /** Validates the input (Tensor or PackedSequence) against the module. */
  private inputInfo(fn: string, input: unknown): InputInfo {
    const w = this.flatWeights[0];
    let t: Tensor;
    let info: InputInfo;
    if (input instanceof PackedSequence) {
      t = input.data;
      if (!(t instanceof Tensor)) typeError(fn, 'input.data', 'a Tensor', t);
      if (t.dim() !== 2)
        throw new RangeError(
          `${fn}: expected the packed input's data to be 2-D (sum(lengths), inputSize=${this.inputSize}), ` +
            `got shape ${shapeStr(t.shape)}`,
        );
      const bs = input.batchSizes;
      info = {
        fn,
        batched: true,
        packed: true,
        L: bs.shape[0],
        N: bs.shape[0] ? Number((bs.data() as BigInt64Array)[0]) : 0,
        inputShape: t.shape,
        dtype: t.dtype,
        device: '',
      };
    } else if (input instanceof Tensor) {
      t = input;
      const dim = t.dim();
      if (dim !== 2 && dim !== 3)
        throw new RangeError(
          `${fn}: expected input to be 3-D ${this.batchFirst ? '(N, L, H_in)' : '(L, N, H_in)'} or 2-D ` +
            `(L, H_in) for an unbatched sequence, got a ${dim}-D tensor of shape ${shapeStr(t.shape)}`,
        );
      const batched = dim === 3;
      const bd = this.batchFirst ? 0 : 1;
      info = {
        fn,
        batched,
        packed: false,
        L: batched ? t.shape[1 - bd] : t.shape[0],
        N: batched ? t.shape[bd] : 1,
        inputShape: t.shape,
        dtype: t.dtype,
        device: '',
      };
    } else {
      return typeError(fn, 'input', 'a Tensor or a PackedSequence', input);
    }
    if (!isFloatingPoint(t.dtype))
      throw new TypeError(
        `${fn}: expected input to be a floating point tensor (${w.dtype}, the weights' dtype), got ${t.dtype}`,
      );
    if (t.dtype !== w.dtype)
      throw new TypeError(
        `${fn}: expected input to have the dtype of the module's weights (${w.dtype}), got ${t.dtype}; ` +
          `convert the input (input.to('${w.dtype}')) or the module (module.to('${t.dtype}'))`,
      );
    const dev = t.device;
    if (dev !== w.device) throw new TypeError(`${fn}: expected input on the module's device (${w.device}), got ${dev}`);
    info.device = dev;
    const last = t.shape[t.dim() - 1];
    if (last !== this.inputSize) {
      const expected = info.packed
        ? `(sum(lengths), ${this.inputSize})`
        : !info.batched
          ? `(L, ${this.inputSize})`
          : this.batchFirst
            ? `(N, L, ${this.inputSize})`
            : `(L, N, ${this.inputSize})`;
      throw new RangeError(
        `${fn}: expected ${info.packed ? "the packed input's data" : 'input'} of shape ${expected} ` +
          `(inputSize=${this.inputSize}), got shape ${shapeStr(t.shape)}: its last dimension ${last} is not inputSize`,
      );
    }
    return info;
  }

  /** Checks one state tensor against its expected shape; returns it. */
  private checkState(info: InputInfo, what: string, v: unknown, expected: number[], expectedAll: string): Tensor {
    const { fn } = info;
    const name = this.getName();
    if (!(v instanceof Tensor))
      throw new TypeError(
        `${fn}: expected ${what} to be a Tensor of shape ${shapeStr(expected)}, got ${describeValue(v)}. ` +
          `hx must be ${expectedAll}.`,
      );
    const looksLikeMask =
      v.dtype === 'bool' || (v.dim() === 2 && v.shape[0] > 1 && (v.shape[0] === v.shape[1] || v.shape[0] === info.L));
    if (v.dtype === 'bool')
      throw new TypeError(
        `${fn}: expected hx to be ${expectedAll}; got ${what} as a bool tensor of shape ` +
          `${shapeStr(v.shape)}.${hint(name)}`,
      );
    if (v.dtype !== info.dtype)
      throw new TypeError(`${fn}: expected ${what} to have the input's dtype ${info.dtype}, got ${v.dtype}`);
    if (v.device !== info.device)
      throw new TypeError(`${fn}: expected ${what} on the input's device ${info.device}, got ${v.device}`);
    if (sameShape(v.shape, expected)) {
      // A square float matrix of side L that happens to have the state's shape: refuse it only when
      // it cannot be a state (a float causal mask holds -inf).
      if (v.dim() === 2 && v.shape[0] === v.shape[1] && v.shape[0] === info.L && info.L > 1) {
        const finite = v.isfinite();
        const all = finite.all();
        const ok = all.itemBool();
        finite.dispose();
        all.dispose();
        if (!ok)
          throw new TypeError(
            `${fn}: ${what} has the state's shape ${shapeStr(expected)} but holds non-finite values, ` +
              `like a float attention mask.${hint(name)}`,
          );
      }
      return v;
    }
    if (looksLikeMask)
      throw new TypeError(
        `${fn}: expected hx to be ${expectedAll}; got ${what} of shape ${shapeStr(v.shape)} ` +
          `(${v.dtype}), which looks like an attention mask.${hint(name)}`,
      );
    const where = info.packed
      ? `the packed input (batch size ${info.N})`
      : `input of shape ${shapeStr(info.inputShape)}` +
        (info.batched ? ` (batchFirst=${this.batchFirst})` : ' (unbatched)');
    if (v.dim() !== expected.length)
      throw new RangeError(
        `${fn}: for ${info.batched ? 'batched 3-D' : 'unbatched 2-D'} input, ${what} must be ` +
          `${expected.length}-D: expected shape ${shapeStr(expected)}, got ${shapeStr(v.shape)} (${where})`,
      );
    if (info.batched && v.shape[1] !== info.N && v.shape[0] === expected[0] && v.shape[2] === expected[2])
      throw new RangeError(
        `${fn}: ${what} has batch size ${v.shape[1]} (shape ${shapeStr(v.shape)}) but ${where} ` +
          `has batch size ${info.N}: expected ${what} of shape ${shapeStr(expected)}. States are ` +
          '(D*numLayers, N, H) whatever batchFirst is.',
      );
    const dims = info.batched ? '(D*numLayers, N, H)' : '(D*numLayers, H)';
    throw new RangeError(
      `${fn}: expected ${what} of shape ${shapeStr(expected)} ${dims}, got ${shapeStr(v.shape)} (${where})`,
    );
  }

  /** Validates `hx` and returns the user's state tensors (batched or unbatched as given). */
  private checkHx(info: InputInfo, hx: unknown): Tensor[] {
    const { fn } = info;
    const lead = (this.bidirectional ? 2 : 1) * this.numLayers;
    const hOut = this.projSize > 0 ? this.projSize : this.hiddenSize;
    const batch = info.batched ? [info.N] : [];
    const hShape = [lead, ...batch, hOut];
    const cShape = [lead, ...batch, this.hiddenSize];
    const name = this.getName();
    if (this.mode === 'LSTM') {
      const expectedAll = `[h0, c0] with h0 of shape ${shapeStr(hShape)} and c0 of shape ${shapeStr(cShape)}`;
      if (hx instanceof Tensor)
        throw new TypeError(
          `${fn}: expected hx to be ${expectedAll}; got a single ${hx.dtype} tensor of shape ` +
            `${shapeStr(hx.shape)}.${hint(name)}`,
        );
      if (!Array.isArray(hx) || hx instanceof PackedSequence || hx.length !== 2) {
        const anyMask = Array.isArray(hx) && hx.some((t) => t instanceof Tensor && t.dtype === 'bool');
        throw new TypeError(
          `${fn}: expected hx to be ${expectedAll}, got ${describeValue(hx)}${anyMask ? '.' + hint(name) : ''}`,
        );
      }
      return [
        this.checkState(info, 'hx[0] (h0)', hx[0], hShape, expectedAll),
        this.checkState(info, 'hx[1] (c0)', hx[1], cShape, expectedAll),
      ];
    }
    const expectedAll = `h0, a tensor of shape ${shapeStr(hShape)}`;
    if (Array.isArray(hx))
      throw new TypeError(
        `${fn}: expected hx to be ${expectedAll}, got ${describeValue(hx)} ` + `(only an LSTM takes [h0, c0])`,
      );
    return [this.checkState(info, 'hx', hx, hShape, expectedAll)];
  }

  /** The shared forward: checks, one fused native call, and PyTorch's reshaping around it. */
  protected run(input: Tensor | PackedSequence, hx: unknown): [Tensor | PackedSequence, Tensor[]] {
    const call = this.prepare(`${this.getName()}.forward`, input, hx);
    let raw: Handle[];
    try {
      raw = N.rnnArgs(...rnnArgs(call.args[0]));
    } finally {
      for (const t of call.temps) t.dispose();
    }
    return this.finish(call, raw);
  }

  /** `run` on the libuv thread pool (same checks, same native kernel, same reshaping). */
  protected async runAsync(input: Tensor | PackedSequence, hx: unknown): Promise<[Tensor | PackedSequence, Tensor[]]> {
    const call = this.prepare(`${this.getName()}.forwardAsync`, input, hx);
    let raw: Handle[];
    try {
      raw = await N.rnnAsync(...call.args);
    } finally {
      for (const t of call.temps) t.dispose(); // in flight until the call settled
    }
    return this.finish(call, raw);
  }

  /** Checks, then the native call's arguments and the temporaries they use. */
  private prepare(fn: string, input: Tensor | PackedSequence, hx: unknown): RnnCall {
    const info = this.inputInfo(fn, input);
    if (this.mode === 'LSTM') beforeLstm();
    const given = hx === undefined || hx === null ? null : this.checkHx(info, hx);
    const weights = this.flatWeights;
    const temps: Tensor[] = [];
    const lead = (this.bidirectional ? 2 : 1) * this.numLayers;
    const hOut = this.projSize > 0 ? this.projSize : this.hiddenSize;
    const packed = input instanceof PackedSequence ? input : null;
    const batchDim = this.batchFirst ? 0 : 1;
    try {
      let x: Tensor;
      if (packed) x = packed.data;
      else if (!info.batched) {
        x = (input as Tensor).unsqueeze(batchDim);
        temps.push(x);
      } else x = input as Tensor;
      let states: Tensor[] = [];
      // Without hx, the native call makes the zero states itself (zeroStates).
      let zeroStates: number[] | undefined;
      if (given === null) {
        zeroStates = this.mode === 'LSTM' ? [lead, info.N, hOut, this.hiddenSize] : [lead, info.N, this.hiddenSize];
      } else {
        states = given.map((s) => {
          if (info.batched) return s;
          const u = s.unsqueeze(1);
          temps.push(u);
          return u;
        });
        const sorted = packed?.sortedIndices;
        if (sorted)
          states = states.map((s) => {
            const p = s.indexSelect(1, sorted);
            temps.push(p);
            return p;
          });
      }
      const args: RnnArgs = [
        {
          mode: MODE_CODE[this.mode],
          input: x._h,
          batchSizes: packed ? packed.batchSizes._h : null,
          hx: states.map((s) => s._h),
          zeroStates,
          params: weights.map((w) => w._h),
          hasBiases: this.bias,
          numLayers: this.numLayers,
          dropout: this.dropout,
          train: this.training,
          bidirectional: this.bidirectional,
          batchFirst: packed ? false : this.batchFirst,
        },
      ];
      return { info, packed, batchDim, temps, args };
    } catch (e) {
      for (const t of temps) t.dispose();
      throw e;
    }
  }

  /** PyTorch's reshaping of the kernel's results. */
  private finish(call: RnnCall, raw: Handle[]): [Tensor | PackedSequence, Tensor[]] {
    const { info, packed, batchDim } = call;
    const [out, ...hidden] = raw.map((h) => new Tensor(h));
    if (packed) {
      const unsorted = packed.unsortedIndices;
      const result = new PackedSequence(
        out,
        packed.batchSizes.detach(),
        packed.sortedIndices?.detach() ?? null,
        unsorted?.detach() ?? null,
      );
      if (!unsorted) return [result, hidden];
      const permuted = hidden.map((h) => h.indexSelect(1, unsorted));
      for (const h of hidden) h.dispose();
      return [result, permuted];
    }
    if (info.batched) return [out, hidden];
    const squeezed: [Tensor, Tensor[]] = [out.squeeze(batchDim), hidden.map((h) => h.squeeze(1))];
    out.dispose();
    for (const h of hidden) h.dispose();
    return squeezed;
  }
}

type RnnArgs = Parameters<typeof N.rnn>;
/** A prepared recurrent call: what `finish` needs, the temporaries to dispose, the native arguments. */
interface RnnCall {
  info: InputInfo;
  packed: PackedSequence | null;
  batchDim: number;
  temps: Tensor[];
  args: RnnArgs;
}

/**
 * A multi-layer long short-term memory RNN (PyTorch's `nn.LSTM`).
 *
 * Parameters per layer k and direction (suffix `''` or `'_reverse'`), in this order:
 * `weight_ih_l{k}` (4·hiddenSize, in_k), `weight_hh_l{k}` (4·hiddenSize, H_out),
 * `bias_ih_l{k}`, `bias_hh_l{k}` (4·hiddenSize), and `weight_hr_l{k}` (projSize, hiddenSize)
 * with `projSize`; gates i, f, g, o. All ~ U(-1/√hiddenSize, 1/√hiddenSize).
 *
 * Shapes (D = 2 if bidirectional else 1, H_out = projSize || hiddenSize): input `(L, N, H_in)`,
 * `(N, L, H_in)` with `batchFirst`, or `(L, H_in)` unbatched, or a `PackedSequence`; h0/hN
 * `(D·numLayers, N, H_out)`, c0/cN `(D·numLayers, N, hiddenSize)` (never batch-first; without
 * N when unbatched); output `(L, N, D·H_out)`.
 *
 * @example
 * const lstm = new nn.LSTM(10, 20, { numLayers: 2 });
 * const [output, [hN, cN]] = lstm.forward(torch.randn(5, 3, 10));
 * @throws TypeError when `hx` is not `[h0, c0]` — in particular when an attention mask is passed
 *   as the second argument (recurrent layers take no mask; see nn.MultiheadAttention).
 */
export class LSTM extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, opts?: LSTMOptions);
  constructor(inputSize: number, hiddenSize: number, numLayers: number, opts?: LSTMOptions);
  constructor(opts: LSTMOptions & RNNSizes);
  constructor(...args: unknown[]) {
    super('LSTM', 'LSTM', args, [...BASE_KEYS, 'projSize']);
  }

  /**
   * @param input `(L, N, H_in)` / `(N, L, H_in)` / `(L, H_in)`, or a `PackedSequence`.
   * @param hx `[h0, c0]`, zeros when omitted.
   * @returns `[output, [hN, cN]]`; output is a `PackedSequence` when the input is.
   */
  forward(input: Tensor, hx?: [Tensor, Tensor] | null): [Tensor, [Tensor, Tensor]];
  forward(input: PackedSequence, hx?: [Tensor, Tensor] | null): [PackedSequence, [Tensor, Tensor]];
  forward(input: Tensor | PackedSequence, hx?: [Tensor, Tensor] | null): [Tensor | PackedSequence, [Tensor, Tensor]] {
    const [out, [h, c]] = this.run(input, hx);
    return [out, [h, c]];
  }

  /**
   * `forward` on the libuv thread pool: the event loop keeps running while the kernel computes.
   * Same checks and results as `forward`; every error rejects the Promise. Until it settles, the
   * input, `hx` and the parameters are in use: disposing them or changing them in place
   * (optimizer steps, `copy_`) throws. The results are not owned by any `torch.tidy` scope:
   * dispose them yourself. libtorch's intra-op threads (`torch.setNumThreads`) and the pool
   * (`UV_THREADPOOL_SIZE`, default 4) share the cores.
   * @example const [out, [hN, cN]] = await lstm.forwardAsync(x);
   */
  override forwardAsync(input: Tensor, hx?: [Tensor, Tensor] | null): Promise<[Tensor, [Tensor, Tensor]]>;
  override forwardAsync(
    input: PackedSequence,
    hx?: [Tensor, Tensor] | null,
  ): Promise<[PackedSequence, [Tensor, Tensor]]>;
  override async forwardAsync(
    input: Tensor | PackedSequence,
    hx?: [Tensor, Tensor] | null,
  ): Promise<[Tensor | PackedSequence, [Tensor, Tensor]]> {
    const [out, [h, c]] = await this.runAsync(input, hx);
    return [out, [h, c]];
  }
}

/** RNN_TANH or RNN_RELU from the `nonlinearity` option among constructor arguments (RNN, RNNCell). */
function nonlinearityMode(fn: string, args: unknown[]): Mode {
  const o = args.find((a, i) => (i === 0 || i >= 2) && a !== null && typeof a === 'object') as
    | { nonlinearity?: unknown }
    | undefined;
  const nl = o?.nonlinearity;
  if (nl === undefined || nl === 'tanh') return 'RNN_TANH';
  if (nl === 'relu') return 'RNN_RELU';
  return typeError(fn, 'nonlinearity', "'tanh' or 'relu'", nl);
}

/**
 * The recurrent layers with one state tensor (GRU and RNN): `forward(input, hx?)` returns
 * `[output, hN]`.
 */
export abstract class SingleStateRNN extends RNNBase {
  /**
   * @param hx h0 `(D·numLayers, N, hiddenSize)` (or `(D·numLayers, hiddenSize)` unbatched), zeros when omitted.
   * @returns `[output, hN]`.
   */
  forward(input: Tensor, hx?: Tensor | null): [Tensor, Tensor];
  forward(input: PackedSequence, hx?: Tensor | null): [PackedSequence, Tensor];
  forward(input: Tensor | PackedSequence, hx?: Tensor | null): [Tensor | PackedSequence, Tensor] {
    const [out, [h]] = this.run(input, hx);
    return [out, h];
  }

  /** `forward` on the libuv thread pool (see `LSTM.forwardAsync`). */
  override forwardAsync(input: Tensor, hx?: Tensor | null): Promise<[Tensor, Tensor]>;
  override forwardAsync(input: PackedSequence, hx?: Tensor | null): Promise<[PackedSequence, Tensor]>;
  override async forwardAsync(
    input: Tensor | PackedSequence,
    hx?: Tensor | null,
  ): Promise<[Tensor | PackedSequence, Tensor]> {
    const [out, [h]] = await this.runAsync(input, hx);
    return [out, h];
  }
}

/**
 * A multi-layer gated recurrent unit RNN (PyTorch's `nn.GRU`). Parameters as `nn.LSTM` with
 * 3·hiddenSize rows (gates r, z, n) and no projection.
 *
 * @example
 * const gru = new nn.GRU(10, 20, { batchFirst: true });
 * const [output, hN] = gru.forward(torch.randn(3, 5, 10));
 */
export class GRU extends SingleStateRNN {
  constructor(inputSize: number, hiddenSize: number, opts?: GRUOptions);
  constructor(inputSize: number, hiddenSize: number, numLayers: number, opts?: GRUOptions);
  constructor(opts: GRUOptions & RNNSizes);
  constructor(...args: unknown[]) {
    super('GRU', 'GRU', args, BASE_KEYS);
  }
}

/**
 * A multi-layer Elman RNN with tanh or ReLU nonlinearity (PyTorch's `nn.RNN`). Parameters as
 * `nn.LSTM` with hiddenSize rows and no projection.
 *
 * @example
 * const rnn = new nn.RNN(10, 20, { numLayers: 2, nonlinearity: 'relu' });
 * const [output, hN] = rnn.forward(torch.randn(5, 3, 10));
 */
export class RNN extends SingleStateRNN {
  /** `'tanh'` or `'relu'`. */
  declare readonly nonlinearity: 'tanh' | 'relu';

  constructor(inputSize: number, hiddenSize: number, opts?: RNNOptions);
  constructor(inputSize: number, hiddenSize: number, numLayers: number, opts?: RNNOptions);
  constructor(opts: RNNOptions & RNNSizes);
  constructor(...args: unknown[]) {
    super(nonlinearityMode('RNN', args), 'RNN', args, [...BASE_KEYS, 'nonlinearity']);
    Object.defineProperty(this, 'nonlinearity', {
      value: this.mode === 'RNN_RELU' ? 'relu' : 'tanh',
      enumerable: false,
    });
  }
}

// ---- cells -------------------------------------------------------------------------------------

/** Options of the cells. */
export interface RNNCellOptions extends FactoryOptions {
  /** Whether the cell has the biases `bias_ih` and `bias_hh`. Default true. */
  bias?: boolean;
}

/** The base of the cells (PyTorch's `RNNCellBase`): `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`. */
export abstract class RNNCellBase extends Module {
  /** The number of features of the input. */
  declare readonly inputSize: number;
  /** The number of features of the hidden state. */
  declare readonly hiddenSize: number;
  /** Whether the cell has the biases `bias_ih` and `bias_hh`. */
  declare readonly bias: boolean;
  /** @internal `'LSTM'`, `'GRU'`, `'RNN_TANH'` or `'RNN_RELU'`. */
  declare protected readonly mode: Mode;
  /** The input-to-hidden weight `(gates · hiddenSize, inputSize)`. */
  weight_ih!: Parameter;
  /** The hidden-to-hidden weight `(gates · hiddenSize, hiddenSize)`. */
  weight_hh!: Parameter;
  /** The input-to-hidden bias `(gates · hiddenSize)`, or null without biases. */
  bias_ih!: Parameter | null;
  /** The hidden-to-hidden bias `(gates · hiddenSize)`, or null without biases. */
  bias_hh!: Parameter | null;

  protected constructor(mode: Mode, fn: string, args: unknown[], keys: string[]) {
    super();
    if (new.target === RNNCellBase)
      throw new TypeError('nn.RNNCellBase is abstract: use nn.LSTMCell, nn.GRUCell or nn.RNNCell');
    const { inputSize, hiddenSize, o } = parseArgs<RNNCellOptions>(fn, args, keys);
    const bias = o.bias === undefined ? true : checkBool(fn, 'bias', o.bias);
    for (const [k, v] of Object.entries({ inputSize, hiddenSize, bias, mode }))
      Object.defineProperty(this, k, { value: v, enumerable: false });
    const f: FactoryOptions = { dtype: o.dtype, device: o.device };
    const rows = GATES[mode] * hiddenSize;
    this.weight_ih = param([rows, inputSize], f);
    this.weight_hh = param([rows, hiddenSize], f);
    this.bias_ih = bias ? param([rows], f) : null;
    this.bias_hh = bias ? param([rows], f) : null;
    this.resetParameters();
  }

  /** Every parameter ~ U(-1/√hiddenSize, 1/√hiddenSize), as PyTorch. */
  resetParameters(): void {
    const stdv = this.hiddenSize > 0 ? 1 / Math.sqrt(this.hiddenSize) : 0;
    for (const p of this.parameters()) init.uniform_(p, -stdv, stdv);
  }

  override extraRepr(): string {
    let s = `${this.inputSize}, ${this.hiddenSize}`;
    if (this.bias !== true) s += `, bias=${pyBool(this.bias)}`;
    if (this.mode === 'RNN_RELU') s += ', nonlinearity=relu';
    return s;
  }

  /** Checks, one native cell call, and the unbatched reshaping. */
  protected run(input: unknown, hx: unknown): Tensor[] {
    const name = this.getName();
    const fn = `${name}.forward`;
    const w = this.weight_ih;
    if (!(input instanceof Tensor)) typeError(fn, 'input', 'a Tensor', input);
    const dim = input.dim();
    if (dim !== 1 && dim !== 2)
      throw new RangeError(
        `${fn}: expected input to be 2-D (N, ${this.inputSize}) or 1-D (${this.inputSize}), ` +
          `got a ${dim}-D tensor of shape ${shapeStr(input.shape)}`,
      );
    if (!isFloatingPoint(input.dtype) || input.dtype !== w.dtype)
      throw new TypeError(
        `${fn}: expected input to have the dtype of the cell's weights (${w.dtype}), got ${input.dtype}`,
      );
    if (input.device !== w.device)
      throw new TypeError(`${fn}: expected input on the cell's device (${w.device}), got ${input.device}`);
    if (input.shape[dim - 1] !== this.inputSize)
      throw new RangeError(
        `${fn}: expected input of shape ${dim === 2 ? `(N, ${this.inputSize})` : `(${this.inputSize})`} ` +
          `(inputSize=${this.inputSize}), got shape ${shapeStr(input.shape)}`,
      );
    const batched = dim === 2;
    const N0 = batched ? input.shape[0] : 1;
    const expected = batched ? [N0, this.hiddenSize] : [this.hiddenSize];
    const isLSTM = this.mode === 'LSTM';
    const expectedAll = isLSTM
      ? `[h0, c0], each of shape ${shapeStr(expected)}`
      : `a tensor of shape ${shapeStr(expected)}`;
    let states: Tensor[] | null = null;
    if (hx !== undefined && hx !== null) {
      let list: unknown[];
      if (isLSTM) {
        if (!Array.isArray(hx) || hx.length !== 2) {
          const mask = hx instanceof Tensor ? hint(name) : '';
          throw new TypeError(
            `${fn}: expected hx to be ${expectedAll}, got ${describeValue(hx)}${mask ? '.' + mask : ''}`,
          );
        }
        list = hx;
      } else {
        if (Array.isArray(hx))
          throw new TypeError(
            `${fn}: expected hx to be ${expectedAll}, got ${describeValue(hx)} (only an LSTMCell takes [h0, c0])`,
          );
        list = [hx];
      }
      states = list.map((s, i) => {
        const what = isLSTM ? `hx[${i}] (${i === 0 ? 'h0' : 'c0'})` : 'hx';
        if (!(s instanceof Tensor))
          throw new TypeError(
            `${fn}: expected ${what} to be a Tensor of shape ${shapeStr(expected)}, got ${describeValue(s)}`,
          );
        if (s.dtype === 'bool')
          throw new TypeError(
            `${fn}: expected hx to be ${expectedAll}; got ${what} as a bool tensor of shape ` +
              `${shapeStr(s.shape)}.${hint(name)}`,
          );
        if (s.dtype !== input.dtype)
          throw new TypeError(`${fn}: expected ${what} to have the input's dtype ${input.dtype}, got ${s.dtype}`);
        if (s.device !== input.device)
          throw new TypeError(`${fn}: expected ${what} on the input's device ${input.device}, got ${s.device}`);
        if (!sameShape(s.shape, expected)) {
          if (batched && s.dim() === 2 && s.shape[1] === this.hiddenSize)
            throw new RangeError(
              `${fn}: ${what} has batch size ${s.shape[0]} (shape ${shapeStr(s.shape)}) but input of shape ` +
                `${shapeStr(input.shape)} has batch size ${N0}: expected ${what} of shape ${shapeStr(expected)}`,
            );
          throw new RangeError(
            `${fn}: expected ${what} of shape ${shapeStr(expected)} for input of shape ` +
              `${shapeStr(input.shape)}, got ${shapeStr(s.shape)}`,
          );
        }
        return s;
      });
    }
    const temps: Tensor[] = [];
    let raw: Handle[];
    try {
      const x = batched ? input : input.unsqueeze(0);
      if (!batched) temps.push(x);
      if (states === null) {
        const z = new Tensor(N.zeros([N0, this.hiddenSize], N.dtype(x._h), input.device));
        temps.push(z);
        states = isLSTM ? [z, z] : [z];
      } else if (!batched) {
        states = states.map((s) => {
          const u = s.unsqueeze(0);
          temps.push(u);
          return u;
        });
      }
      raw = N.rnnCell(
        MODE_CODE[this.mode],
        x._h,
        states.map((s) => s._h),
        this.weight_ih._h,
        this.weight_hh._h,
        this.bias_ih?._h,
        this.bias_hh?._h,
      );
    } finally {
      for (const t of temps) t.dispose();
    }
    const outs = raw.map((h) => new Tensor(h));
    if (batched) return outs;
    const squeezed = outs.map((t) => t.squeeze(0));
    for (const t of outs) t.dispose();
    return squeezed;
  }
}

/**
 * One LSTM step (PyTorch's `nn.LSTMCell`): `weight_ih` (4·hiddenSize, inputSize),
 * `weight_hh` (4·hiddenSize, hiddenSize), `bias_ih`, `bias_hh` (4·hiddenSize).
 * @example const [h, c] = cell.forward(x, [h, c]);
 */
export class LSTMCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts?: RNNCellOptions);
  constructor(opts: RNNCellOptions & RNNSizes);
  constructor(...args: unknown[]) {
    super('LSTM', 'LSTMCell', args, ['bias', 'dtype', 'device']);
  }
  /**
   * @param input `(N, inputSize)` or `(inputSize)`.
   * @param hx `[h0, c0]` of shape `(N, hiddenSize)` (or `(hiddenSize)`), zeros when omitted.
   * @returns `[h1, c1]`.
   */
  forward(input: Tensor, hx?: [Tensor, Tensor] | null): [Tensor, Tensor] {
    const [h, c] = this.run(input, hx);
    return [h, c];
  }
}

/** One GRU step (PyTorch's `nn.GRUCell`); parameters with 3·hiddenSize rows. */
export class GRUCell extends RNNCellBase {
  constructor(inputSize: number, hiddenSize: number, opts?: RNNCellOptions);
  constructor(opts: RNNCellOptions & RNNSizes);
  constructor(...args: unknown[]) {
    super('GRU', 'GRUCell', args, ['bias', 'dtype', 'device']);
  }
  /** @returns h1, `(N, hiddenSize)` or `(hiddenSize)`. */
  forward(input: Tensor, hx?: Tensor | null): Tensor {
    return this.run(input, hx)[0];
  }
}

/** One Elman RNN step with tanh or ReLU (PyTorch's `nn.RNNCell`). */
export class RNNCell extends RNNCellBase {
  /** `'tanh'` or `'relu'`. */
  declare readonly nonlinearity: 'tanh' | 'relu';

  constructor(inputSize: number, hiddenSize: number, opts?: RNNCellOptions & { nonlinearity?: 'tanh' | 'relu' });
  constructor(opts: RNNCellOptions & RNNSizes & { nonlinearity?: 'tanh' | 'relu' });
  constructor(...args: unknown[]) {
    super(nonlinearityMode('RNNCell', args), 'RNNCell', args, ['bias', 'nonlinearity', 'dtype', 'device']);
    Object.defineProperty(this, 'nonlinearity', {
      value: this.mode === 'RNN_RELU' ? 'relu' : 'tanh',
      enumerable: false,
    });
  }

  /** @returns h1, `(N, hiddenSize)` or `(hiddenSize)`. */
  forward(input: Tensor, hx?: Tensor | null): Tensor {
    return this.run(input, hx)[0];
  }
}
