// torch.optim.Optimizer: parameter groups, per-parameter state, PyTorch's state_dict structure.
// Each concrete optimizer's update runs natively, one fused call per parameter (native/optim.cc),
// replaying PyTorch's single-tensor implementation op for op. `stepAsync` runs the same native
// updates, all of them in one call on the libuv thread pool.
import { noGrad } from '../autograd';
import { full } from '../creation';
import { checkBool, checkNumber, checkOptions, describe, unknownOptionError } from '../errors';
import { keep } from '../memory';
import { type Handle, native as N, type Native, type OptimKernel } from '../native';
import type { Parameter } from '../nn/parameter';
import { Tensor } from '../tensor';

/** A parameter group: its parameters and its options (camelCase of PyTorch's keys). */
export interface ParamGroup {
  /** The parameters this group updates. */
  params: Parameter[];
  /** The group's learning rate (what schedulers change). */
  lr: number;
  /** Set by learning-rate schedulers (PyTorch's `initial_lr`). */
  initialLr?: number;
  [option: string]: unknown;
}

/** What the constructor takes: parameters, or groups `{params, ...options}` overriding the defaults. */
export type ParamsArg =
  | Iterable<Parameter>
  | Array<{
      /** The parameters of this group. */
      params: Iterable<Parameter>;
      [option: string]: unknown;
    }>;

/** A per-parameter state value: tensors (moments, buffers), numbers (step counts) or null. */
export type StateValue = Tensor | number | null;
/** One parameter's optimizer state (`step`, `exp_avg`, `momentum_buffer`, ...), by PyTorch's key. */
export type ParamState = Record<string, StateValue>;

/** PyTorch's optimizer state_dict: `state` keyed by parameter index, `param_groups` with PyTorch's keys. */
export interface OptimizerStateDict {
  /** Per-parameter state, keyed by the parameter's index over all groups, in order. */
  state: Map<number, Record<string, StateValue>>;
  /** Each group's settings with PyTorch's snake_case keys, its parameters as indices. */
  param_groups: Array<
    Record<string, unknown> & {
      /** The group's parameters, as indices into `state`. */
      params: number[];
    }
  >;
}

/** The arguments of one parameter's native update (`adamStep`, ... in native/optim.cc). */
export type UpdateArgs = Parameters<Native[`${OptimKernel}Step`]>;

/** camelCase option ↔ PyTorch's snake_case key (`weightDecay` ↔ `weight_decay`, `maxLr` ↔ `max_lr`). */
const toPyKey = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const toJsKey = (k: string): string => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** Arrays in options (betas) are copied, never shared between groups, defaults and optimizers. */
const copyValue = (v: unknown): unknown => (Array.isArray(v) ? v.map(copyValue) : v);

/** A non-negative number (NaN refused, as PyTorch's `0.0 <= x`). */
export function checkNonNegative(fn: string, what: string, v: unknown, label = what): number {
  checkNumber(fn, what, v);
  if (!((v as number) >= 0)) throw new RangeError(`${fn}: invalid ${label}: ${String(v)}`);
  return v as number;
}

/**
 * Base class of all optimizers (PyTorch's `torch.optim.Optimizer`).
 *
 * @example
 * const opt = new optim.Adam([
 *   { params: model.encoder.parameters(), lr: 1e-4 },   // pretrained: small lr
 *   { params: model.head.parameters() },                // new head: the default lr
 * ], { lr: 1e-3 });
 */
export abstract class Optimizer {
  /** The optimizer's options: the settings a group gets when it does not set its own. */
  readonly defaults: Record<string, unknown>;
  /** The parameter groups, each with its parameters and settings (`lr`, ...). */
  paramGroups: ParamGroup[] = [];
  /** Per-parameter state (moments, step counts), as PyTorch's `optimizer.state`. */
  state = new Map<Parameter, ParamState>();
  /** The `stepAsync` in flight, if any (step, zeroGrad and the state functions refuse to run meanwhile). */
  private pendingStep: Promise<void> | null = null;
  /** Which native update this optimizer runs (`<kernel>Step` in native/optim.cc). */
  protected abstract readonly kernel: OptimKernel;
  /** @internal Options PyTorch stores in every group that have no meaning here (kept for state_dict parity). */
  protected pythonOnlyOptions(): Record<string, unknown> {
    return {};
  }

