import { keep } from '../memory';
import { native as N } from '../native';
import { handle, Tensor } from '../tensor';

/**
 * A tensor that is a module parameter: a leaf that requires grad by default (PyTorch's
 * `nn.Parameter`). It shares storage with `data`. Parameters are exempt from `torch.tidy`
 * (a module built inside a tidy scope keeps its weights).
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    const h = N.detach(handle(data, 'nn.Parameter', 'data'));
    super(h);
    if (typeof requiresGrad !== 'boolean')
      throw new TypeError(`nn.Parameter: expected requiresGrad to be a boolean, got ${typeof requiresGrad}`);
    N.setRequiresGrad(h, requiresGrad);
    keep(this);
  }

  /** `Parameter containing:\ntensor(...)`, as PyTorch prints parameters. */
  override toString(): string {
    return `Parameter containing:\n${super.toString()}`;
  }
}
