// The model and task of examples/translate.ts (a module of its own, so that tests can import them).
import * as torch from '../lib';

const { nn } = torch;
type Tensor = torch.Tensor;

// ---- the task: numbers in digits → English words -----------------------------------------------
const ONES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** The English words of 0 <= n < 1,000,000 (American style: no "and"). */
export function words(n: number): string[] {
  if (n < 20) return [ONES[n]];
  if (n < 100) return n % 10 ? [TENS[Math.floor(n / 10)], ONES[n % 10]] : [TENS[n / 10]];
  if (n < 1000) return [ONES[Math.floor(n / 100)], 'hundred', ...(n % 100 ? words(n % 100) : [])];
  return [...words(Math.floor(n / 1000)), 'thousand', ...(n % 1000 ? words(n % 1000) : [])];
}
export const digits = (n: number): string[] => String(n).split('');

// ---- the model ---------------------------------------------------------------------------------
const E = 48;
const H = 96;
const HEADS = 4;

/** The decoding state: encoder memory and padding, the decoder's LSTM state, its self-attention cache. */
export interface State {
  memory: Tensor; // (S, R, H)
  srcPadding: Tensor; // (R, S)
  hc: [Tensor, Tensor] | null;
  cache: InstanceType<typeof nn.AttentionCache>;
}

export class Translator extends nn.Module {
  srcEmb: InstanceType<typeof nn.Embedding>;
  tgtEmb: InstanceType<typeof nn.Embedding>;
  encoder: InstanceType<typeof nn.LSTM>;
  decoder: InstanceType<typeof nn.LSTM>;
  selfAttn: InstanceType<typeof nn.MultiheadAttention>;
  cross: InstanceType<typeof nn.MultiheadAttention>;
  head: InstanceType<typeof nn.Linear>;

  constructor(srcVocab: number, tgtVocab: number, pad: number) {
    super();
    this.srcEmb = new nn.Embedding(srcVocab, E, { paddingIdx: pad });
    this.tgtEmb = new nn.Embedding(tgtVocab, E, { paddingIdx: pad });
    this.encoder = new nn.LSTM(E, H, { numLayers: 2 });
    this.decoder = new nn.LSTM(E, H, { numLayers: 2 });
    this.selfAttn = new nn.MultiheadAttention(H, HEADS);
    this.cross = new nn.MultiheadAttention(H, HEADS);
    this.head = new nn.Linear(2 * H, tgtVocab);
  }

  /** Teacher forcing: logits (T, B, V) of every target step given the previous gold tokens. */
  forward(
    src: Tensor,
    srcPadding: Tensor,
    tgtIn: Tensor,
    tgtPadding: Tensor,
    needWeights = false,
  ): [Tensor, Tensor | null] {
    const [memory, hc] = this.encoder.forward(this.srcEmb.forward(src));
    const [dec] = this.decoder.forward(this.tgtEmb.forward(tgtIn), hc);
    const T = tgtIn.shape[0];
    // a step attends to itself and to earlier steps (attnMask), never to padding (keyPaddingMask)
    const [sa] = this.selfAttn.forward(dec, dec, dec, {
      attnMask: nn.masks.causal(T),
      keyPaddingMask: tgtPadding,
      needWeights: false,
    });
    const h = dec.add(sa);
    const [ctx, weights] = this.cross.forward(h, memory, memory, { keyPaddingMask: srcPadding, needWeights });
    return [this.head.forward(torch.cat([h, ctx], 2)), weights];
  }

  /** torch.generate's encoder half. */
  encode(src: Tensor, srcPadding: Tensor | null): State {
    const [memory, hc] = this.encoder.forward(this.srcEmb.forward(src.t())); // src (B, S) → (S, B)
    return { memory, srcPadding: srcPadding as Tensor, hc, cache: new nn.AttentionCache() };
  }

  /** One decoder step: tokens (R) → logits (R, V), the new state, and the cross-attention (R, S). */
  decodeStep(tokens: Tensor, st: State): torch.DecodeStepOutput<State> {
    const [dec, hc] = this.decoder.forward(this.tgtEmb.forward(tokens.unsqueeze(0)), st.hc); // (1, R, H)
    // this step's keys and values join the cache; the query attends over every step so far
    const [sa] = this.selfAttn.forward(dec, dec, dec, { cache: st.cache, needWeights: false });
    const h = dec.add(sa);
    const [ctx, w] = this.cross.forward(h, st.memory, st.memory, { keyPaddingMask: st.srcPadding, needWeights: true });
    const logits = this.head.forward(torch.cat([h, ctx], 2)).squeeze(0);
    return { logits, state: { ...st, hc }, attention: (w as Tensor).squeeze(1) };
  }

  /**
   * `decodeStep` with its heavy calls (the decoder LSTM, the cross-attention) on the libuv thread
   * pool: `torch.generateAsync` uses it, and the event loop keeps running during each step.
   */
  async decodeStepAsync(tokens: Tensor, st: State): Promise<torch.DecodeStepOutput<State>> {
    const step = tokens.unsqueeze(0);
    const emb = this.tgtEmb.forward(step);
    const [dec, hc] = await this.decoder.forwardAsync(emb, st.hc);
    const [sa] = this.selfAttn.forward(dec, dec, dec, { cache: st.cache, needWeights: false }); // one small step: JS thread
    const h = dec.add(sa);
    const [ctx, w] = await this.cross.forwardAsync(h, st.memory, st.memory, {
      keyPaddingMask: st.srcPadding,
      needWeights: true,
    });
    const both = torch.cat([h, ctx], 2);
    const out = this.head.forward(both);
    const logits = out.squeeze(0);
    const attention = (w as Tensor).squeeze(1);
    torch.dispose([step, emb, dec, sa, h, ctx, both, out, w]); // views (logits, attention) keep their data
    return { logits, state: { ...st, hc }, attention };
  }

  /** Beam search: every row of the state follows its beam. */
  reorderState(st: State, idx: Tensor): State {
    st.cache.reorder(idx);
    return {
      memory: st.memory.indexSelect(1, idx),
      srcPadding: st.srcPadding.indexSelect(0, idx),
      hc: st.hc ? [st.hc[0].indexSelect(1, idx), st.hc[1].indexSelect(1, idx)] : null,
      cache: st.cache,
    };
  }
}
