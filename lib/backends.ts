// torch.backends: which CPU kernels libtorch has here, and which LSTM kernel torch-napi lets run.

import { describe } from './errors';
import { type CpuAllocatorCache, type FastPathStats, native } from './native';

/** A recurrent kernel: libtorch's `at::lstm`, or the composed LSTM (libtorch's native ops, never oneDNN). */
export type LstmKernel = 'libtorch' | 'composed';

/** What `torch.backends.rnn.selfCheck()` measured. */
export interface RnnSelfCheck {
  /** Both kernels agree with the float64 reference within `tolerance`. */
  ok: boolean;
  /** Largest |difference| between libtorch's own `at::lstm` and a float64 LSTM, over all cases. */
  libtorchMaxAbsDiff: number;
  /** The same for the composed LSTM. */
  composedMaxAbsDiff: number;
  /** The largest |difference| from the float64 reference that counts as right. */
  tolerance: number;
  /** libtorch's `at::lstm` ran oneDNN's RNN primitive (`aten::mkldnn_rnn_layer`) in the check. */
  oneDnnRan: boolean;
  /** libtorch would send a CPU float32 LSTM to oneDNN (libtorch >= 2.0 built with oneDNN). */
  oneDnnPossible: boolean;
  /** LSTM shapes checked (including the seed model's and one that oneDNN's AVX-512 kernel got wrong). */
  cases: number;
  /** The version of the libtorch that ran the check. */
  libtorchVersion: string;
  /** The CPU kernels libtorch picked (`'AVX2'`, `'AVX512'`, ...). */
  cpuCapability: string;
}

export const RNN_TOLERANCE = 1e-5;
const UPSTREAM = 'https://github.com/pytorch/pytorch/issues/173922';

let cachedCheck: RnnSelfCheck | null = null;

/** What `torch.backends.conv.selfCheck()` measured. */
export interface ConvSelfCheck {
  /** oneDNN's convolution gradients agree with libtorch's native kernels (or oneDNN is not in use). */
  ok: boolean;
  /** oneDNN could run (libtorch built with it and enabled) when the check ran. */
  oneDnnPossible: boolean;
  /** max |oneDNN - native| over the input and weight gradients of the check's convolutions */
  maxAbsDiff: number;
  libtorchVersion: string;
  cpuCapability: string;
}
let convCheck: ConvSelfCheck | undefined;
let convSettled = false;
let convChecking = false; // the check's own convolutions must not start it again

function runConvCheck(): ConvSelfCheck {
  // required here, not at the top: backends.ts loads before the tensor modules
  const torch = require('./index') as typeof import('./index');
  const base = {
    libtorchVersion: native.libtorchVersion(),
    cpuCapability: capability(),
  };
  if (!native.config().mkldnn || !native.mkldnnEnabled())
    return { ok: true, oneDnnPossible: false, maxAbsDiff: 0, ...base };
  convChecking = true;
  try {
    return measureConv(torch, base);
  } finally {
    convChecking = false;
  }
}

function measureConv(
  torch: typeof import('./index'),
  base: { libtorchVersion: string; cpuCapability: string },
): ConvSelfCheck {
  const grads = (): number[] =>
    torch.tidy(() =>
      torch.enableGrad(() => {
        const out: number[] = [];
        // the two shapes the fixtures caught: 2-d strided+dilated, 1-d dilated
        const cases: [number[], number[], Record<string, unknown>][] = [
          [[2, 3, 6, 7], [4, 3, 3, 2], { stride: [2, 1], padding: [1, 0], dilation: [1, 2] }],
          [[2, 3, 16], [4, 3, 4], { padding: 3, dilation: 2 }],
        ];
        for (const [xs, ws, o] of cases) {
          const x = torch
            .arange(xs.reduce((a, b) => a * b, 1))
            .reshape(xs)
            .mul(0.37)
            .sin()
            .requiresGrad_(true);
          const w = torch
            .arange(ws.reduce((a, b) => a * b, 1))
            .reshape(ws)
            .mul(0.11)
            .cos()
            .requiresGrad_(true);
          const conv = (xs.length === 4 ? torch.nn.functional.conv2d : torch.nn.functional.conv1d) as (
            ...a: unknown[]
          ) => import('./tensor').Tensor;
          const y = conv(x, w, null, o.stride ?? 1, o.padding, o.dilation);
          y.mul(y.detach().cos()).sum().backward();
          out.push(
            ...(x.grad!.toArray() as unknown as number[]).flat(4),
            ...(w.grad!.toArray() as unknown as number[]).flat(4),
          );
        }
        return out as never;
      }),
    ) as unknown as number[];
  const withOneDnn = grads();
  native.setMkldnnEnabled(false);
  let without: number[];
  try {
    without = grads();
  } finally {
    native.setMkldnnEnabled(true);
  }
  let maxAbsDiff = 0;
  for (let i = 0; i < withOneDnn.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(withOneDnn[i] - without[i]));
  return { ok: maxAbsDiff <= 1e-4, oneDnnPossible: true, maxAbsDiff, ...base };
}

