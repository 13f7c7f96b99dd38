import { checkBool, checkNumber, checkOptions } from '../errors';
import { keep } from '../memory';
import type { Handle } from '../native';
import type { Parameter } from '../nn/parameter';
import { Tensor } from '../tensor';
import {
  checkNonNegative,
  Optimizer,
  type ParamGroup,
  type ParamState,
  type ParamsArg,
  type UpdateArgs,
} from './optimizer';

/**
 * Options of `optim.SGD` (the defaults of each group): `lr`, `momentum`, `dampening`, `weightDecay`, `nesterov`,
 * `maximize`.
 */
export interface SGDOptions {
  /** The learning rate (required: PyTorch has no default for SGD). */
  lr?: number;
  /** The momentum factor (default 0). */
  momentum?: number;
  /** The dampening of the momentum (default 0). */
  dampening?: number;
  /** L2 penalty (default 0). */
  weightDecay?: number;
  /** Use Nesterov momentum (default false). */
  nesterov?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (PyTorch's `optim.SGD`). */
export class SGD extends Optimizer {
  constructor(params: ParamsArg, opts: SGDOptions = {}) {
    checkOptions('SGD', opts, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize']);
    if (opts.lr === undefined)
      throw new TypeError('SGD: lr is required (PyTorch has no default learning rate for SGD)');
    super(params, {
      lr: opts.lr,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      weightDecay: opts.weightDecay ?? 0,
      nesterov: opts.nesterov ?? false,
      maximize: opts.maximize ?? false,
    });
  }
  /** @internal Options PyTorch stores in every group that have no meaning here (kept for state_dict parity). */
  protected override pythonOnlyOptions() {
    return { foreach: null, differentiable: false };
  }
  protected checkGroup(g: ParamGroup): void {
    const fn = 'SGD';
    // (PyTorch's SGD lets NaN through its `lr < 0` check; so do we)
    if (checkNumber(fn, 'lr', g.lr) < 0) throw new RangeError(`${fn}: invalid learning rate: ${g.lr}`);
    checkNonNegative(fn, 'momentum', g.momentum, 'momentum value');
    checkNonNegative(fn, 'weightDecay', g.weightDecay, 'weightDecay value');
    checkNumber(fn, 'dampening', g.dampening);
    checkBool(fn, 'maximize', g.maximize);
    if (checkBool(fn, 'nesterov', g.nesterov) && ((g.momentum as number) <= 0 || g.dampening !== 0))
      throw new RangeError(`${fn}: Nesterov momentum requires a momentum and zero dampening`);
  }
  protected readonly kernel = 'sgd';
  protected prepareUpdate(p: Parameter, grad: Tensor, st: ParamState, g: ParamGroup): UpdateArgs {
    const buf = st.momentum_buffer instanceof Tensor ? st.momentum_buffer : null;
    return [
      p._h,
      grad._h,
      buf ? buf._h : null,
      g.lr,
      g.momentum as number,
      g.dampening as number,
      g.weightDecay as number,
      g.nesterov as boolean,
      g.maximize as boolean,
    ];
  }
  protected override finishUpdate(st: ParamState, created: Handle | null): void {
    if (created !== null) st.momentum_buffer = keep(new Tensor(created));
    else if (!('momentum_buffer' in st)) st.momentum_buffer = null;
  }
}
