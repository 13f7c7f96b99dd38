// Mask helpers named by the convention they produce. PyTorch itself uses two polarities:
//   - MultiheadAttention / Transformer layers: bool true = BLOCKED (may not attend);
//   - scaledDotProductAttention (PyTorch 2): bool true = ALLOWED (takes part).
// Float masks are added to the scores in both (0 = allowed, -inf = blocked).
import { arange, ones, tensor, zeros } from '../creation';
import { checkDevice } from '../device';
import { dtypeCode } from '../dtype';
import { checkInt, checkOptions, describe } from '../errors';
import { tidy } from '../memory';
import { native as N } from '../native';
import { Tensor } from '../tensor';

const BOOL_CODE = dtypeCode('nn.masks', 'bool');

/**
 * A causal mask for MultiheadAttention's `attnMask`: bool `(L, S)`, `true` = blocked, i.e. query
 * i may attend keys `0..i+diagonal-1` — `torch.triu(torch.ones(L, S), diagonal).bool()` with
 * diagonal 1 by default. With L ≠ S it is top-left aligned.
 */
export function causal(L: number, S?: number, opts: { diagonal?: number; device?: string } = {}): Tensor {
  const fn = 'nn.masks.causal';
  checkInt(fn, 'L', L, 0);
  const s = S === undefined ? L : checkInt(fn, 'S', S, 0);
  const o = checkOptions<{ diagonal?: number; device?: string }>(fn, opts, ['diagonal', 'device']);
  const d = o.diagonal === undefined ? 1 : checkInt(fn, 'diagonal', o.diagonal);
  const device = o.device === undefined ? undefined : checkDevice(fn, o.device);
  if (device === undefined || device === 'cpu') {
    // one native call (a decoder builds this mask at every forward): the bytes, then a bool tensor
    const bytes = new Uint8Array(L * s);
    for (let i = 0; i < L; i++) bytes.fill(1, i * s + Math.min(s, Math.max(0, i + d)), (i + 1) * s);
    return new Tensor(N.fromBuffer(bytes, [L, s], BOOL_CODE));
  }
  return tidy(() => ones([L, s], { dtype: 'bool', device }).triu(d));
}

/**
 * A key-padding mask for MultiheadAttention's `keyPaddingMask`: bool `(N, S)`, `true` = padded
 * (`arange(S) >= lengths[:, None]`).
 */
export function keyPadding(lengths: number[] | Tensor, maxLen?: number, opts: { device?: string } = {}): Tensor {
  const fn = 'nn.masks.keyPadding';
  const o = checkOptions<{ device?: string }>(fn, opts, ['device']);
  const device = o.device === undefined ? undefined : checkDevice(fn, o.device);
  return tidy(() => {
    let lens: Tensor;
    if (lengths instanceof Tensor) {
      if (lengths.dim() !== 1)
        throw new RangeError(`${fn}: expected lengths to be 1-D, got shape [${lengths.shape.join(', ')}]`);
      lens = lengths.to('int64');
    } else if (Array.isArray(lengths)) {
      lengths.forEach((l, i) => checkInt(fn, `lengths[${i}]`, l, 0));
      lens = tensor(lengths, { dtype: 'int64' });
    } else {
      throw new TypeError(
        `${fn}: expected lengths to be an array of integers or a 1-D Tensor, got ${describe(lengths)}`,
      );
    }
    const longest = lens.numel() ? (lens.max().item() as number) : 0;
    const S = maxLen === undefined ? longest : checkInt(fn, 'maxLen', maxLen, 0);
    if (longest > S) throw new RangeError(`${fn}: a length (${longest}) exceeds maxLen (${S})`);
    // On `device` when given, else where the lengths tensor is (CPU for an array).
    const dev = device ?? lens.device;
    return arange(S, { device: dev }).unsqueeze(0).ge(lens.to(dev).unsqueeze(1));
  });
}
/** Alias of `keyPadding`. */
export const padding = keyPadding;

