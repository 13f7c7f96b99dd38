// Learning-rate schedulers: PyTorch 1.13's `torch.optim.lr_scheduler`, ported expression for
// expression. Each scheduler uses PyTorch's recursive ("chainable") form in `step()` and its closed
// form where PyTorch does (`step(epoch)`, and SequentialLR's restart at a milestone), evaluating the
// same floating-point operations in the same order, so the sequence of learning rates is PyTorch's.
// State dicts carry PyTorch's snake_case attribute names (`last_epoch`, `base_lrs`, `_last_lr`, ...).
import { checkBool, checkInt, checkNumber, checkOptions, describe, typeError } from '../errors';
import { Tensor } from '../tensor';
import { Optimizer, type ParamGroup } from './optimizer';

// ---- shared checks ---------------------------------------------------------------------------------

/** `checkOptions`, where `required` also refuses a missing options object (the scheduler has required options). */
function options<T extends object>(fn: string, opts: unknown, known: readonly string[], required = false): Partial<T> {
  if (opts === undefined && required) typeError(fn, 'options', 'an options object', opts);
  return checkOptions<T>(fn, opts, known);
}

function finite(fn: string, arg: string, v: unknown): number {
  checkNumber(fn, arg, v);
  if (!Number.isFinite(v)) throw new RangeError(`${fn}: expected ${arg} to be a finite number, got ${describe(v)}`);
  return v as number;
}

function inRange(fn: string, arg: string, v: unknown, ok: (x: number) => boolean, what: string): number {
  const x = finite(fn, arg, v);
  if (!ok(x)) throw new RangeError(`${fn}: expected ${arg} to be ${what}, got ${x}`);
  return x;
}

function required<T>(fn: string, arg: string, v: T | undefined): T {
  if (v === undefined) throw new TypeError(`${fn}: option '${arg}' is required`);
  return v;
}

/** A number, or an array with one number per parameter group (PyTorch's `_format_param`). */
function perGroup(
  fn: string,
  arg: string,
  v: unknown,
  groups: number,
  check: (a: string, x: unknown) => number,
): number[] {
  if (Array.isArray(v)) {
    if (v.length !== groups)
      throw new RangeError(`${fn}: expected ${groups} values for ${arg} (one per parameter group), got ${v.length}`);
    return v.map((x, i) => check(`${arg}[${i}]`, x));
  }
  const x = check(arg, v);
  return new Array<number>(groups).fill(x);
}

function checkOptimizer(fn: string, optimizer: unknown): Optimizer {
  if (!(optimizer instanceof Optimizer)) typeError(fn, 'optimizer', 'an Optimizer', optimizer);
  return optimizer as Optimizer;
}

