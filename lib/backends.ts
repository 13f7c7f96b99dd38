// torch.backends: which CPU kernels libtorch has here, and which LSTM kernel torch-napi lets run.
import { native } from './native';

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
  tolerance: number;
  /** libtorch's `at::lstm` ran oneDNN's RNN primitive (`aten::mkldnn_rnn_layer`) in the check. */
  oneDnnRan: boolean;
  /** libtorch would send a CPU float32 LSTM to oneDNN (libtorch >= 2.0 built with oneDNN). */
  oneDnnPossible: boolean;
  /** LSTM shapes checked (including the seed model's and one that oneDNN's AVX-512 kernel got wrong). */
  cases: number;
  libtorchVersion: string;
  cpuCapability: string;
}

export const RNN_TOLERANCE = 1e-5;
const UPSTREAM = 'https://github.com/pytorch/pytorch/issues/173922';

let cachedCheck: RnnSelfCheck | null = null;
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
  cpu: {
    /**
     * The CPU capability libtorch's kernels were dispatched for ('AVX512', 'AVX2', 'DEFAULT', ...), as
     * PyTorch's `torch.backends.cpu.get_cpu_capability()` (read from libtorch's build report, so it
     * also works on libtorch 1.13).
     */
    getCpuCapability(): string {
      return capability();
    },
  },
  mkldnn: {
    /** Whether libtorch was built with oneDNN (formerly MKL-DNN), as `torch.backends.mkldnn.is_available()`. */
    isAvailable(): boolean {
      return native.config().mkldnn;
    },
  },
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
