// The seed model, corrected: an LSTM encoder, an LSTM decoder, and a multi-head cross-attention
// in which each decoder step attends over the encoder outputs, with a causal `attnMask` and a
// `keyPaddingMask` — ported line by line from the PyTorch seed, with the seed's bug fixed.
//
// In your own project: `import * as torch from 'torch-napi';`
import * as torch from '../lib';

const { nn } = torch;
type Tensor = torch.Tensor;

export interface SeedModelOptions {
  inputSize?: number; // features per time step (the seed: 10)
  hiddenSize?: number; // the seed: 20
  numLayers?: number; // the seed: 2
  numHeads?: number;
  outputSize?: number;
}

/**
 * Seed (PyTorch)                                   | here (torch-napi)
 * -------------------------------------------------+----------------------------------------------
 * self.encoder = nn.LSTM(10, 20, 2)                | encoder = new nn.LSTM(10, 20, { numLayers: 2 })
 * self.decoder = nn.LSTM(20, 20, 2)                | decoder = new nn.LSTM(20, 20, { numLayers: 2 })
 * (no attention: the mask went into the LSTM)      | cross = new nn.MultiheadAttention(20, 4)
 * self.linear = nn.Linear(20, 10)                  | head = new nn.Linear(20, 10)
 *
 * forward:
 * output, (h, c) = self.encoder(x)                 | const [memory] = this.encoder.forward(x)
 * mask = torch.triu(torch.ones(L, L), 1).bool()    | attnMask: nn.masks.causal(L, S)   (true = blocked)
 * output, _ = self.decoder(output, mask)   <- BUG  | const [dec] = this.decoder.forward(memory)
 *   (the mask lands in hx, the decoder's initial   |   (hx defaults to zeros; passing a mask here
 *    state; an LSTM takes no attention mask)       |    throws a TypeError that says so)
 *                                                  | const [ctx, w] = this.cross.forward(dec, memory, memory,
 *                                                  |   { attnMask, keyPaddingMask })
 * return self.linear(output)                       | return this.head.forward(ctx)
 *
 * Shapes are the seed's, sequence-first: x (L, N, inputSize), srcPadding (N, L) bool (true =
 * padded step), output (L, N, outputSize): position t predicts x_{t+1}.
 */
export class SeedModel extends nn.Module {
  encoder: torch.nn.LSTM;
  decoder: torch.nn.LSTM;
  cross: torch.nn.MultiheadAttention;
  head: torch.nn.Linear;

  constructor(opts: SeedModelOptions = {}) {
    super();
    const inputSize = opts.inputSize ?? 10,
      hidden = opts.hiddenSize ?? 20,
      layers = opts.numLayers ?? 2;
    this.encoder = new nn.LSTM(inputSize, hidden, { numLayers: layers });
    this.decoder = new nn.LSTM(hidden, hidden, { numLayers: layers });
    this.cross = new nn.MultiheadAttention(hidden, opts.numHeads ?? 4);
    this.head = new nn.Linear(hidden, opts.outputSize ?? inputSize);
  }

  /** Returns the predictions; `forwardWithWeights` also returns the cross-attention weights. */
  forward(x: Tensor, srcPadding?: Tensor | null): Tensor {
    const [out, w] = this.forwardWithWeights(x, srcPadding, false);
    w?.dispose();
    return out;
  }

  /** Predictions and the per-head cross-attention weights `(N, heads, L, S)` (or null). */
  forwardWithWeights(x: Tensor, srcPadding?: Tensor | null, needWeights = true): [Tensor, Tensor | null] {
    return torch.tidy(() => {
      const [memory] = this.encoder.forward(x); // (L, N, H): the encoder's outputs
      const [dec] = this.decoder.forward(memory); // the decoder reads the encoder's outputs
      const [ctx, weights] = this.cross.forward(
        dec,
        memory,
        memory,
        this.crossOptions(dec, memory, srcPadding, needWeights),
      );
      return [this.head.forward(ctx), weights] as [Tensor, Tensor | null];
    });
  }

  /**
   * `forward` with every heavy step on the libuv thread pool: the LSTMs, the attention and the
   * head each run as an awaited `forwardAsync`, so the event loop keeps serving (e.g. other
   * requests) meanwhile. Same results as `forward`. Grad mode is read by each step when it is
   * queued: to run the whole call without gradients, set it around the await
   * (`torch.setGradEnabled(false)` ... `finally` true), not `torch.noGrad(() => promise)`.
   */
  override async forwardAsync(x: Tensor, srcPadding?: Tensor | null): Promise<Tensor> {
    const [out, w] = await this.forwardWithWeightsAsync(x, srcPadding, false);
    w?.dispose();
    return out;
  }

  /** `forwardWithWeights` on the pool (see `forwardAsync`). */
  async forwardWithWeightsAsync(
    x: Tensor,
    srcPadding?: Tensor | null,
    needWeights = true,
  ): Promise<[Tensor, Tensor | null]> {
    // No torch.tidy in async code: the intermediates are disposed explicitly once used.
    const [memory, encState] = await this.encoder.forwardAsync(x);
    const [dec, decState] = await this.decoder.forwardAsync(memory);
    const opts = this.crossOptions(dec, memory, srcPadding, needWeights);
    try {
      const [ctx, weights] = await this.cross.forwardAsync(dec, memory, memory, opts);
      try {
        return [await this.head.forwardAsync(ctx), weights];
      } catch (e) {
        weights?.dispose();
        throw e;
      } finally {
        ctx.dispose();
      }
    } finally {
      torch.dispose([memory, encState, dec, decState, opts.attnMask]);
    }
  }

  /** The cross-attention's masks: decoder step t attends to encoder steps 0..t that are not padding. */
  private crossOptions(dec: Tensor, memory: Tensor, srcPadding: Tensor | null | undefined, needWeights: boolean) {
    const L = dec.shape[0],
      S = memory.shape[0];
    return {
      // Causal across the two sequences: source and target are aligned in time, and the target
      // at step t is x_{t+1}; without this mask step t would read encoder step t+1 — its answer.
      attnMask: nn.masks.causal(L, S, { device: dec.device }),
      // Padded source steps are never attended to (they would otherwise reach the padded
      // query rows, and any row once sequences are not right-aligned).
      keyPaddingMask: srcPadding ?? null,
      needWeights,
      averageAttnWeights: false,
    };
  }
}