/** Python's `bisect.bisect_right` on a sorted array. */
function bisectRight(a: readonly number[], x: number): number {
  let lo = 0,
    hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < a[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A deep copy of state values (numbers, strings, booleans, null, arrays, plain objects). */
function copy<T>(v: T): T {
  if (Array.isArray(v)) return v.map(copy) as T;
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = copy(x);
    return out as T;
  }
  return v;
}

/** Python's `'{:.4e}'.format(x)`: `1.0000e-01`. */
function sci4(x: number): string {
  return x.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
}

/** Python's `"%.5d" % epoch` for integers and `"%.2f"` for fractional epochs. */
function epochString(epoch: number): string {
  if (!Number.isInteger(epoch)) return epoch.toFixed(2);
  return epoch < 0 ? `-${String(-epoch).padStart(5, '0')}` : String(epoch).padStart(5, '0');
}

function warn(message: string): void {
  process.emitWarning(message, 'UserWarning');
}

const EPOCH_DEPRECATION_WARNING =
  'The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where possible. ' +
  'Please use `scheduler.step()` to step the scheduler. During the deprecation, if epoch is different from ' +
  'undefined, the closed form is used instead of the new chainable form, where available.';

// ---- optimizer.step() counting (PyTorch's `with_counter`) -------------------------------------------

const WITH_COUNTER = Symbol('lrScheduler.withCounter');
type CountedStep = Optimizer['step'] & { [WITH_COUNTER]?: true };
/** PyTorch's `optimizer._step_count`: calls of `optimizer.step()` since the last scheduler's initial step. */
const optimizerStepCount = new WeakMap<Optimizer, number>();

/** Wraps `optimizer.step` (once) so that its calls are counted, as PyTorch's schedulers do. */
function withCounter(optimizer: Optimizer): void {
  const method = optimizer.step as CountedStep;
  if (method[WITH_COUNTER]) return;
  const wrapper = function (this: Optimizer, ...args: Parameters<Optimizer['step']>) {
    optimizerStepCount.set(optimizer, (optimizerStepCount.get(optimizer) ?? 0) + 1);
    return method.apply(this, args);
  } as CountedStep;
  wrapper[WITH_COUNTER] = true;
  optimizer.step = wrapper;
}

/** A module-private token: SequentialLR's construction skips the base initialisation, as PyTorch's. */
const BARE: unique symbol = Symbol('bare');

/** Options every `LRScheduler` takes. */
export interface LRSchedulerOptions {
  /**
   * The index of the last epoch, to resume a schedule (PyTorch's `last_epoch`). Default -1: start
   * from the beginning (each group's `initialLr` is set to its `lr`). Otherwise every group must
   * already have `initialLr` (restored with the optimizer's `loadStateDict`).
   */
  lastEpoch?: number;
  /** Print a line for every learning-rate update. Default false. */
  verbose?: boolean;
}
const BASE_KEYS = ['lastEpoch', 'verbose'] as const;

/** A scheduler's state, with PyTorch's attribute names. */
export type SchedulerStateDict = Record<string, unknown>;

/** What `loadStateDict` checks a state value against. */
type Kind = 'int' | 'number' | 'numbers' | 'bool' | 'string' | 'any';

function checkKind(fn: string, key: string, v: unknown, kind: Kind): void {
  const ok =
    kind === 'int'
      ? Number.isInteger(v)
      : kind === 'number'
        ? typeof v === 'number'
        : kind === 'numbers'
          ? Array.isArray(v) && v.every((x) => typeof x === 'number')
          : kind === 'bool'
            ? typeof v === 'boolean'
            : kind === 'string'
              ? typeof v === 'string'
              : true;
  if (!ok) {
    const what = {
      int: 'an integer',
      number: 'a number',
      numbers: 'an array of numbers',
      bool: 'a boolean',
      string: 'a string',
      any: '',
    }[kind];
    throw new TypeError(`${fn}: expected state '${key}' to be ${what}, got ${describe(v)}`);
  }
}

/**
 * Base class of the epoch-based schedulers (PyTorch's `_LRScheduler`, `LRScheduler` in 2.x).
 *
 * The constructor attaches the optimizer, sets each group's `initialLr` (when `lastEpoch` is -1),
 * records `baseLrs`, and (in each concrete scheduler) performs PyTorch's initial step, which sets
 * the learning rates of epoch 0. Call `step()` once per epoch (or batch) *after* `optimizer.step()`.
 *
 * A custom scheduler implements `getLr()` (the chainable form, reading `this.lastEpoch` and the
 * groups' current `lr`) and ends its constructor with `this._initialStep()`.
 *
 * @example
 * class HalveEvery10 extends torch.optim.lrScheduler.LRScheduler {
 *   constructor(opt: torch.optim.Optimizer) { super(opt); this._initialStep(); }
 *   protected getLr(): number[] {
 *     const f = this.lastEpoch > 0 && this.lastEpoch % 10 === 0 ? 0.5 : 1;
 *     return this.optimizer.paramGroups.map((g) => g.lr * f);
 *   }
 * }
 */
export abstract class LRScheduler {
  /** The optimizer whose groups' learning rates this scheduler sets. */
  readonly optimizer: Optimizer;
  /** Each group's `initialLr` (PyTorch's `base_lrs`). */
  baseLrs: number[] = [];
  /** The index of the last epoch (PyTorch's `last_epoch`); 0 after construction. */
  lastEpoch = -1;
  /** Print a line for every learning-rate update (default false). */
  verbose = false;
  /** PyTorch's `_step_count`: calls of `step()`, the initial one included. */
  _stepCount = 0;
  /** @internal PyTorch's `_last_lr` (saved in the state dict under that key). */
  protected _lastLr: number[] = [];
  /** @internal PyTorch's `_get_lr_called_within_step` (saved in the state dict under that key). */
  protected _getLrCalledWithinStep = false;

  protected constructor(optimizer: Optimizer, opts: LRSchedulerOptions = {}, bare?: typeof BARE) {
    const fn = new.target.name;
    this.optimizer = checkOptimizer(fn, optimizer);
    if (bare === BARE) return;
    const lastEpoch = opts.lastEpoch === undefined ? -1 : checkInt(fn, 'lastEpoch', opts.lastEpoch, -1);
    this.verbose = opts.verbose === undefined ? false : checkBool(fn, 'verbose', opts.verbose);
    const groups = optimizer.paramGroups;
    if (lastEpoch === -1) {
      for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr;
    } else {
      groups.forEach((g, i) => {
        if (g.initialLr === undefined)
          throw new TypeError(
            `${fn}: param 'initialLr' is not specified in paramGroups[${i}] ` +
              `when resuming an optimizer (lastEpoch ${lastEpoch})`,
          );
      });
    }
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
    withCounter(optimizer);
  }

  /** @internal PyTorch's `_initial_step`: resets the step counts and performs the first step. */
  _initialStep(): void {
    optimizerStepCount.set(this.optimizer, 0);
    this._stepCount = 0;
    this._step();
  }

  /** The learning rates of the current epoch (the chainable form PyTorch's `get_lr` computes). */
  protected abstract getLr(): number[];

  /** The closed form for `lastEpoch`, where PyTorch has one (`_get_closed_form_lr`). */
  protected closedFormLr(): number[] | undefined {
    return undefined;
  }

  /** The learning rates the last step set, one per group (PyTorch's `get_last_lr()`). */
  getLastLr(): number[] {
    return [...this._lastLr];
  }

  /**
   * Advances the schedule by one epoch and sets each group's `lr`. `step(epoch)` (deprecated in
   * PyTorch, with a warning) jumps to `epoch` using the closed form where there is one.
   */
  step(epoch?: number): void {
    if (epoch !== undefined) {
      checkNumber(`${this.constructor.name}.step`, 'epoch', epoch);
      warn(EPOCH_DEPRECATION_WARNING);
    }
    this._step(epoch);
  }

  /** @internal `step` without the deprecation warning (SequentialLR restarts with `_step(0)`). */
  _step(epoch?: number): void {
    if (this._stepCount === 1) {
      if (!(this.optimizer.step as CountedStep)[WITH_COUNTER]) {
        warn(
          'Seems like `optimizer.step()` has been overridden after learning rate scheduler initialization. ' +
            'Please, make sure to call `optimizer.step()` before `scheduler.step()`.',
        );
      } else if ((optimizerStepCount.get(this.optimizer) ?? 0) < 1) {
        warn(
          'Detected call of `scheduler.step()` before `optimizer.step()`. You should call them in the ' +
            'opposite order: `optimizer.step()` before `scheduler.step()`. Failure to do this will result in ' +
            'skipping the first value of the learning rate schedule.',
        );
      }
    }
    this._stepCount += 1;
    let values: number[];
    this._getLrCalledWithinStep = true;
    try {
      if (epoch === undefined) {
        this.lastEpoch += 1;
        values = this.getLr();
      } else {
        this.lastEpoch = epoch;
        values = this.closedFormLr() ?? this.getLr();
      }
    } finally {
      this._getLrCalledWithinStep = false;
    }
    const groups = this.optimizer.paramGroups;
    const n = Math.min(groups.length, values.length);
    for (let i = 0; i < n; i++) {
      groups[i].lr = values[i];
      this.printLr(i, values[i], epoch);
    }
    this._lastLr = groups.map((g) => g.lr);
  }

  private printLr(group: number, lr: number, epoch?: number): void {
    if (!this.verbose) return;
    if (epoch === undefined) console.log(`Adjusting learning rate of group ${group} to ${sci4(lr)}.`);
    else console.log(`Epoch ${epochString(epoch)}: adjusting learning rate of group ${group} to ${sci4(lr)}.`);
  }

  /** PyTorch attribute name → [our property, kind], in PyTorch's `__dict__` order (subclass keys first). */
  protected stateKeys(): Record<string, [string, Kind]> {
    return {
      base_lrs: ['baseLrs', 'numbers'],
      last_epoch: ['lastEpoch', 'int'],
      verbose: ['verbose', 'bool'],
      _step_count: ['_stepCount', 'int'],
      _get_lr_called_within_step: ['_getLrCalledWithinStep', 'bool'],
      _last_lr: ['_lastLr', 'numbers'],
    };
  }

  /**
   * The scheduler's state, as PyTorch's `state_dict()`: every attribute but the optimizer, under
   * PyTorch's names (`last_epoch`, `base_lrs`, `_last_lr`, `_step_count`, ...). Save it together
   * with the optimizer's state dict.
   */
  stateDict(): SchedulerStateDict {
    const out: SchedulerStateDict = {};
    const self = this as unknown as Record<string, unknown>;
    for (const [py, [js]] of Object.entries(this.stateKeys())) out[py] = copy(self[js]);
    return out;
  }

  /**
   * Restores a state saved by `stateDict()` (ours or PyTorch's). Keys this scheduler does not have
   * are ignored, as PyTorch's `__dict__.update` would keep them unused. The learning rates
   * themselves live in the optimizer: load its state dict too.
   */
  loadStateDict(stateDict: SchedulerStateDict): void {
    const fn = `${this.constructor.name}.loadStateDict`;
    if (stateDict === null || typeof stateDict !== 'object' || Array.isArray(stateDict))
      typeError(fn, 'stateDict', 'an object', stateDict);
    const keys = this.stateKeys();
    const entries = Object.entries(stateDict).filter(([k]) => k in keys);
    for (const [k, v] of entries) checkKind(fn, k, v, keys[k][1]);
    const self = this as unknown as Record<string, unknown>;
    for (const [k, v] of entries) self[keys[k][0]] = copy(v);
  }
}

// ---- StepLR ------------------------------------------------------------------------------------------

export interface StepLROptions extends LRSchedulerOptions {
  /** Period of the decay, in epochs (a positive integer). */
  stepSize: number;
  /** Multiplicative factor of the decay. Default 0.1. */
  gamma?: number;
}

/**
 * Multiplies each group's learning rate by `gamma` every `stepSize` epochs (PyTorch's `StepLR`).
 *
 * @example
 * const opt = new torch.optim.SGD(model.parameters(), { lr: 0.05 });
 * // lr = 0.05 for epochs 0..29, 0.005 for 30..59, 0.0005 for 60..89, ...
 * const sched = new torch.optim.lrScheduler.StepLR(opt, { stepSize: 30, gamma: 0.1 });
 * for (let epoch = 0; epoch < 100; epoch++) { train(); opt.step(); sched.step(); }
 */
export class StepLR extends LRScheduler {
  /** Decay every `stepSize` epochs. */
  stepSize: number;
  /** The multiplicative factor of each decay. */
  gamma: number;
  constructor(optimizer: Optimizer, opts: StepLROptions) {
    const fn = 'StepLR';
    const o = options<StepLROptions>(fn, opts, ['stepSize', 'gamma', ...BASE_KEYS], true);
    const stepSize = checkInt(fn, 'stepSize', required(fn, 'stepSize', o.stepSize), 1);
    const gamma = o.gamma === undefined ? 0.1 : inRange(fn, 'gamma', o.gamma, (x) => x >= 0, 'a non-negative number');
    super(optimizer, o);
    this.stepSize = stepSize;
    this.gamma = gamma;
    this._initialStep();
  }
  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
  protected override stateKeys(): Record<string, [string, Kind]> {
    return { step_size: ['stepSize', 'int'], gamma: ['gamma', 'number'], ...super.stateKeys() };
  }
}

// ---- MultiStepLR -------------------------------------------------------------------------------------

export interface MultiStepLROptions extends LRSchedulerOptions {
  /** Epoch indices, in increasing order; a repeated milestone decays `gamma` once per occurrence. */
  milestones: number[];
  /** Multiplicative factor of the decay. Default 0.1. */
  gamma?: number;
}

/**
 * Multiplies each group's learning rate by `gamma` at each milestone epoch (PyTorch's `MultiStepLR`).
 *
 * @example
 * // lr = 0.05 for epochs 0..29, 0.005 for 30..79, 0.0005 from 80 on
 * const sched = new torch.optim.lrScheduler.MultiStepLR(opt, { milestones: [30, 80], gamma: 0.1 });
 * for (let epoch = 0; epoch < 100; epoch++) { train(); opt.step(); sched.step(); }
 */
export class MultiStepLR extends LRScheduler {
  /** Milestone → occurrences (PyTorch's `Counter`). */
  milestones: Map<number, number>;
  /** The multiplicative factor of each decay. */
  gamma: number;
  constructor(optimizer: Optimizer, opts: MultiStepLROptions) {
    const fn = 'MultiStepLR';
    const o = options<MultiStepLROptions>(fn, opts, ['milestones', 'gamma', ...BASE_KEYS], true);
    const ms = required(fn, 'milestones', o.milestones);
    if (!Array.isArray(ms)) typeError(fn, 'milestones', 'an array of integers', ms);
    ms.forEach((m, i) => {
      checkInt(fn, `milestones[${i}]`, m, 0);
      if (i > 0 && m < ms[i - 1])
        throw new RangeError(`${fn}: expected milestones to be increasing, got [${ms.join(', ')}]`);
    });
    const gamma = o.gamma === undefined ? 0.1 : inRange(fn, 'gamma', o.gamma, (x) => x >= 0, 'a non-negative number');
    super(optimizer, o);
    this.milestones = new Map();
    for (const m of ms) this.milestones.set(m, (this.milestones.get(m) ?? 0) + 1);
    this.gamma = gamma;
    this._initialStep();
  }
  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const count = this.milestones.get(this.lastEpoch);
    if (count === undefined) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma ** count);
  }
  protected override closedFormLr(): number[] {
    const sorted: number[] = [];
    for (const [m, c] of this.milestones) for (let i = 0; i < c; i++) sorted.push(m);
    sorted.sort((a, b) => a - b);
    return this.baseLrs.map((b) => b * this.gamma ** bisectRight(sorted, this.lastEpoch));
  }
  protected override stateKeys(): Record<string, [string, Kind]> {
    return { milestones: ['milestones', 'any'], gamma: ['gamma', 'number'], ...super.stateKeys() };
  }
  /** `milestones` as PyTorch's `Counter` serialises: `{"30": 1, "80": 1}`. */
  override stateDict(): SchedulerStateDict {
    const sd = super.stateDict();
    const counts: Record<string, number> = {};
    for (const m of [...this.milestones.keys()].sort((a, b) => a - b)) counts[String(m)] = this.milestones.get(m)!;
    sd.milestones = counts;
    return sd;
  }
  override loadStateDict(stateDict: SchedulerStateDict): void {
    const fn = 'MultiStepLR.loadStateDict';
    let ms: Map<number, number> | undefined;
    if (stateDict !== null && typeof stateDict === 'object' && 'milestones' in stateDict) {
      const v = stateDict.milestones;
      ms = new Map();
      if (v instanceof Map) for (const [k, c] of v) ms.set(Number(k), Number(c));
      else if (v !== null && typeof v === 'object' && !Array.isArray(v))
        for (const [k, c] of Object.entries(v)) ms.set(Number(k), Number(c));
      else typeError(fn, "state 'milestones'", 'an object of milestone counts', v);
      for (const [k, c] of ms)
        if (!Number.isInteger(k) || !Number.isInteger(c))
          throw new TypeError(`${fn}: invalid milestone count ${k}: ${c}`);
    }
    super.loadStateDict(stateDict);
    if (ms) this.milestones = ms;
  }
}