/**
 * Called before the first convolution (lib/aten.ts): on libtorch 2.x with oneDNN, runs the conv
 * self-check once; when oneDNN's convolution gradients are wrong here, warns once and turns
 * oneDNN off (as a PyTorch user would with `torch.backends.mkldnn.enabled = False`), so that the
 * numbers are libtorch's native kernels' (the same as on 1.13).
 */
export function beforeConv(): void {
  if (convSettled || convChecking) return;
  convSettled = true;
  if (Number(native.libtorchVersion().split('.')[0]) < 2) return;
  const c = backends.conv.selfCheck();
  if (c.ok) return;
  native.setMkldnnEnabled(false);
  process.emitWarning(
    `libtorch ${c.libtorchVersion}'s oneDNN convolution gives wrong gradients on this CPU (capability ` +
      `${c.cpuCapability}): max |diff| ${c.maxAbsDiff.toExponential(2)} against its native kernels. ` +
      'torch-napi turned oneDNN off (torch.backends.mkldnn.setEnabled(false)); a Python user of this libtorch ' +
      'should set torch.backends.mkldnn.enabled = False.',
    { type: 'UserWarning', code: 'TORCH_NAPI_ONEDNN_CONV' },
  );
}
let settled = false; // the first LSTM has run the check and applied 'auto'
let auto = true; // no kernel was chosen by setLstmKernel or TORCH_NAPI_LSTM_KERNEL
let warned = false; // the first LSTM has warned (or had nothing to warn about)

function capability(): string {
  return /CPU capability usage:\s*(\S+)/.exec(native.config().showConfig)?.[1] ?? 'unknown';
}

function kernelName(code: number): LstmKernel {
  return code === 1 ? 'composed' : 'libtorch';
}

function warnBroken(c: RnnSelfCheck): void {
  process.emitWarning(
    `libtorch ${c.libtorchVersion}'s own LSTM kernel gives wrong results on this CPU (capability ` +
      `${c.cpuCapability}${c.oneDnnRan ? ", oneDNN's RNN primitive" : ''}): max |diff| ` +
      `${c.libtorchMaxAbsDiff.toExponential(2)} against a float64 LSTM (tolerance ${RNN_TOLERANCE}), see ` +
      `${UPSTREAM}. torch-napi runs its composed LSTM (libtorch's native ops, no oneDNN) instead, whose results ` +
      `are correct (max |diff| ${c.composedMaxAbsDiff.toExponential(2)}). A Python user of this libtorch should ` +
      'set torch.backends.mkldnn.enabled = False (or ONEDNN_MAX_CPU_ISA=AVX2) before running an LSTM.',
    { type: 'UserWarning', code: 'TORCH_NAPI_ONEDNN_LSTM' },
  );
}

/**
 * Called before every LSTM kernel call. On the first one where libtorch could pick oneDNN, runs the
 * self-check (about 10 ms, once): when libtorch's kernel is right here, 'auto' lets it run (oneDNN is
 * up to 8x faster than the native kernel at batch 256); when it is wrong, warns once and keeps the
 * composed LSTM, which the native side uses until then.
 */
export function beforeLstm(): void {
  if (warned) return;
  settle();
  const c = backends.rnn.selfCheck();
  if (c.oneDnnPossible && !c.ok) warnBroken(c);
  warned = true; // nothing to warn about, or done
}

/** Applies 'auto' once: the self-check's verdict. */
function settle(): void {
  if (settled) return;
  settled = true;
  const c = backends.rnn.selfCheck();
  if (c.oneDnnPossible && c.ok && auto) native.lstmKernel(0);
}

