// torch.profiler: which ATen ops a call dispatched (libtorch's RecordFunction, as PyTorch's profiler).
import { native } from './native';

/** `torch.profiler`: which ATen operators a call ran (`recordOps`). */
export const profiler = {
  /**
   * Runs `fn` and returns its result with the names of the ATen operators it dispatched on this
   * thread, in call order, nested ones included (`['aten::lstm', 'aten::linear', ...]`). This shows
   * which kernel path libtorch took (for example `aten::mkldnn_rnn_layer` for oneDNN's LSTM). Ops that
   * run on the thread pool (`*Async`) are not seen.
   */
  recordOps<T>(fn: () => T): {
    /** What `fn` returned. */
    result: T;
    /** The ATen operators it dispatched, in order (`'aten::add'`, ...). */
    ops: string[];
  } {
    if (typeof fn !== 'function')
      throw new TypeError(`torch.profiler.recordOps: expected a function, got ${fn === null ? 'null' : typeof fn}`);
    const [result, ops] = native.recordOps(fn);
    return { result, ops };
  },
};
