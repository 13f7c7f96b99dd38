import { checkBool, checkNumber } from '../errors';
import { native as N } from '../native';
import { Tensor } from '../tensor';
import { Parameter } from '../nn/parameter';
import { Optimizer, ParamGroup, ParamState, ParamsArg, stateLike, stepTensor } from './optimizer';

export interface AdagradOptions { lr?: number; lrDecay?: number; weightDecay?: number; initialAccumulatorValue?: number; eps?: number; maximize?: boolean }

/** Adagrad (PyTorch's `optim.Adagrad`); its state is created for every parameter up front, as PyTorch's. */
export class Adagrad extends Optimizer {
  constructor(params: ParamsArg, opts: AdagradOptions = {}) {
    super(params, { lr: opts.lr ?? 1e-2, lrDecay: opts.lrDecay ?? 0, eps: opts.eps ?? 1e-10, weightDecay: opts.weightDecay ?? 0,
      initialAccumulatorValue: opts.initialAccumulatorValue ?? 0, maximize: opts.maximize ?? false });
    for (const g of this.paramGroups)
      for (const p of g.params) this.state.set(p, { step: stepTensor(), sum: stateLike(p, g.initialAccumulatorValue as number) });
  }
  protected override pythonOnlyOptions() { return { foreach: null }; }
  protected checkGroup(g: ParamGroup): void {
    const fn = 'Adagrad';
    if (checkNumber(fn, 'lr', g.lr) < 0) throw new RangeError(`${fn}: invalid learning rate: ${g.lr}`);
    if (checkNumber(fn, 'lrDecay', g.lrDecay) < 0) throw new RangeError(`${fn}: invalid lrDecay value: ${g.lrDecay}`);
    if (checkNumber(fn, 'weightDecay', g.weightDecay) < 0) throw new RangeError(`${fn}: invalid weightDecay value: ${g.weightDecay}`);
    if (checkNumber(fn, 'initialAccumulatorValue', g.initialAccumulatorValue) < 0)
      throw new RangeError(`${fn}: invalid initialAccumulatorValue: ${g.initialAccumulatorValue}`);
    if (checkNumber(fn, 'eps', g.eps) < 0) throw new RangeError(`${fn}: invalid epsilon value: ${g.eps}`);
    checkBool(fn, 'maximize', g.maximize);
  }
  protected updateParam(p: Parameter, grad: Tensor, st: ParamState, g: ParamGroup): void {
    if (!(st.step instanceof Tensor)) { st.step = stepTensor(); st.sum = stateLike(p, g.initialAccumulatorValue as number); }
    N.adagradStep(p._h, grad._h, (st.sum as Tensor)._h, st.step._h, g.lr, g.lrDecay as number, g.weightDecay as number,
      g.eps as number, g.maximize as boolean);
  }
}
