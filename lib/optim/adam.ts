import { checkBool, checkNumber, checkOptions } from '../errors';
import type { Parameter } from '../nn/parameter';
import { Tensor } from '../tensor';
import {
  checkNonNegative,
  Optimizer,
  type ParamGroup,
  type ParamState,
  type ParamsArg,
  stateLike,
  stepTensor,
  type UpdateArgs,
} from './optimizer';

/**
 * Options of `optim.Adam` and `optim.AdamW` (the defaults of each group): `lr`, `betas`, `eps`, `weightDecay`,
 * `amsgrad`, `maximize`.
 */
export interface AdamOptions {
  /** The learning rate (default 1e-3). */
  lr?: number;
  /** The decay rates of the running averages of the gradient and of its square (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps?: number;
  /** L2 penalty (Adam) or decoupled weight decay (AdamW) (default 0; AdamW 1e-2). */
  weightDecay?: number;
  /** Use the AMSGrad variant: the maximum of the past squared-gradient averages (default false). */
  amsgrad?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

function checkAdam(fn: string, g: ParamGroup): void {
  checkNonNegative(fn, 'lr', g.lr, 'learning rate');
  checkNonNegative(fn, 'eps', g.eps, 'epsilon value');
  const b = g.betas as unknown;
  if (!Array.isArray(b) || b.length !== 2)
    throw new TypeError(`${fn}: expected betas to be [beta1, beta2], got ${String(b)}`);
  b.forEach((x, i) => {
    if (!(checkNumber(fn, `betas[${i}]`, x) >= 0 && x < 1))
      throw new RangeError(`${fn}: invalid beta parameter at index ${i}: ${x}`);
  });
  checkNonNegative(fn, 'weightDecay', g.weightDecay, 'weightDecay value');
  checkBool(fn, 'amsgrad', g.amsgrad);
  checkBool(fn, 'maximize', g.maximize);
}

function adamUpdate(p: Parameter, grad: Tensor, st: ParamState, g: ParamGroup, decoupled: boolean): UpdateArgs {
  if (!(st.step instanceof Tensor)) {
    st.step = stepTensor();
    st.exp_avg = stateLike(p);
    st.exp_avg_sq = stateLike(p);
    if (g.amsgrad) st.max_exp_avg_sq = stateLike(p);
  }
  const [b1, b2] = g.betas as [number, number];
  const max = st.max_exp_avg_sq instanceof Tensor ? st.max_exp_avg_sq._h : null;
  return [
    p._h,
    grad._h,
    (st.exp_avg as Tensor)._h,
    (st.exp_avg_sq as Tensor)._h,
    max,
    st.step._h,
    g.lr,
    b1,
    b2,
    g.eps as number,
    g.weightDecay as number,
    g.amsgrad as boolean,
    g.maximize as boolean,
    decoupled,
  ];
}

/** Adam (PyTorch's `optim.Adam`): L2 weight decay added to the gradient; `amsgrad` optional. */
const ADAM_OPTIONS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'];

export class Adam extends Optimizer {
  constructor(params: ParamsArg, opts: AdamOptions = {}) {
    checkOptions('Adam', opts, ADAM_OPTIONS);
    super(params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ?? [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0,
      amsgrad: opts.amsgrad ?? false,
      maximize: opts.maximize ?? false,
    });
  }
  /** @internal Options PyTorch stores in every group that have no meaning here (kept for state_dict parity). */
  protected override pythonOnlyOptions() {
    return { foreach: null, capturable: false, differentiable: false, fused: false };
  }
  protected checkGroup(g: ParamGroup): void {
    checkAdam('Adam', g);
  }
  protected readonly kernel = 'adam';
  protected prepareUpdate(p: Parameter, grad: Tensor, st: ParamState, g: ParamGroup): UpdateArgs {
    return adamUpdate(p, grad, st, g, false);
  }
}

/** AdamW (PyTorch's `optim.AdamW`): decoupled weight decay (default 1e-2). */
export class AdamW extends Optimizer {
  constructor(params: ParamsArg, opts: AdamOptions = {}) {
    checkOptions('AdamW', opts, ADAM_OPTIONS);
    super(params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ?? [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 1e-2,
      amsgrad: opts.amsgrad ?? false,
      maximize: opts.maximize ?? false,
    });
  }
  /** @internal Options PyTorch stores in every group that have no meaning here (kept for state_dict parity). */
  protected override pythonOnlyOptions() {
    return { foreach: null, capturable: false };
  }
  protected checkGroup(g: ParamGroup): void {
    checkAdam('AdamW', g);
  }
  protected readonly kernel = 'adam';
  protected prepareUpdate(p: Parameter, grad: Tensor, st: ParamState, g: ParamGroup): UpdateArgs {
    return adamUpdate(p, grad, st, g, true);
  }
}
