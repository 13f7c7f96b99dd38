import { checkBool, checkOptions } from '../errors';
import type { Parameter } from '../nn/parameter';
import { Tensor } from '../tensor';
import {
  checkNonNegative,
  Optimizer,
  type ParamGroup,
  type ParamState,
  type ParamsArg,
  stateLike,
  type UpdateArgs,
} from './optimizer';

/**
 * Options of `optim.RMSprop` (the defaults of each group): `lr`, `alpha`, `eps`, `weightDecay`, `momentum`,
 * `centered`, `maximize`.
 */
export interface RMSpropOptions {
  /** The learning rate (default 1e-2). */
  lr?: number;
  /** The smoothing constant of the running average of the squared gradient (default 0.99). */
  alpha?: number;
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps?: number;
  /** L2 penalty (default 0). */
  weightDecay?: number;
  /** The momentum factor (default 0). */
  momentum?: number;
  /** Normalize by an estimate of the variance of the gradient instead of its second moment (default false). */
  centered?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** RMSprop (PyTorch's `optim.RMSprop`), with momentum and the centered variant. */
export class RMSprop extends Optimizer {
  constructor(params: ParamsArg, opts: RMSpropOptions = {}) {
    checkOptions('RMSprop', opts, ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered', 'maximize']);
    super(params, {
      lr: opts.lr ?? 1e-2,
      momentum: opts.momentum ?? 0,
      alpha: opts.alpha ?? 0.99,
      eps: opts.eps ?? 1e-8,
      centered: opts.centered ?? false,
      weightDecay: opts.weightDecay ?? 0,
      maximize: opts.maximize ?? false,
    });
  }
  /** @internal Options PyTorch stores in every group that have no meaning here (kept for state_dict parity). */
  protected override pythonOnlyOptions() {
    return { foreach: null, differentiable: false };
  }
  protected checkGroup(g: ParamGroup): void {
    const fn = 'RMSprop';
    checkNonNegative(fn, 'lr', g.lr, 'learning rate');
    checkNonNegative(fn, 'eps', g.eps, 'epsilon value');
    checkNonNegative(fn, 'momentum', g.momentum, 'momentum value');
    checkNonNegative(fn, 'weightDecay', g.weightDecay, 'weightDecay value');
    checkNonNegative(fn, 'alpha', g.alpha, 'alpha value');
    checkBool(fn, 'centered', g.centered);
    checkBool(fn, 'maximize', g.maximize);
  }
  protected readonly kernel = 'rmsprop';
  protected prepareUpdate(p: Parameter, grad: Tensor, st: ParamState, g: ParamGroup): UpdateArgs {
    if (typeof st.step !== 'number') {
      st.step = 0;
      st.square_avg = stateLike(p);
      if ((g.momentum as number) > 0) st.momentum_buffer = stateLike(p);
      if (g.centered) st.grad_avg = stateLike(p);
    }
    const h = (k: string) => (st[k] instanceof Tensor ? (st[k] as Tensor)._h : null);
    return [
      p._h,
      grad._h,
      (st.square_avg as Tensor)._h,
      h('grad_avg'),
      h('momentum_buffer'),
      g.lr,
      g.alpha as number,
      g.eps as number,
      g.weightDecay as number,
      g.momentum as number,
      g.centered as boolean,
      g.maximize as boolean,
    ];
  }
  /** The step count moves on once the update has run (a refused stepAsync leaves it as it was). */
  protected override finishUpdate(st: ParamState): void {
    st.step = (st.step as number) + 1;
  }
}
