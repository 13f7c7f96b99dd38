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
  stepTensor,
  type UpdateArgs,
} from './optimizer';

export interface AdagradOptions {
  /** The learning rate (default 1e-2). */
  lr?: number;
  /** The learning rate decay per step (default 0). */
  lrDecay?: number;
  /** L2 penalty (default 0). */
  weightDecay?: number;
  /** The starting value of the sum of squared gradients (default 0). */
  initialAccumulatorValue?: number;
  /** Added to the denominator for numerical stability (default 1e-10). */
  eps?: number;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** Adagrad (PyTorch's `optim.Adagrad`); its state is created for every parameter up front, as PyTorch's. */
export class Adagrad extends Optimizer {
  constructor(params: ParamsArg, opts: AdagradOptions = {}) {
    checkOptions('Adagrad', opts, ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps', 'maximize']);
    super(params, {
      lr: opts.lr ?? 1e-2,
      lrDecay: opts.lrDecay ?? 0,
      eps: opts.eps ?? 1e-10,
      weightDecay: opts.weightDecay ?? 0,
      initialAccumulatorValue: opts.initialAccumulatorValue ?? 0,
      maximize: opts.maximize ?? false,
    });
    // As PyTorch 1.13: every parameter's sum starts at the constructor's value (a group's own
    // initialAccumulatorValue does not change it).
    const init = this.defaults.initialAccumulatorValue as number;
    for (const g of this.paramGroups)
      for (const p of g.params) this.state.set(p, { step: stepTensor(), sum: stateLike(p, init) });
  }
  /** @internal Options PyTorch stores in every group that have no meaning here (kept for state_dict parity). */
  protected override pythonOnlyOptions() {
    return { foreach: null };
  }
  protected checkGroup(g: ParamGroup): void {
    const fn = 'Adagrad';
    checkNonNegative(fn, 'lr', g.lr, 'learning rate');
    checkNonNegative(fn, 'lrDecay', g.lrDecay, 'lrDecay value');
    checkNonNegative(fn, 'weightDecay', g.weightDecay, 'weightDecay value');
    checkNonNegative(fn, 'initialAccumulatorValue', g.initialAccumulatorValue, 'initialAccumulatorValue');
    checkNonNegative(fn, 'eps', g.eps, 'epsilon value');
    checkBool(fn, 'maximize', g.maximize);
  }
  protected readonly kernel = 'adagrad';
  protected prepareUpdate(p: Parameter, grad: Tensor, st: ParamState, g: ParamGroup): UpdateArgs {
    if (!(st.step instanceof Tensor)) {
      st.step = stepTensor();
      st.sum = stateLike(p, this.defaults.initialAccumulatorValue as number);
    }
    return [
      p._h,
      grad._h,
      (st.sum as Tensor)._h,
      st.step._h,
      g.lr,
      g.lrDecay as number,
      g.weightDecay as number,
      g.eps as number,
      g.maximize as boolean,
    ];
  }
}
