// A float64 LSTM / GRU / RNN written out from PyTorch's documented equations, independent of
// libtorch: the reference that recurrent outputs are checked against on every libtorch version
// (fixtures made by one PyTorch version cannot catch a kernel that another version gets wrong).
import type * as torch from '../../lib';

export type Mode = 'LSTM' | 'GRU' | 'RNN_TANH' | 'RNN_RELU';

export interface RefResult {
  /** (T, N, D·H_out), row-major */
  output: Float64Array;
  /** (D·layers, N, H_out) */
  h: Float64Array;
  /** (D·layers, N, H), LSTM only */
  c?: Float64Array;
}

type Mat = { rows: number; cols: number; v: Float64Array };

function mat(t: torch.Tensor): Mat {
  const [rows, cols] = t.shape;
  return { rows, cols: cols ?? 1, v: Float64Array.from(t.data() as Float32Array) };
}

// out[r] = M[r, :] · x  (+ add[r])
function matvec(m: Mat, x: ArrayLike<number>, xOff: number, out: Float64Array): void {
  for (let r = 0; r < m.rows; r++) {
    let s = 0;
    for (let k = 0; k < m.cols; k++) s += m.v[r * m.cols + k] * x[xOff + k];
    out[r] += s;
  }
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/**
 * The module's output for `input` (T, N, I) (time-major), from its own parameters. `h0`/`c0` as
 * the module takes them, zeros when omitted.
 */
export function referenceRnn(
  m: torch.nn.LSTM | torch.nn.GRU | torch.nn.RNN,
  mode: Mode,
  input: torch.Tensor,
  h0?: torch.Tensor,
  c0?: torch.Tensor,
): RefResult {
  const [T, N, I] = input.shape;
  const H = m.hiddenSize;
  const P = mode === 'LSTM' && (m as torch.nn.LSTM).projSize > 0 ? (m as torch.nn.LSTM).projSize : H;
  const D = m.bidirectional ? 2 : 1;
  const L = m.numLayers;
  const gates = mode === 'LSTM' ? 4 : mode === 'GRU' ? 3 : 1;
  const params = new Map<string, torch.Tensor>(m.namedParameters());
  const x0 = Float64Array.from(input.contiguous().data() as Float32Array);
  const hInit = h0 ? Float64Array.from(h0.contiguous().data() as Float32Array) : new Float64Array(L * D * N * P);
  const cInit = c0 ? Float64Array.from(c0.contiguous().data() as Float32Array) : new Float64Array(L * D * N * H);
  const hOut = new Float64Array(L * D * N * P);
  const cOut = new Float64Array(L * D * N * H);
  let layerIn = x0;
  let inSize = I;
  for (let l = 0; l < L; l++) {
    const layerOut = new Float64Array(T * N * D * P);
    for (let d = 0; d < D; d++) {
      const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
      const wIh = mat(params.get(`weight_ih${sfx}`)!),
        wHh = mat(params.get(`weight_hh${sfx}`)!);
      const bIh = params.get(`bias_ih${sfx}`),
        bHh = params.get(`bias_hh${sfx}`);
      const bi = bIh ? Float64Array.from(bIh.data() as Float32Array) : new Float64Array(gates * H);
      const bh = bHh ? Float64Array.from(bHh.data() as Float32Array) : new Float64Array(gates * H);
      const wHr = params.get(`weight_hr${sfx}`) ? mat(params.get(`weight_hr${sfx}`)!) : null;
      const s0 = (l * D + d) * N;
      let h = hInit.slice(s0 * P, (s0 + N) * P);
      const c = cInit.slice(s0 * H, (s0 + N) * H);
      for (let step = 0; step < T; step++) {
        const t = d === 0 ? step : T - 1 - step;
        const hNew = new Float64Array(N * P);
        for (let n = 0; n < N; n++) {
          const gi = new Float64Array(gates * H),
            gh = new Float64Array(gates * H);
          gi.set(bi);
          gh.set(bh);
          matvec(wIh, layerIn, (t * N + n) * inSize, gi);
          matvec(wHh, h, n * P, gh);
          const hn = new Float64Array(H);
          for (let j = 0; j < H; j++) {
            if (mode === 'LSTM') {
              const ig = sigmoid(gi[j] + gh[j]),
                fg = sigmoid(gi[H + j] + gh[H + j]);
              const gg = Math.tanh(gi[2 * H + j] + gh[2 * H + j]),
                og = sigmoid(gi[3 * H + j] + gh[3 * H + j]);
              c[n * H + j] = fg * c[n * H + j] + ig * gg;
              hn[j] = og * Math.tanh(c[n * H + j]);
            } else if (mode === 'GRU') {
              const r = sigmoid(gi[j] + gh[j]),
                z = sigmoid(gi[H + j] + gh[H + j]);
              const nn = Math.tanh(gi[2 * H + j] + r * gh[2 * H + j]);
              hn[j] = (1 - z) * nn + z * h[n * P + j];
            } else {
              const a = gi[j] + gh[j];
              hn[j] = mode === 'RNN_TANH' ? Math.tanh(a) : Math.max(0, a);
            }
          }
          if (wHr) {
            const p = new Float64Array(P);
            matvec(wHr, hn, 0, p);
            hNew.set(p, n * P);
          } else {
            hNew.set(hn, n * P);
          }
        }
        h = hNew;
        for (let n = 0; n < N; n++) {
          for (let j = 0; j < P; j++) layerOut[(t * N + n) * D * P + d * P + j] = h[n * P + j];
        }
      }
      hOut.set(h, s0 * P);
      cOut.set(c, s0 * H);
    }
    layerIn = layerOut;
    inSize = D * P;
  }
  return mode === 'LSTM' ? { output: layerIn, h: hOut, c: cOut } : { output: layerIn, h: hOut };
}

/** max |a - b| over all elements (NaN if either has one); the shapes must hold as many elements. */
export function maxAbsDiff(t: torch.Tensor, want: Float64Array): number {
  const got = t.contiguous().data() as Float32Array | Float64Array;
  if (got.length !== want.length) throw new Error(`size mismatch: ${got.length} vs ${want.length}`);
  let m = 0;
  for (let i = 0; i < got.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= m)) m = e;
  }
  return m;
}