function parseKernel(fn: string, k: unknown): 'auto' | LstmKernel {
  if (k === 'auto' || k === 'libtorch' || k === 'composed') return k;
  throw new TypeError(
    `${fn}: expected 'auto', 'libtorch' or 'composed', got ${typeof k === 'string' ? `'${k}'` : String(k)}`,
  );
}

/** PyTorch's `torch.backends`, for the CPU kernels torch-napi relies on. */
export const backends = {
  /**
   * The inference fast path: with no gradient needed (grad mode off, or nothing the call reads
   * requires grad), CPU float32/float64 LSTM/GRU/RNN, multi-head attention and the Transformer
   * layers run fused CPU kernels (one GEMM per layer for the inputs, fused gates, masks applied
   * inside the softmax) instead of libtorch's op-by-op path; and a float32 unidirectional `nn.LSTM`
   * with biases that needs gradients runs a fused training kernel (one autograd node per layer,
   * equal to the reference to float rounding; its backward cannot build a graph, so `createGraph`
   * through it throws); Adam/AdamW update float32 parameters in one fused loop (bit for bit the
   * ATen ops' results). On by default; `fastPath(false)` or `TORCH_NAPI_FAST_PATH=0` in the
   * environment forces the reference `at::` path (bit-for-bit PyTorch, twice differentiable).
   * Returns the setting after the call.
   * @example torch.backends.fastPath(false); // every call runs libtorch's reference ops
   */
  fastPath(enabled?: boolean): boolean {
    if (enabled === undefined) return native.fastPath();
    if (typeof enabled !== 'boolean')
      throw new TypeError(`torch.backends.fastPath: expected a boolean, got ${describe(enabled)}`);
    return native.fastPath(enabled);
  },
  /**
   * How many calls took each fused kernel so far in this process (for tests and profiling): `rnn`,
   * `mha`, `sdpa`, `layer` (Transformer layers), `rnnTrain` (the LSTM training kernel), `linear`;
   * and `onednnGemm`, the float GEMMs inside the fused attention kernels that oneDNN ran.
   */
  fastPathStats(): FastPathStats {
    return native.fastPathStats();
  },
  /** `torch.backends.cpu`: the CPU kernels libtorch picked, and the caching CPU allocator. */
  cpu: {
    /**
     * The CPU capability libtorch's kernels were dispatched for ('AVX512', 'AVX2', 'DEFAULT', ...), as
     * PyTorch's `torch.backends.cpu.get_cpu_capability()` (read from libtorch's build report, so it
     * also works on libtorch 1.13).
     */
    getCpuCapability(): string {
      return capability();
    },
    /**
     * torch-napi's cache of released CPU storages (up to `maxBlock` = 64 MiB each, at most `limit` =
     * 256 MiB kept): results left to the GC are freed in batches, and handing their blocks out again
     * spares the system allocator the batch; a large block reused spares a page fault per 4 KiB page
     * (see native/cpu_allocator.cc). Off under AddressSanitizer or with
     * `TORCH_NAPI_CPU_CACHE=0` in the environment at load.
     */
    allocatorCache(): CpuAllocatorCache {
      return native.allocatorCache();
    },
    /** Returns every cached CPU block to the system allocator (as `torch.cuda.empty_cache()` for GPU memory); the bytes freed. */
    emptyCache(): number {
      return native.emptyCache();
    },
  },
  /** `torch.backends.mkldnn`: whether libtorch has oneDNN, and switching it off. */
  mkldnn: {
    /** Whether libtorch was built with oneDNN (formerly MKL-DNN), as `torch.backends.mkldnn.is_available()`. */
    isAvailable(): boolean {
      return native.config().mkldnn;
    },
    /** Whether libtorch may pick oneDNN kernels, as PyTorch's `torch.backends.mkldnn.enabled`. */
    isEnabled(): boolean {
      return native.mkldnnEnabled();
    },
    /** Lets libtorch pick oneDNN kernels or not (`torch.backends.mkldnn.enabled = False` in PyTorch). */
    setEnabled(enabled: boolean): void {
      if (typeof enabled !== 'boolean')
        throw new TypeError(`torch.backends.mkldnn.setEnabled: expected a boolean, got ${typeof enabled}`);
      native.setMkldnnEnabled(enabled);
    },
  },
  /** `torch.backends.conv`: the self-check of oneDNN's convolution gradients. */
  conv: {
    /**
     * Compares the input gradient of a small dilated convolution run with libtorch's oneDNN kernels
     * and without them (its native kernels). libtorch 2.6's oneDNN convolution backward gives wrong
     * input gradients for dilated convolutions on some AVX-512 CPUs (PyTorch 2.6 itself shows it);
     * measured once per process.
     */
    selfCheck(): ConvSelfCheck {
      convCheck ??= runConvCheck();
      return { ...convCheck };
    },
  },
  /** `torch.backends.rnn`: the LSTM self-check and the choice of LSTM kernel. */
  rnn: {
    /**
     * Runs small LSTMs (five shapes, both grad modes) through libtorch's `at::lstm` and through the
     * composed LSTM, and compares each with a float64 LSTM. Measured once per process, then cached.
     */
    selfCheck(): RnnSelfCheck {
      if (cachedCheck) return { ...cachedCheck };
      const r = native.rnnSelfCheck();
      const within = (d: number): boolean => d <= RNN_TOLERANCE; // NaN fails
      cachedCheck = {
        ok: within(r.libtorchMaxAbsDiff) && within(r.composedMaxAbsDiff),
        libtorchMaxAbsDiff: r.libtorchMaxAbsDiff,
        composedMaxAbsDiff: r.composedMaxAbsDiff,
        tolerance: RNN_TOLERANCE,
        oneDnnRan: r.oneDnnRan,
        oneDnnPossible: r.oneDnnPossible,
        cases: r.cases,
        libtorchVersion: native.libtorchVersion(),
        cpuCapability: capability(),
      };
      return { ...cachedCheck };
    },
    /** The kernel that full-sequence CPU LSTMs use (under 'auto', this runs the self-check first). */
    lstmKernel(): LstmKernel {
      settle();
      return kernelName(native.lstmKernel());
    },
    /**
     * Chooses the CPU LSTM kernel. `'auto'` (the default): where libtorch would use oneDNN's RNN
     * primitive (libtorch >= 2.0), libtorch's `at::lstm` if the self-check (run at the first LSTM)
     * finds it right on this CPU, else the composed LSTM with a warning; elsewhere (1.13, whose CPU
     * LSTM is the native algorithm the composed one copies) libtorch's `at::lstm`. `'libtorch'`
     * lets libtorch choose, oneDNN included: it is refused when the self-check finds libtorch's
     * kernel wrong here, unless `{ force: true }`.
     * `'composed'` always composes (GRU/RNN and LSTMs with `projSize` or uneven packed batches
     * never reach oneDNN and always run libtorch's kernel).
     */
    setLstmKernel(kernel: 'auto' | LstmKernel, options: { force?: boolean } = {}): void {
      const fn = 'torch.backends.rnn.setLstmKernel';
      const k = parseKernel(fn, kernel);
      if (options === null || typeof options !== 'object')
        throw new TypeError(`${fn}: expected an options object, got ${String(options)}`);
      for (const key of Object.keys(options)) {
        if (key !== 'force') throw new TypeError(`${fn}: unknown option '${key}' (expected: force)`);
      }
      if (k === 'auto') {
        auto = true;
        native.lstmKernel(-1);
        settled = false; // the next LSTM applies the self-check's verdict again
        return;
      }
      if (k === 'libtorch' && options.force !== true) {
        const c = backends.rnn.selfCheck();
        if (c.oneDnnPossible && !c.ok) {
          throw new Error(
            `${fn}: libtorch ${c.libtorchVersion}'s LSTM kernel gives wrong results on this CPU ` +
              `(capability ${c.cpuCapability}): max |diff| ${c.libtorchMaxAbsDiff.toExponential(2)} ` +
              `against a float64 LSTM, see ${UPSTREAM}; keep 'auto', or pass { force: true } to use it anyway`,
          );
        }
      }
      auto = false;
      native.lstmKernel(k === 'composed' ? 1 : 0);
    },
  },
};

// TORCH_NAPI_LSTM_KERNEL=auto|libtorch|composed chooses the kernel at load (as setLstmKernel; an
// unknown value is an error at import, not a silent default).
const fromEnv = process.env.TORCH_NAPI_LSTM_KERNEL;
if (fromEnv !== undefined && fromEnv !== '') {
  try {
    backends.rnn.setLstmKernel(parseKernel('TORCH_NAPI_LSTM_KERNEL', fromEnv), { force: fromEnv === 'libtorch' });
  } catch (e) {
    throw new TypeError(`torch-napi: ${(e as Error).message}`);
  }
}