// ---- ExponentialLR -----------------------------------------------------------------------------------

export interface ExponentialLROptions extends LRSchedulerOptions {
  /** Multiplicative factor of the decay, applied every epoch. */
  gamma: number;
}

/**
 * Multiplies each group's learning rate by `gamma` every epoch (PyTorch's `ExponentialLR`).
 *
 * @example
 * const sched = new torch.optim.lrScheduler.ExponentialLR(opt, { gamma: 0.95 });
 * for (let epoch = 0; epoch < 100; epoch++) { train(); opt.step(); sched.step(); }
 */
export class ExponentialLR extends LRScheduler {
  /** The multiplicative factor of each decay. */
  gamma: number;
  constructor(optimizer: Optimizer, opts: ExponentialLROptions) {
    const fn = 'ExponentialLR';
    const o = options<ExponentialLROptions>(fn, opts, ['gamma', ...BASE_KEYS], true);
    const gamma = inRange(fn, 'gamma', required(fn, 'gamma', o.gamma), (x) => x >= 0, 'a non-negative number');
    super(optimizer, o);
    this.gamma = gamma;
    this._initialStep();
  }
  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    if (this.lastEpoch === 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }
  protected override stateKeys(): Record<string, [string, Kind]> {
    return { gamma: ['gamma', 'number'], ...super.stateKeys() };
  }
}

// ---- CosineAnnealingLR -------------------------------------------------------------------------------

export interface CosineAnnealingLROptions extends LRSchedulerOptions {
  /** Half-period of the cosine, in epochs (PyTorch's `T_max`). */
  tMax: number;
  /** The minimum learning rate (PyTorch's `eta_min`). Default 0. */
  etaMin?: number;
}

