// Gradient clipping (PyTorch's `torch.nn.utils.clip_grad_norm_` / `clip_grad_value_`).
import { checkBool, checkNumber, checkOptions, describe } from '../../errors';
import { native as N } from '../../native';
import { Tensor } from '../../tensor';

function gradsOf(fn: string, parameters: Tensor | Iterable<Tensor>): Tensor[] {
  const list =
    parameters instanceof Tensor
      ? [parameters]
      : parameters !== null &&
          typeof parameters === 'object' &&
          typeof (parameters as Iterable<Tensor>)[Symbol.iterator] === 'function'
        ? [...parameters]
        : null;
  if (!list)
    throw new TypeError(
      `${fn}: expected parameters to be a Tensor or an iterable of Tensors, got ${describe(parameters)}`,
    );
  const grads: Tensor[] = [];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new TypeError(`${fn}: parameters[${i}] is not a Tensor (got ${describe(p)})`);
    const g = p.grad;
    if (g) grads.push(g);
  });
  return grads;
}

/** Options of `clipGradNorm_` (PyTorch's `norm_type`, `error_if_nonfinite`). */
export interface ClipGradNormOptions {
  normType?: number;
  errorIfNonfinite?: boolean;
}

/**
 * Scales the gradients in place so that their total `normType`-norm is at most `maxNorm`;
 * returns the total norm before clipping (a 0-dim tensor), as PyTorch.
 */
export function clipGradNorm_(
  parameters: Tensor | Iterable<Tensor>,
  maxNorm: number,
  options: ClipGradNormOptions = {},
): Tensor {
  const fn = 'nn.utils.clipGradNorm_';
  const opts = checkOptions<ClipGradNormOptions>(fn, options, ['normType', 'errorIfNonfinite']);
  checkNumber(fn, 'maxNorm', maxNorm);
  const normType = opts.normType === undefined ? 2 : checkNumber(fn, 'normType', opts.normType);
  const errorIfNonfinite =
    opts.errorIfNonfinite === undefined ? false : checkBool(fn, 'errorIfNonfinite', opts.errorIfNonfinite);
  const grads = gradsOf(fn, parameters);
  try {
    return new Tensor(
      N.clipGradNorm(
        grads.map((g) => g._h),
        maxNorm,
        normType,
        errorIfNonfinite,
      ),
    );
  } finally {
    for (const g of grads) g.dispose();
  }
}

/** Clamps every gradient to `[-clipValue, clipValue]` in place. */
export function clipGradValue_(parameters: Tensor | Iterable<Tensor>, clipValue: number): void {
  const fn = 'nn.utils.clipGradValue_';
  checkNumber(fn, 'clipValue', clipValue);
  const grads = gradsOf(fn, parameters);
  try {
    N.clipGradValue(
      grads.map((g) => g._h),
      clipValue,
    );
  } finally {
    for (const g of grads) g.dispose();
  }
}