/** bool (true = blocked) → float additive mask: 0 where allowed, -inf where blocked. */
export function toAdditive(
  mask: Tensor,
  opts: { dtype?: 'float32' | 'float64' | 'float16' | 'bfloat16' } = {},
): Tensor {
  const fn = 'nn.masks.toAdditive';
  if (!(mask instanceof Tensor)) throw new TypeError(`${fn}: expected mask to be a Tensor, got ${describe(mask)}`);
  const o = checkOptions<{ dtype?: 'float32' | 'float64' | 'float16' | 'bfloat16' }>(fn, opts, ['dtype']);
  if (o.dtype !== undefined && !['float32', 'float64', 'float16', 'bfloat16'].includes(o.dtype))
    throw new TypeError(`${fn}: expected dtype to be a floating point dtype, got ${describe(o.dtype)}`);
  if (mask.dtype !== 'bool')
    throw new TypeError(`${fn}: expected a bool mask (true = blocked), got dtype ${mask.dtype}`);
  return tidy(() =>
    zeros(mask.shape as number[], { dtype: o.dtype ?? 'float32', device: mask.device }).maskedFill(mask, -Infinity),
  );
}

/**
 * A MultiheadAttention mask (true = blocked) → a scaledDotProductAttention mask (true = allowed).
 * Floats pass through.
 */
export function mhaToSdpa(mask: Tensor): Tensor {
  if (!(mask instanceof Tensor))
    throw new TypeError(`nn.masks.mhaToSdpa: expected mask to be a Tensor, got ${describe(mask)}`);
  return mask.dtype === 'bool' ? mask.logicalNot() : mask.clone();
}
/**
 * A scaledDotProductAttention mask (true = allowed) → a MultiheadAttention mask (true = blocked).
 * Floats pass through.
 */
export function sdpaToMha(mask: Tensor): Tensor {
  if (!(mask instanceof Tensor))
    throw new TypeError(`nn.masks.sdpaToMha: expected mask to be a Tensor, got ${describe(mask)}`);
  return mask.dtype === 'bool' ? mask.logicalNot() : mask.clone();
}
/** An alias of `mhaToSdpa`. */
export const toSdpa = mhaToSdpa;
/** An alias of `sdpaToMha`. */
export const fromSdpa = sdpaToMha;

/**
 * Which query rows have every key blocked (they come out NaN from MultiheadAttention, and poison
 * gradients), for MHA-convention masks: `attnMask` `(L, S)` or `(N*H, L, S)` and/or
 * `keyPaddingMask` `(N, S)`. Returns bool `(N, L)` (or `(L)` for a 2-D attnMask alone; with a
 * 3-D attnMask, `(N*H, L)` unless a keyPaddingMask gives N). Float masks count -inf as blocked.
 */
export function findFullyMasked(attnMask?: Tensor | null, keyPaddingMask?: Tensor | null): Tensor {
  const fn = 'nn.masks.findFullyMasked';
  if (!attnMask && !keyPaddingMask) throw new TypeError(`${fn}: pass attnMask and/or keyPaddingMask`);
  for (const [name, m] of [
    ['attnMask', attnMask],
    ['keyPaddingMask', keyPaddingMask],
  ] as const)
    if (m !== undefined && m !== null && !(m instanceof Tensor))
      throw new TypeError(`${fn}: expected ${name} to be a Tensor or null, got ${describe(m)}`);
  return tidy(() => {
    const blocked = (m: Tensor) => (m.dtype === 'bool' ? m : m.dtype === 'uint8' ? m.ne(0) : m.eq(-Infinity));
    let am = attnMask ? blocked(attnMask) : null; // (L,S) or (B,L,S)
    const kp = keyPaddingMask ? blocked(keyPaddingMask) : null; // (N,S)
    if (am && kp) {
      const N = kp.shape[0];
      if (am.dim() === 3) {
        const H = am.shape[0] / N;
        if (!Number.isInteger(H))
          throw new RangeError(`${fn}: attnMask batch ${am.shape[0]} is not a multiple of N = ${N}`);
        // any head fully masked counts: (N, H, L, S) | (N, 1, 1, S), all over S, any over H
        am = am.view(N, H, am.shape[1], am.shape[2]).logicalOr(kp.view(N, 1, 1, kp.shape[1]));
        return am.all(-1).any(1);
      }
      return am.unsqueeze(0).logicalOr(kp.unsqueeze(1)).all(-1);
    }
    if (am) return am.all(-1);
    return kp!.all(-1, true).expand(kp!.shape[0], 1).squeeze(1);
  });
}