/**
 * Anneals each group's learning rate from its initial value to `etaMin` along a cosine over `tMax`
 * epochs (and back up after, as PyTorch's recursive form does): PyTorch's `CosineAnnealingLR`.
 *
 * @example
 * const sched = new torch.optim.lrScheduler.CosineAnnealingLR(opt, { tMax: 50, etaMin: 1e-5 });
 * for (let epoch = 0; epoch < 50; epoch++) { train(); opt.step(); sched.step(); }
 */
export class CosineAnnealingLR extends LRScheduler {
  /** The number of epochs of the half cosine period. */
  tMax: number;
  /** The minimum learning rate (default 0). */
  etaMin: number;
  constructor(optimizer: Optimizer, opts: CosineAnnealingLROptions) {
    const fn = 'CosineAnnealingLR';
    const o = options<CosineAnnealingLROptions>(fn, opts, ['tMax', 'etaMin', ...BASE_KEYS], true);
    const tMax = inRange(fn, 'tMax', required(fn, 'tMax', o.tMax), (x) => x > 0, 'a positive number');
    const etaMin = o.etaMin === undefined ? 0 : finite(fn, 'etaMin', o.etaMin);
    super(optimizer, o);
    this.tMax = tMax;
    this.etaMin = etaMin;
    this._initialStep();
  }
  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const e = this.lastEpoch,
      T = this.tMax,
      etaMin = this.etaMin;
    if (e === 0) return groups.map((g) => g.lr);
    if (this._stepCount === 1 && e > 0)
      return this.baseLrs.map((b) => etaMin + ((b - etaMin) * (1 + Math.cos((e * Math.PI) / T))) / 2);
    if ((e - 1 - T) % (2 * T) === 0)
      return groups.map((g, i) => g.lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    return groups.map(
      (g) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (g.lr - etaMin) + etaMin,
    );
  }
  protected override closedFormLr(): number[] {
    return this.baseLrs.map(
      (b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2,
    );
  }
  protected override stateKeys(): Record<string, [string, Kind]> {
    return { T_max: ['tMax', 'number'], eta_min: ['etaMin', 'number'], ...super.stateKeys() };
  }
}

// ---- LinearLR ----------------------------------------------------------------------------------------

export interface LinearLROptions extends LRSchedulerOptions {
  /** The factor of the first epoch, in (0, 1]. Default 1/3. */
  startFactor?: number;
  /** The factor reached after `totalIters` epochs, in [0, 1]. Default 1. */
  endFactor?: number;
  /** Epochs over which the factor changes linearly (a positive integer). Default 5. */
  totalIters?: number;
}

/**
 * Scales each group's learning rate by a factor that changes linearly from `startFactor` to
 * `endFactor` over `totalIters` epochs (PyTorch's `LinearLR`), e.g. for warm-up.
 *
 * @example
 * // lr = 0.025, 0.03125, 0.0375, 0.04375, then 0.05 from epoch 4 on (initial lr 0.05)
 * const sched = new torch.optim.lrScheduler.LinearLR(opt, { startFactor: 0.5, totalIters: 4 });
 */
export class LinearLR extends LRScheduler {
  /** The factor of the learning rate at the first epoch. */
  startFactor: number;
  /** The factor of the learning rate at the end (`totalIters`) and after. */
  endFactor: number;
  /** The number of epochs over which the factor moves from `startFactor` to `endFactor`. */
  totalIters: number;
  constructor(optimizer: Optimizer, opts: LinearLROptions = {}) {
    const fn = 'LinearLR';
    const o = options<LinearLROptions>(fn, opts, ['startFactor', 'endFactor', 'totalIters', ...BASE_KEYS]);
    const startFactor =
      o.startFactor === undefined
        ? 1 / 3
        : inRange(fn, 'startFactor', o.startFactor, (x) => x > 0 && x <= 1, 'in (0, 1]');
    const endFactor =
      o.endFactor === undefined ? 1 : inRange(fn, 'endFactor', o.endFactor, (x) => x >= 0 && x <= 1, 'in [0, 1]');
    const totalIters = o.totalIters === undefined ? 5 : checkInt(fn, 'totalIters', o.totalIters, 1);
    super(optimizer, o);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = totalIters;
    this._initialStep();
  }
  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const s = this.startFactor,
      e = this.endFactor,
      n = this.totalIters;
    if (this.lastEpoch === 0) return groups.map((g) => g.lr * s);
    if (this.lastEpoch > n) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * (1 + (e - s) / (n * s + (this.lastEpoch - 1) * (e - s))));
  }
  protected override closedFormLr(): number[] {
    const s = this.startFactor,
      e = this.endFactor,
      n = this.totalIters;
    return this.baseLrs.map((b) => b * (s + ((e - s) * Math.min(n, this.lastEpoch)) / n));
  }
  protected override stateKeys(): Record<string, [string, Kind]> {
    return {
      start_factor: ['startFactor', 'number'],
      end_factor: ['endFactor', 'number'],
      total_iters: ['totalIters', 'int'],
      ...super.stateKeys(),
    };
  }
}

// ---- LambdaLR ----------------------------------------------------------------------------------------

/** A function of the epoch giving the factor of the initial learning rate. */
export type LrLambda = (epoch: number) => number;

export interface LambdaLROptions extends LRSchedulerOptions {
  /** One function for all groups, or one per group. */
  lrLambda: LrLambda | LrLambda[];
}

/**
 * Sets each group's learning rate to its initial value times `lrLambda(epoch)` (PyTorch's `LambdaLR`).
 * The state dict holds `null` for each function, or a copy of its own enumerable properties when it
 * has some (PyTorch saves the `__dict__` of callable objects, not of plain functions).
 *
 * @example
 * // two groups: a step warm-up for the first, exponential decay for the second
 * const sched = new torch.optim.lrScheduler.LambdaLR(opt, {
 *   lrLambda: [(epoch) => Math.floor(epoch / 30), (epoch) => 0.95 ** epoch],
 * });
 */
export class LambdaLR extends LRScheduler {
  /** One function per group: epoch → the factor of the group's initial learning rate. */
  lrLambdas: LrLambda[];
  constructor(optimizer: Optimizer, opts: LambdaLROptions) {
    const fn = 'LambdaLR';
    const o = options<LambdaLROptions>(fn, opts, ['lrLambda', ...BASE_KEYS], true);
    const f = required(fn, 'lrLambda', o.lrLambda);
    const n = checkOptimizer(fn, optimizer).paramGroups.length;
    let lambdas: LrLambda[];
    if (Array.isArray(f)) {
      if (f.length !== n)
        throw new RangeError(`${fn}: expected ${n} lrLambda functions (one per parameter group), got ${f.length}`);
      f.forEach((x, i) => {
        if (typeof x !== 'function') typeError(fn, `lrLambda[${i}]`, 'a function', x);
      });
      lambdas = [...f];
    } else {
      if (typeof f !== 'function') typeError(fn, 'lrLambda', 'a function or an array of functions', f);
      lambdas = new Array<LrLambda>(n).fill(f);
    }
    super(optimizer, o);
    this.lrLambdas = lambdas;
    this._initialStep();
  }
  protected getLr(): number[] {
    return this.baseLrs.map((b, i) => {
      const factor = this.lrLambdas[i](this.lastEpoch);
      if (typeof factor !== 'number') typeError('LambdaLR', `lrLambda(${this.lastEpoch})`, 'a number', factor);
      return b * factor;
    });
  }
  override stateDict(): SchedulerStateDict {
    const sd = super.stateDict();
    sd.lr_lambdas = this.lrLambdas.map((f) => (Object.keys(f).length ? copy({ ...f }) : null));
    return sd;
  }
  override loadStateDict(stateDict: SchedulerStateDict): void {
    const fn = 'LambdaLR.loadStateDict';
    const saved = stateDict !== null && typeof stateDict === 'object' ? stateDict.lr_lambdas : undefined;
    if (saved !== undefined && !(Array.isArray(saved) && saved.length === this.lrLambdas.length))
      typeError(fn, "state 'lr_lambdas'", `an array of ${this.lrLambdas.length} entries`, saved);
    super.loadStateDict(stateDict);
    (saved as (Record<string, unknown> | null)[] | undefined)?.forEach((s, i) => {
      if (s !== null && typeof s === 'object') Object.assign(this.lrLambdas[i], copy(s));
    });
  }
}