  protected constructor(params: ParamsArg, defaults: Record<string, unknown>) {
    this.defaults = defaults;
    const fn = `${this.constructor.name}`;
    if (
      params === null ||
      typeof params !== 'object' ||
      typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function'
    )
      throw new TypeError(
        `${fn}: expected params to be an iterable of Parameters or of parameter groups, got ${describe(params)}`,
      );
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) throw new RangeError(`${fn}: optimizer got an empty parameter list`);
    const groups = list[0] instanceof Tensor ? [{ params: list as Parameter[] }] : list;
    for (const g of groups) this.addParamGroup(g as { params: Iterable<Parameter> });
  }

  /** Adds a group (e.g. a new head while fine-tuning); unspecified options take the defaults. */
  addParamGroup(group: { params: Iterable<Parameter>; [option: string]: unknown }): void {
    const fn = `${this.constructor.name}.addParamGroup`;
    if (group === null || typeof group !== 'object' || !('params' in group))
      throw new TypeError(`${fn}: expected a parameter group {params, ...options}, got ${describe(group)}`);
    const ps = group.params instanceof Tensor ? [group.params] : [...group.params];
    ps.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new TypeError(`${fn}: params[${i}] is not a Tensor (got ${describe(p)})`);
      if (!p.isLeaf) throw new TypeError(`${fn}: can't optimize a non-leaf Tensor (params[${i}])`);
    });
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    if (ps.some((p) => seen.has(p as Parameter)))
      throw new Error(`${fn}: some parameters appear in more than one parameter group`);
    if (new Set(ps).size !== ps.length) process.emitWarning(`${fn}: a parameter group contains duplicate parameters`);
    const out = { params: ps as Parameter[] } as ParamGroup;
    for (const [k, v] of Object.entries({ ...this.defaults, ...group })) if (k !== 'params') out[k] = copyValue(v);
    for (const [k, v] of Object.entries(out)) {
      if (k !== 'params' && !(k in this.defaults) && k !== 'initialLr')
        throw unknownOptionError(fn, k, Object.keys(this.defaults));
      if (v === undefined) throw new TypeError(`${fn}: option '${k}' is undefined`);
    }
    checkNumber(fn, 'lr', out.lr);
    this.checkGroup(out);
    this.paramGroups.push(out);
    for (const p of out.params) keep(p);
  }

  /** Validates a group's options (RangeError naming the option, as PyTorch's ValueErrors). */
  protected abstract checkGroup(group: ParamGroup): void;

  /** Performs one update of every parameter that has a gradient. */
  step(closure?: () => Tensor | number): Tensor | number | undefined {
    const fn = `${this.constructor.name}.step`;
    this.checkIdle(fn);
    let loss: Tensor | number | undefined;
    if (closure !== undefined) {
      if (typeof closure !== 'function') throw new TypeError(`${fn}: expected closure to be a function`);
      loss = closure();
    }
    const update = N[`${this.kernel}Step`] as (...args: UpdateArgs) => Handle | null | undefined;
    // All or nothing: the parameters to update (those with a gradient) are checked first, since
    // one held by an async call would be refused halfway through the loop, after the ones before
    // it were updated (and a retry would update those twice). Frozen ones may be in use.
    const todo: [Parameter, Tensor, ParamGroup][] = [];
    try {
      let k = 0;
      for (const group of this.paramGroups)
        for (const p of group.params) {
          const grad = p.grad;
          if (grad !== null) {
            todo.push([p, grad, group]);
            if (N.inUse(p._h) !== 0)
              throw new Error(
                `${fn}: parameter ${k} (shape [${p.shape.join(', ')}]) is in use by an async operation ` +
                  '(await it before stepping); no parameter was updated',
              );
          }
          k++;
        }
      noGrad(() => {
        for (const [p, grad, group] of todo) {
          const st = this.stateOf(p);
          const created = update(...this.prepareUpdate(p, grad, st, group));
          this.finishUpdate(st, created ?? null);
        }
      });
    } finally {
      for (const [, grad] of todo) grad.dispose(); // each gradient handle, updated or not
    }
    return loss;
  }

  /**
   * `step()` on the libuv thread pool: one native call updates every parameter that has a
   * gradient, with the same kernels as `step` (the results are equal bit for bit). The lazily
   * created state (moments, step counters) is made on the JS thread first, as `step` makes it.
   *
   * Until the Promise settles, the parameters and state tensors being written are off limits:
   * any use of them (a forward reading a parameter, `stateDict()`, `p.grad`, `zeroGrad()`) throws
   * "in use by an async operation", and a second `step()`/`stepAsync()`/`zeroGrad()` of this
   * optimizer throws too. The gradients are only read (a `backward` meanwhile accumulates into
   * new gradient tensors instead of the ones being read). Closures are not supported: compute
   * the loss (e.g. `await loss.backwardAsync()`) before calling stepAsync.
   *
   * @example
   * await loss.backwardAsync();
   * await opt.stepAsync();
   * opt.zeroGrad();
   * @throws (rejects) TypeError for a closure; Error while another step of this optimizer is in
   *   flight or when a parameter or state tensor is in use by another async call.
   */
  async stepAsync(closure?: never): Promise<void> {
    const fn = `${this.constructor.name}.stepAsync`;
    if (closure !== undefined)
      throw new TypeError(
        `${fn}: closures are not supported (evaluate the loss and its gradients first, then await stepAsync())`,
      );
    this.checkIdle(fn);
    const grads: Tensor[] = [];
    const states: ParamState[] = [];
    const updates: UpdateArgs[] = [];
    let created: Promise<(Handle | null)[]>;
    try {
      noGrad(() => {
        for (const group of this.paramGroups) {
          for (const p of group.params) {
            const grad = p.grad;
            if (grad === null) continue;
            grads.push(grad);
            const st = this.stateOf(p);
            updates.push(this.prepareUpdate(p, grad, st, group));
            states.push(st);
          }
        }
      });
      // Checks every argument synchronously (a tensor in use throws here) before queueing.
      created = N.optimStepAsync(fn, this.kernel, updates as Parameters<Native['sgdStep']>[]);
    } catch (e) {
      for (const g of grads) g.dispose();
      throw e;
    }
    const run = (async () => {
      try {
        const handles = await created;
        states.forEach((st, i) => this.finishUpdate(st, handles[i]));
      } finally {
        for (const g of grads) g.dispose();
        this.pendingStep = null;
      }
    })();
    this.pendingStep = run;
    return run;
  }

  /** A parameter's state, created empty on first use. */
  private stateOf(p: Parameter): ParamState {
    let st = this.state.get(p);
    if (!st) {
      st = {};
      this.state.set(p, st);
    }
    return st;
  }

  /** Refuses to touch parameters or state while a stepAsync of this optimizer is in flight. */
  protected checkIdle(fn: string): void {
    if (this.pendingStep !== null)
      throw new Error(`${fn}: a stepAsync() of this optimizer is still in flight (await it first)`);
  }

  /**
   * One parameter's update: initialises its state lazily (as PyTorch's step does) and returns
   * the arguments of the native update `<kernel>Step`. It must not change anything that the
   * update has not yet done: that goes in `finishUpdate`.
   */
  protected abstract prepareUpdate(p: Parameter, grad: Tensor, state: ParamState, group: ParamGroup): UpdateArgs;

  /** After a parameter's native update ran: records what it returned (SGD's new momentum buffer). */
  protected finishUpdate(_state: ParamState, _created: Handle | null): void {
    /* nothing by default */
  }

  /**
   * Resets the gradients of all optimized parameters: to null (default, as PyTorch 2) or zero.
   * Refused (throws) while a `stepAsync()` of this optimizer is in flight: await it first.
   */
  zeroGrad(opts: { setToNone?: boolean } = {}): void {
    const fn = `${this.constructor.name}.zeroGrad`;
    this.checkIdle(fn);
    const o = checkOptions<{ setToNone?: boolean }>(fn, opts, ['setToNone']);
    const setToNone = o.setToNone === undefined ? true : checkBool(fn, 'setToNone', o.setToNone);
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (setToNone) {
          p.grad = null;
          continue;
        }
        const grad = p.grad;
        if (grad) {
          grad.zero_();
          grad.dispose();
        }
      }
    }
  }

  /** PyTorch's structure: `{state: Map(index → state), param_groups: [{...options, params: [indices]}]}`. */
  stateDict(): OptimizerStateDict {
    this.checkIdle(`${this.constructor.name}.stateDict`);
    const index = new Map<Parameter, number>();
    let next = 0;
    const groups = this.paramGroups.map((g) => {
      const packed: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(g)) if (k !== 'params') packed[toPyKey(k)] = copyValue(v);
      Object.assign(packed, { ...this.pythonOnlyOptions(), ...packed });
      const ids: number[] = [];
      for (const p of g.params) {
        if (!index.has(p)) index.set(p, next++);
        ids.push(index.get(p)!);
      }
      return { ...packed, params: ids };
    });
    const state = new Map<number, Record<string, StateValue>>();
    for (const [p, st] of this.state) {
      const i = index.get(p);
      if (i === undefined) continue;
      const copy: Record<string, StateValue> = {};
      for (const [k, v] of Object.entries(st)) copy[k] = v instanceof Tensor ? v.detach() : v;
      state.set(i, copy);
    }
    return { state, param_groups: groups };
  }

  /**
   * Restores state saved by `stateDict()` (ours or PyTorch's, e.g. from `torch.load`), so a
   * resumed run continues exactly. Group structure must match.
   */
  loadStateDict(
    sd:
      | OptimizerStateDict
      | {
          state: Record<string, Record<string, StateValue>> | Map<number, Record<string, StateValue>>;
          param_groups: Array<Record<string, unknown>>;
        },
  ): void {
    const fn = `${this.constructor.name}.loadStateDict`;
    this.checkIdle(fn);
    if (
      sd === null ||
      typeof sd !== 'object' ||
      !Array.isArray(sd.param_groups) ||
      sd.state === null ||
      typeof sd.state !== 'object'
    )
      throw new TypeError(`${fn}: expected {state, param_groups}, got ${describe(sd)}`);
    if (sd.param_groups.length !== this.paramGroups.length)
      throw new RangeError(
        `${fn}: loaded state dict has ${sd.param_groups.length} parameter groups, ` +
          `the optimizer has ${this.paramGroups.length}`,
      );
    const order: Parameter[] = [];
    const idToParam = new Map<number, Parameter>();
    sd.param_groups.forEach((g, gi) => {
      const ids = g.params as unknown;
      if (!Array.isArray(ids) || ids.length !== this.paramGroups[gi].params.length)
        throw new RangeError(
          `${fn}: loaded state dict contains a parameter group that doesn't match the size of optimizer's group ${gi}`,
        );
      ids.forEach((id, k) => {
        const p = this.paramGroups[gi].params[k];
        idToParam.set(Number(id), p);
        order.push(p);
      });
    });
    const entries: [number, Record<string, StateValue>][] =
      sd.state instanceof Map
        ? [...sd.state.entries()].map(([k, v]) => [Number(k), v])
        : Object.entries(sd.state).map(([k, v]) => [Number(k), v]);
    // Validate everything before changing anything.
    const newState = new Map<Parameter, ParamState>();
    for (const [id, st] of entries) {
      const p = idToParam.get(id);
      if (!p) throw new RangeError(`${fn}: state refers to parameter index ${id}, which no group has`);
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(st)) {
        if (v instanceof Tensor) {
          // moments take the parameter's dtype and device; 'step' stays as it is (PyTorch's rule)
          const t = k === 'step' ? v.clone() : v.to({ dtype: p.dtype, device: p.device, copy: true });
          copy[k] = keep(t);
        } else if (typeof v === 'number' || v === null) copy[k] = v;
        else throw new TypeError(`${fn}: state value ${id}.${k} is not a Tensor, number or null (got ${describe(v)})`);
      }
      newState.set(p, copy);
    }
    for (const st of this.state.values()) for (const v of Object.values(st)) if (v instanceof Tensor) v.dispose();
    this.state = newState;
    // Every saved group key is restored (as PyTorch's load_state_dict), e.g. a scheduler's maxLr;
    // Python-only keys (foreach, capturable, ...) stay out of the JS groups.
    const pythonOnly = new Set(
      Object.keys(this.pythonOnlyOptions()).concat(['foreach', 'capturable', 'differentiable', 'fused']),
    );
    sd.param_groups.forEach((g, gi) => {
      for (const [k, v] of Object.entries(g)) {
        if (k === 'params' || pythonOnly.has(k)) continue;
        this.paramGroups[gi][toJsKey(k)] = copyValue(v);
      }
    });
  }

  /** PyTorch's repr of the optimizer: its class and each parameter group's settings. */
  toString(): string {
    const lines = [`${this.constructor.name} (`];
    this.paramGroups.forEach((g, i) => {
      lines.push(`Parameter Group ${i}`);
      for (const k of Object.keys(g)
        .filter((k) => k !== 'params')
        .sort())
        lines.push(`    ${toPyKey(k)}: ${String(g[k])}`);
    });
    lines.push(')');
    return lines.join('\n');
  }
}

/** A new tensor like `p` filled with `fill`, kept out of tidy scopes (state lives across steps). */
export function stateLike(p: Tensor, fill = 0): Tensor {
  return keep(full(p.shape as number[], fill, { dtype: p.dtype, device: p.device }));
}

/** PyTorch's `torch.tensor(0.)` step counter. */
export function stepTensor(): Tensor {
  return keep(full([], 0, { dtype: 'float32' }));
}
