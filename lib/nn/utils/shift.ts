// Teacher forcing: the decoder input of a target sequence (the target shifted right by one step).
import { full } from '../../creation';
import { checkBool, checkInt, checkOptions, describe } from '../../errors';
import { tidy } from '../../memory';
import { cat } from '../../ops';
import { Tensor } from '../../tensor';

/** Options of `shiftRight`. */
export interface ShiftRightOptions {
  /** The token put at the first step (e.g. the vocabulary's bos id). Required. */
  startToken: number;
  /**
   * If given, positions of the result that hold `ignoreIndex` (targets masked out of the loss)
   * become this token, as Hugging Face's `shift_tokens_right` does.
   */
  padToken?: number;
  /** The value that `padToken` replaces (default -100, `CrossEntropyLoss`'s `ignoreIndex`). */
  ignoreIndex?: number;
  /** `tgt` is `(B, T)` (default true) or `(T, B)` (false). */
  batchFirst?: boolean;
}

/**
 * The decoder input for teacher forcing: `tgt` shifted right by one step along time, the last
 * step dropped and `startToken` put first (`[bos, y0, y1, ..., y(T-2)]`), same shape and dtype.
 * `tgt` is `(B, T)` (`batchFirst`, the default), `(T, B)` (`batchFirst: false`) or `(T)`.
 *
 * @example
 * const tgt = torch.tensor([[5, 6, 7, 2]]);                              // (B=1, T=4), 2 = eos
 * nn.utils.shiftRight(tgt, { startToken: 1 });                            // [[1, 5, 6, 7]]
 * const loss = F.crossEntropy(model.forward(src, nn.utils.shiftRight(tgt, { startToken: bos })), tgt);
 * @throws TypeError if tgt is not a Tensor or options are missing / of the wrong type;
 *   RangeError for a tgt that is 0-dim or above 2-D, or not of an integer dtype
 */
export function shiftRight(tgt: Tensor, opts: ShiftRightOptions): Tensor {
  const fn = 'nn.utils.shiftRight';
  if (!(tgt instanceof Tensor)) throw new TypeError(`${fn}: expected tgt to be a Tensor, got ${describe(tgt)}`);
  if (opts === undefined || opts === null || typeof opts !== 'object')
    throw new TypeError(`${fn}: expected an options object with startToken, got ${describe(opts)}`);
  const o = checkOptions<ShiftRightOptions>(fn, opts, ['startToken', 'padToken', 'ignoreIndex', 'batchFirst']);
  if (o.startToken === undefined) throw new TypeError(`${fn}: expected the option startToken, got none`);
  const start = checkInt(fn, 'startToken', o.startToken);
  const pad = o.padToken === undefined ? undefined : checkInt(fn, 'padToken', o.padToken);
  const ignore = o.ignoreIndex === undefined ? -100 : checkInt(fn, 'ignoreIndex', o.ignoreIndex);
  const batchFirst = o.batchFirst === undefined ? true : checkBool(fn, 'batchFirst', o.batchFirst);
  const nd = tgt.dim();
  if (nd < 1 || nd > 2)
    throw new RangeError(`${fn}: expected tgt to be (B, T), (T, B) or (T), got shape [${tgt.shape.join(', ')}]`);
  if (tgt.dtype.startsWith('float') || tgt.dtype === 'bfloat16' || tgt.dtype === 'bool')
    throw new RangeError(`${fn}: expected tgt to hold token ids (an integer dtype), got dtype ${tgt.dtype}`);
  const dim = nd === 1 ? 0 : batchFirst ? 1 : 0;
  const T = tgt.shape[dim];
  return tidy(() => {
    const firstShape = tgt.shape.slice();
    firstShape[dim] = 1;
    const first = full(firstShape, start, { dtype: tgt.dtype, device: tgt.device });
    let out = T === 0 ? tgt.clone() : cat([first, tgt.narrow(dim, 0, T - 1)], dim);
    if (pad !== undefined) out = out.maskedFill(out.eq(ignore), pad);
    return out;
  });
}