// ---- OneCycleLR --------------------------------------------------------------------------------------

export interface OneCycleLROptions extends LRSchedulerOptions {
  /** The peak learning rate, one for all groups or one per group. */
  maxLr: number | number[];
  /** Steps in the cycle; or give `epochs` and `stepsPerEpoch`. */
  totalSteps?: number;
  /** With `stepsPerEpoch`, gives the cycle length when `totalSteps` is not set. */
  epochs?: number;
  /** With `epochs`, gives the cycle length when `totalSteps` is not set. */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the learning rate. Default 0.3. */
  pctStart?: number;
  /** `'cos'` (default) or `'linear'` annealing. */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle the momentum (SGD's `momentum`, Adam's `betas[0]`) inversely to the learning rate. Default true. */
  cycleMomentum?: boolean;
  /** Momentum at the peak learning rate. Default 0.85. */
  baseMomentum?: number | number[];
  /** Momentum at the start and end of the cycle. Default 0.95. */
  maxMomentum?: number | number[];
  /** Initial learning rate = `maxLr / divFactor`. Default 25. */
  divFactor?: number;
  /** Minimum learning rate = initial learning rate / `finalDivFactor`. Default 1e4. */
  finalDivFactor?: number;
  /** Three phases (up, symmetric down, annihilation) as in the paper instead of fastai's two. Default false. */
  threePhase?: boolean;
}

/** One phase of the cycle, with PyTorch's keys (group keys named as PyTorch names them). */
export interface OneCyclePhase {
  /** The step at which this phase ends. */
  end_step: number;
  /** The group key whose value the learning rate starts the phase at (`'initial_lr'`, `'max_lr'`, ...). */
  start_lr: string;
  /** The group key whose value the learning rate ends the phase at. */
  end_lr: string;
  /** The group key whose value the momentum starts the phase at. */
  start_momentum: string;
  /** The group key whose value the momentum ends the phase at. */
  end_momentum: string;
}

/** PyTorch's group keys → ours. */
const ONE_CYCLE_GROUP_KEYS: Record<string, string> = {
  initial_lr: 'initialLr',
  max_lr: 'maxLr',
  min_lr: 'minLr',
  max_momentum: 'maxMomentum',
  base_momentum: 'baseMomentum',
};

/**
 * The 1cycle policy (PyTorch's `OneCycleLR`): the learning rate rises from `maxLr / divFactor` to
 * `maxLr`, then anneals to `maxLr / divFactor / finalDivFactor`, over `totalSteps` steps; the
 * momentum (SGD's `momentum`, or `betas[0]` for Adam/AdamW) cycles inversely between `maxMomentum`
 * and `baseMomentum`. Step it after every batch. It stores `initialLr`, `maxLr`, `minLr`,
 * `maxMomentum` and `baseMomentum` in each parameter group, as PyTorch does.
 *
 * @example
 * const opt = new torch.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * const sched = new torch.optim.lrScheduler.OneCycleLR(opt, {
 *   maxLr: 0.01,
 *   epochs: 10,
 *   stepsPerEpoch: batches.length,
 * });
 * for (let epoch = 0; epoch < 10; epoch++)
 *   for (const batch of batches) { trainBatch(batch); opt.step(); sched.step(); }
 */
export class OneCycleLR extends LRScheduler {
  /** The number of steps in the cycle. */
  totalSteps: number;
  /** @internal PyTorch's `_schedule_phases`. */
  _schedulePhases: OneCyclePhase[];
  /** Whether the momentum cycles inversely to the learning rate. */
  cycleMomentum: boolean;
  /** Whether the momentum cycled is `betas[0]` (optimizers with `betas`) rather than `momentum`. */
  useBeta1: boolean;
  /** The annealing strategy (`_anneal_func_type` in PyTorch 2.x state dicts). */
  annealStrategy: 'cos' | 'linear';

  constructor(optimizer: Optimizer, opts: OneCycleLROptions) {
    const fn = 'OneCycleLR';
    const o = options<OneCycleLROptions>(
      fn,
      opts,
      [
        'maxLr',
        'totalSteps',
        'epochs',
        'stepsPerEpoch',
        'pctStart',
        'annealStrategy',
        'cycleMomentum',
        'baseMomentum',
        'maxMomentum',
        'divFactor',
        'finalDivFactor',
        'threePhase',
        ...BASE_KEYS,
      ],
      true,
    );
    const opt = checkOptimizer(fn, optimizer);
    const groups = opt.paramGroups;
    let totalSteps: number;
    if (o.totalSteps === undefined && o.epochs === undefined && o.stepsPerEpoch === undefined) {
      throw new TypeError(`${fn}: you must define either totalSteps OR (epochs AND stepsPerEpoch)`);
    } else if (o.totalSteps !== undefined) {
      totalSteps = checkInt(fn, 'totalSteps', o.totalSteps, 1);
    } else {
      const epochs = checkInt(fn, 'epochs', o.epochs, 1);
      const spe = checkInt(fn, 'stepsPerEpoch', o.stepsPerEpoch, 1);
      totalSteps = epochs * spe;
    }
    const pctStart =
      o.pctStart === undefined ? 0.3 : inRange(fn, 'pctStart', o.pctStart, (x) => x >= 0 && x <= 1, 'in [0, 1]');
    const anneal = o.annealStrategy ?? 'cos';
    if (anneal !== 'cos' && anneal !== 'linear') typeError(fn, 'annealStrategy', "'cos' or 'linear'", anneal);
    const threePhase = o.threePhase === undefined ? false : checkBool(fn, 'threePhase', o.threePhase);
    const num = (a: string, x: unknown) => finite(fn, a, x);
    const maxLrs = perGroup(fn, 'maxLr', required(fn, 'maxLr', o.maxLr), groups.length, num);
    const divFactor =
      o.divFactor === undefined ? 25 : inRange(fn, 'divFactor', o.divFactor, (x) => x > 0, 'a positive number');
    const finalDivFactor =
      o.finalDivFactor === undefined
        ? 1e4
        : inRange(fn, 'finalDivFactor', o.finalDivFactor, (x) => x > 0, 'a positive number');
    const cycleMomentum = o.cycleMomentum === undefined ? true : checkBool(fn, 'cycleMomentum', o.cycleMomentum);
    let useBeta1 = false,
      maxMomentums: number[] = [],
      baseMomentums: number[] = [];
    if (cycleMomentum) {
      if (!('momentum' in opt.defaults) && !('betas' in opt.defaults))
        throw new RangeError(
          `${fn}: optimizer must support momentum (momentum or betas) with the cycleMomentum option enabled`,
        );
      useBeta1 = 'betas' in opt.defaults;
      maxMomentums = perGroup(fn, 'maxMomentum', o.maxMomentum ?? 0.95, groups.length, num);
      baseMomentums = perGroup(fn, 'baseMomentum', o.baseMomentum ?? 0.85, groups.length, num);
    }
    const lastEpoch = o.lastEpoch === undefined ? -1 : checkInt(fn, 'lastEpoch', o.lastEpoch, -1);

    const phases: OneCyclePhase[] = threePhase
      ? [
          {
            end_step: pctStart * totalSteps - 1,
            start_lr: 'initial_lr',
            end_lr: 'max_lr',
            start_momentum: 'max_momentum',
            end_momentum: 'base_momentum',
          },
          {
            end_step: 2 * pctStart * totalSteps - 2,
            start_lr: 'max_lr',
            end_lr: 'initial_lr',
            start_momentum: 'base_momentum',
            end_momentum: 'max_momentum',
          },
          {
            end_step: totalSteps - 1,
            start_lr: 'initial_lr',
            end_lr: 'min_lr',
            start_momentum: 'max_momentum',
            end_momentum: 'max_momentum',
          },
        ]
      : [
          {
            end_step: pctStart * totalSteps - 1,
            start_lr: 'initial_lr',
            end_lr: 'max_lr',
            start_momentum: 'max_momentum',
            end_momentum: 'base_momentum',
          },
          {
            end_step: totalSteps - 1,
            start_lr: 'max_lr',
            end_lr: 'min_lr',
            start_momentum: 'base_momentum',
            end_momentum: 'max_momentum',
          },
        ];
    // Everything is valid: now set up the groups (before the base constructor reads initialLr).
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / divFactor;
        g.maxLr = maxLrs[i];
        g.minLr = g.initialLr / finalDivFactor;
      });
      if (cycleMomentum) {
        groups.forEach((g, i) => {
          if (useBeta1) g.betas = [maxMomentums[i], ...(g.betas as number[]).slice(1)];
          else g.momentum = maxMomentums[i];
          g.maxMomentum = maxMomentums[i];
          g.baseMomentum = baseMomentums[i];
        });
      }
    }
    super(opt, o);
    this.totalSteps = totalSteps;
    this._schedulePhases = phases;
    this.annealStrategy = anneal;
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = useBeta1;
    this._initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'cos') {
      const cosOut = Math.cos(Math.PI * pct) + 1;
      return end + ((start - end) / 2.0) * cosOut;
    }
    return (end - start) * pct + start;
  }

  protected getLr(): number[] {
    const fn = 'OneCycleLR';
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps)
      throw new RangeError(
        `${fn}: tried to step ${stepNum + 1} times; the specified number of total steps is ${this.totalSteps}`,
      );
    const phases = this._schedulePhases;
    return this.optimizer.paramGroups.map((g, gi) => {
      const read = (key: string): number => {
        const js = ONE_CYCLE_GROUP_KEYS[key] ?? key;
        const v = g[js];
        if (typeof v !== 'number')
          throw new TypeError(`${fn}: paramGroups[${gi}].${js} is not set (got ${describe(v)})`);
        return v;
      };
      let startStep = 0;
      let lr = NaN,
        momentum = NaN;
      for (let i = 0; i < phases.length; i++) {
        const endStep = phases[i].end_step;
        if (stepNum <= endStep || i === phases.length - 1) {
          if (endStep - startStep === 0)
            throw new RangeError(
              `${fn}: phase ${i} of the cycle has no steps ` +
                '(pctStart * totalSteps is too small or too large), division by zero',
            );
          const pct = (stepNum - startStep) / (endStep - startStep);
          lr = this.anneal(read(phases[i].start_lr), read(phases[i].end_lr), pct);
          if (this.cycleMomentum)
            momentum = this.anneal(read(phases[i].start_momentum), read(phases[i].end_momentum), pct);
          break;
        }
        startStep = phases[i].end_step;
      }
      if (this.cycleMomentum) {
        if (this.useBeta1) g.betas = [momentum, ...(g.betas as number[]).slice(1)];
        else g.momentum = momentum;
      }
      return lr;
    });
  }

  protected override stateKeys(): Record<string, [string, Kind]> {
    // PyTorch sets `use_beta1` only when the momentum cycles
    const beta1: Record<string, [string, Kind]> = this.cycleMomentum ? { use_beta1: ['useBeta1', 'bool'] } : {};
    return {
      total_steps: ['totalSteps', 'int'],
      _schedule_phases: ['_schedulePhases', 'any'],
      cycle_momentum: ['cycleMomentum', 'bool'],
      ...beta1,
      _anneal_func_type: ['annealStrategy', 'string'],
      ...super.stateKeys(),
    };
  }
  override loadStateDict(stateDict: SchedulerStateDict): void {
    const fn = 'OneCycleLR.loadStateDict';
    if (stateDict !== null && typeof stateDict === 'object') {
      const a = stateDict._anneal_func_type;
      if (a !== undefined && a !== 'cos' && a !== 'linear')
        typeError(fn, "state '_anneal_func_type'", "'cos' or 'linear'", a);
      const ph = stateDict._schedule_phases;
      if (
        ph !== undefined &&
        !(Array.isArray(ph) && ph.every((p) => p !== null && typeof p === 'object' && typeof p.end_step === 'number'))
      )
        typeError(fn, "state '_schedule_phases'", 'an array of phases {end_step, start_lr, ...}', ph);
      if ('use_beta1' in stateDict) checkKind(fn, 'use_beta1', stateDict.use_beta1, 'bool');
    }
    super.loadStateDict(stateDict);
    if ('use_beta1' in stateDict) this.useBeta1 = stateDict.use_beta1 as boolean;
  }
}

// ---- SequentialLR ------------------------------------------------------------------------------------

/** Options of `optim.lrScheduler.SequentialLR`. */
export interface SequentialLROptions {
  /** The schedulers, all of the same optimizer, each run in turn. */
  schedulers: LRScheduler[];
  /** Increasing epochs at which the next scheduler takes over (one fewer than the schedulers). */
  milestones: number[];
  /** PyTorch's `last_epoch`. Default -1. */
  lastEpoch?: number;
  /** Accepted and ignored, as in PyTorch. */
  verbose?: boolean;
}

/**
 * Runs schedulers one after another, switching at the milestones (PyTorch's `SequentialLR`); each
 * scheduler after the first restarts from epoch 0 (its closed form) when it takes over.
 *
 * @example
 * // 5 epochs of linear warm-up from 10%, then exponential decay
 * const warmup = new torch.optim.lrScheduler.LinearLR(opt, { startFactor: 0.1, totalIters: 5 });
 * const decay = new torch.optim.lrScheduler.ExponentialLR(opt, { gamma: 0.9 });
 * const sched = new torch.optim.lrScheduler.SequentialLR(opt, { schedulers: [warmup, decay], milestones: [5] });
 * for (let epoch = 0; epoch < 100; epoch++) { train(); opt.step(); sched.step(); }
 */
export class SequentialLR extends LRScheduler {
  /** @internal PyTorch's `_schedulers`. */
  _schedulers: LRScheduler[];
  /** @internal PyTorch's `_milestones`. */
  _milestones: number[];

  constructor(optimizer: Optimizer, opts: SequentialLROptions) {
    const fn = 'SequentialLR';
    const o = options<SequentialLROptions>(fn, opts, ['schedulers', 'milestones', 'lastEpoch', 'verbose'], true);
    checkOptimizer(fn, optimizer);
    const schedulers = required(fn, 'schedulers', o.schedulers);
    if (!Array.isArray(schedulers) || schedulers.length === 0)
      typeError(fn, 'schedulers', 'a non-empty array of LRSchedulers', schedulers);
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler))
        typeError(fn, `schedulers[${i}]`, 'an LRScheduler (ReduceLROnPlateau cannot be sequenced)', s);
      if (s instanceof SequentialLR)
        throw new TypeError(`${fn}: schedulers[${i}] is a SequentialLR; they cannot be nested`);
      if (s.optimizer !== optimizer)
        throw new RangeError(
          `${fn}: expects all schedulers to belong to the same optimizer, ` +
            `but schedulers[${i}] has a different optimizer than the one passed in`,
        );
    });
    const milestones = required(fn, 'milestones', o.milestones);
    if (!Array.isArray(milestones)) typeError(fn, 'milestones', 'an array of integers', milestones);
    milestones.forEach((m, i) => {
      checkInt(fn, `milestones[${i}]`, m, 0);
      if (i > 0 && m <= milestones[i - 1])
        throw new RangeError(`${fn}: expected milestones to be increasing, got [${milestones.join(', ')}]`);
    });
    if (milestones.length !== schedulers.length - 1)
      throw new RangeError(
        `${fn}: expects the number of schedulers to be one more than the number of milestones, ` +
          `but got ${schedulers.length} schedulers and ${milestones.length} milestones`,
      );
    const lastEpoch = o.lastEpoch === undefined ? -1 : checkInt(fn, 'lastEpoch', o.lastEpoch, -1);
    if (o.verbose !== undefined) checkBool(fn, 'verbose', o.verbose);
    super(optimizer, {}, BARE);
    this._schedulers = [...schedulers];
    this._milestones = [...milestones];
    this.lastEpoch = lastEpoch + 1;
    // Reset learning rates back to initial values, "undo" the step the schedulers performed,
    // and perform the initial step of the first scheduler only.
    for (const g of optimizer.paramGroups) g.lr = g.initialLr as number;
    for (const s of this._schedulers) s.lastEpoch -= 1;
    this._schedulers[0]._initialStep();
    this._lastLr = this._schedulers[0].getLastLr();
  }

  protected getLr(): number[] {
    return this.getLastLr();
  }

  /** Steps the scheduler of the current epoch (restarting it at epoch 0 at its milestone). */
  override step(): void {
    this._step();
  }

  /** @internal */
  override _step(): void {
    this.lastEpoch += 1;
    const idx = bisectRight(this._milestones, this.lastEpoch);
    const s = this._schedulers[idx];
    if (idx > 0 && this._milestones[idx - 1] === this.lastEpoch) s._step(0);
    else s._step();
    this._lastLr = s.getLastLr();
  }

  /** PyTorch's keys: `_milestones`, `last_epoch`, `_last_lr` and `_schedulers` (their state dicts). */
  override stateDict(): SchedulerStateDict {
    return {
      _milestones: [...this._milestones],
      last_epoch: this.lastEpoch,
      _last_lr: [...this._lastLr],
      _schedulers: this._schedulers.map((s) => s.stateDict()),
    };
  }

  override loadStateDict(stateDict: SchedulerStateDict): void {
    const fn = 'SequentialLR.loadStateDict';
    if (stateDict === null || typeof stateDict !== 'object' || Array.isArray(stateDict))
      typeError(fn, 'stateDict', 'an object', stateDict);
    const subs = stateDict._schedulers;
    if (subs !== undefined && !(Array.isArray(subs) && subs.length === this._schedulers.length))
      typeError(fn, "state '_schedulers'", `an array of ${this._schedulers.length} state dicts`, subs);
    const keys: Record<string, Kind> = { _milestones: 'numbers', last_epoch: 'int', _last_lr: 'numbers' };
    for (const [k, kind] of Object.entries(keys)) if (k in stateDict) checkKind(fn, k, stateDict[k], kind);
    if ('_milestones' in stateDict) this._milestones = copy(stateDict._milestones as number[]);
    if ('last_epoch' in stateDict) this.lastEpoch = stateDict.last_epoch as number;
    if ('_last_lr' in stateDict) this._lastLr = copy(stateDict._last_lr as number[]);
    (subs as SchedulerStateDict[] | undefined)?.forEach((s, i) => this._schedulers[i].loadStateDict(s));
  }
}

// ---- ReduceLROnPlateau -------------------------------------------------------------------------------

/** Options of `optim.lrScheduler.ReduceLROnPlateau`. */
export interface ReduceLROnPlateauOptions {
  /** `'min'` (default): reduce when the metric stops decreasing; `'max'`: when it stops increasing. */
  mode?: 'min' | 'max';
  /** new lr = lr * factor, in [0, 1). Default 0.1. */
  factor?: number;
  /** Epochs without improvement tolerated before reducing. Default 10. */
  patience?: number;
  /** Threshold of a significant improvement. Default 1e-4. */
  threshold?: number;
  /** `'rel'` (default): relative to the best value; `'abs'`: absolute. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a reduction before counting bad epochs again. Default 0. */
  cooldown?: number;
  /** Lower bound of the learning rate, for all groups or one per group. Default 0. */
  minLr?: number | number[];
  /** Reductions smaller than this are ignored. Default 1e-8. */
  eps?: number;
  /** Print a line for every learning-rate update (default false). */
  verbose?: boolean;
}

/**
 * Reduces the learning rate by `factor` when a metric has stopped improving for `patience` epochs
 * (PyTorch's `ReduceLROnPlateau`). `step(metric)` takes the epoch's metric (a number or a
 * one-element tensor).
 *
 * @example
 * const sched = new torch.optim.lrScheduler.ReduceLROnPlateau(opt, { mode: 'min', factor: 0.5, patience: 5 });
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   train(); opt.step();
 *   sched.step(validationLoss());
 * }
 */
export class ReduceLROnPlateau {
  /** The optimizer whose groups' learning rates this scheduler sets. */
  readonly optimizer: Optimizer;
  /** new lr = lr * factor. */
  factor: number;
  /** The lower bound of each group's learning rate. */
  minLrs: number[];
  /** Epochs without improvement tolerated before reducing. */
  patience: number;
  /** Print a line for every learning-rate update (default false). */
  verbose: boolean;
  /** Epochs to wait after a reduction before counting bad epochs again. */
  cooldown: number;
  /** Epochs left before bad epochs count again after a reduction. */
  cooldownCounter = 0;
  /** `'min'`: reduce when the metric stops decreasing; `'max'`: when it stops increasing. */
  mode: 'min' | 'max';
  /** The threshold of a significant improvement. */
  threshold: number;
  /** `'rel'`: relative to the best value; `'abs'`: absolute. */
  thresholdMode: 'rel' | 'abs';
  /** The best value of the metric so far. */
  best: number;
  /** Epochs since the last improvement. */
  numBadEpochs = 0;
  /** The worst value for the mode (Infinity for 'min', -Infinity for 'max'). */
  modeWorse: number;
  /** Reductions smaller than this are ignored. */
  eps: number;
  /** The number of `step(metric)` calls so far (PyTorch's `last_epoch`). */
  lastEpoch = 0;
  /** @internal PyTorch's `_last_lr` (saved in the state dict under that key). */
  protected _lastLr: number[];

  constructor(optimizer: Optimizer, opts: ReduceLROnPlateauOptions = {}) {
    const fn = 'ReduceLROnPlateau';
    const o = options<ReduceLROnPlateauOptions>(fn, opts, [
      'mode',
      'factor',
      'patience',
      'threshold',
      'thresholdMode',
      'cooldown',
      'minLr',
      'eps',
      'verbose',
    ]);
    this.optimizer = checkOptimizer(fn, optimizer);
    this.factor =
      o.factor === undefined
        ? 0.1
        : inRange(fn, 'factor', o.factor, (x) => x >= 0 && x < 1, 'in [0, 1) (factor should be < 1.0)');
    const n = optimizer.paramGroups.length;
    this.minLrs = perGroup(fn, 'minLr', o.minLr ?? 0, n, (a, x) =>
      inRange(fn, a, x, (v) => v >= 0, 'a non-negative number'),
    );
    this.patience = o.patience === undefined ? 10 : checkInt(fn, 'patience', o.patience, 0);
    this.verbose = o.verbose === undefined ? false : checkBool(fn, 'verbose', o.verbose);
    this.cooldown = o.cooldown === undefined ? 0 : checkInt(fn, 'cooldown', o.cooldown, 0);
    this.eps = o.eps === undefined ? 1e-8 : inRange(fn, 'eps', o.eps, (x) => x >= 0, 'a non-negative number');
    const mode = o.mode ?? 'min',
      thresholdMode = o.thresholdMode ?? 'rel';
    const threshold = o.threshold === undefined ? 1e-4 : finite(fn, 'threshold', o.threshold);
    this.mode = mode;
    this.threshold = threshold;
    this.thresholdMode = thresholdMode;
    this.modeWorse = Infinity;
    this.initIsBetter(fn, mode, threshold, thresholdMode);
    this.best = this.modeWorse;
    this.reset();
    this._lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  private reset(): void {
    this.best = this.modeWorse;
    this.cooldownCounter = 0;
    this.numBadEpochs = 0;
  }

  private initIsBetter(fn: string, mode: unknown, threshold: unknown, thresholdMode: unknown): void {
    if (mode !== 'min' && mode !== 'max') typeError(fn, 'mode', "'min' or 'max'", mode);
    if (thresholdMode !== 'rel' && thresholdMode !== 'abs')
      typeError(fn, 'thresholdMode', "'rel' or 'abs'", thresholdMode);
    this.modeWorse = mode === 'min' ? Infinity : -Infinity;
    this.mode = mode;
    this.threshold = threshold as number;
    this.thresholdMode = thresholdMode;
  }

  /** Whether the cooldown after a reduction is still running. */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /** Whether `a` is a significant improvement over `best` for the mode and threshold. */
  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min' && this.thresholdMode === 'rel') return a < best * (1 - this.threshold);
    if (this.mode === 'min' && this.thresholdMode === 'abs') return a < best - this.threshold;
    if (this.mode === 'max' && this.thresholdMode === 'rel') return a > best * (this.threshold + 1);
    return a > best + this.threshold;
  }

  /** Records the epoch's metric and reduces the learning rates when it has plateaued. */
  step(metric: number | Tensor, epoch?: number): void {
    const fn = 'ReduceLROnPlateau.step';
    let current: number;
    if (metric instanceof Tensor) {
      if (metric.numel() !== 1)
        throw new RangeError(
          `${fn}: expected metric to be a one-element tensor, got shape [${metric.shape.join(', ')}]`,
        );
      current = metric.item();
    } else {
      current = checkNumber(fn, 'metric', metric);
    }
    if (epoch === undefined) {
      epoch = this.lastEpoch + 1;
    } else {
      checkNumber(fn, 'epoch', epoch);
      warn(EPOCH_DEPRECATION_WARNING);
    }
    this.lastEpoch = epoch;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.reduceLr(epoch);
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this._lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  private reduceLr(epoch: number): void {
    this.optimizer.paramGroups.forEach((g: ParamGroup, i) => {
      const oldLr = g.lr;
      const newLr = Math.max(oldLr * this.factor, this.minLrs[i]);
      if (oldLr - newLr > this.eps) {
        g.lr = newLr;
        if (this.verbose)
          console.log(`Epoch ${epochString(epoch)}: reducing learning rate of group ${i} to ${sci4(newLr)}.`);
      }
    });
  }

  /** The learning rates after the last step, one per group. */
  getLastLr(): number[] {
    return [...this._lastLr];
  }

  private static readonly KEYS: Record<string, [string, Kind]> = {
    factor: ['factor', 'number'],
    min_lrs: ['minLrs', 'numbers'],
    patience: ['patience', 'int'],
    verbose: ['verbose', 'bool'],
    cooldown: ['cooldown', 'int'],
    cooldown_counter: ['cooldownCounter', 'int'],
    mode: ['mode', 'string'],
    threshold: ['threshold', 'number'],
    threshold_mode: ['thresholdMode', 'string'],
    best: ['best', 'number'],
    num_bad_epochs: ['numBadEpochs', 'int'],
    mode_worse: ['modeWorse', 'number'],
    eps: ['eps', 'number'],
    last_epoch: ['lastEpoch', 'number'],
    _last_lr: ['_lastLr', 'numbers'],
  };

  /** The state, with PyTorch's attribute names (`best`, `num_bad_epochs`, `cooldown_counter`, ...). */
  stateDict(): SchedulerStateDict {
    const out: SchedulerStateDict = {};
    const self = this as unknown as Record<string, unknown>;
    for (const [py, [js]] of Object.entries(ReduceLROnPlateau.KEYS)) out[py] = copy(self[js]);
    return out;
  }

  /** Restores a state saved by `stateDict()` (ours or PyTorch's); unknown keys are ignored. */
  loadStateDict(stateDict: SchedulerStateDict): void {
    const fn = 'ReduceLROnPlateau.loadStateDict';
    if (stateDict === null || typeof stateDict !== 'object' || Array.isArray(stateDict))
      typeError(fn, 'stateDict', 'an object', stateDict);
    const keys = ReduceLROnPlateau.KEYS;
    const entries = Object.entries(stateDict).filter(([k]) => k in keys);
    for (const [k, v] of entries) checkKind(fn, k, v, keys[k][1]);
    const mode = stateDict.mode ?? this.mode,
      tm = stateDict.threshold_mode ?? this.thresholdMode;
    if (mode !== 'min' && mode !== 'max') typeError(fn, "state 'mode'", "'min' or 'max'", mode);
    if (tm !== 'rel' && tm !== 'abs') typeError(fn, "state 'threshold_mode'", "'rel' or 'abs'", tm);
    const self = this as unknown as Record<string, unknown>;
    for (const [k, v] of entries) self[keys[k][0]] = copy(v);
    this.initIsBetter(fn, this.mode, this.threshold, this.thresholdMode);
  }
}
