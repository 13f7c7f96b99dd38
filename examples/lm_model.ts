// The model of examples/lm.ts (a module of its own, so that tests can import it).
import * as torch from '../lib';

const { nn } = torch;
type Tensor = torch.Tensor;

const E = 96;
const HEADS = 4;
const LAYERS = 2;

/** A pre-norm decoder block: x + attn(ln(x)), then x + mlp(ln(x)). */
class Block extends nn.Module {
  ln1 = new nn.LayerNorm([E]);
  attn = new nn.MultiheadAttention(E, HEADS, { batchFirst: true, dropout: 0.1 });
  ln2 = new nn.LayerNorm([E]);
  mlp = new nn.Sequential(new nn.Linear(E, 4 * E), new nn.GELU(), new nn.Linear(4 * E, E), new nn.Dropout(0.1));

  forward(x: Tensor, opts: { mask?: Tensor; cache?: InstanceType<typeof nn.AttentionCache> }): Tensor {
    const h = this.ln1.forward(x);
    const [a] = this.attn.forward(h, h, h, {
      attnMask: opts.mask ?? null,
      cache: opts.cache ?? null,
      needWeights: false,
    });
    const y = x.add(a);
    return y.add(this.mlp.forward(this.ln2.forward(y)) as Tensor);
  }
}

interface State {
  pos: number;
  caches: InstanceType<typeof nn.AttentionCache>[];
}

export class CharLM extends nn.Module {
  tok: InstanceType<typeof nn.Embedding>;
  pos: InstanceType<typeof nn.Embedding>;
  blocks: InstanceType<typeof nn.ModuleList>;
  lnF = new nn.LayerNorm([E]);
  head: InstanceType<typeof nn.Linear>;

  constructor(
    vocab: number,
    readonly maxLen: number,
  ) {
    super();
    this.tok = new nn.Embedding(vocab, E);
    this.pos = new nn.Embedding(maxLen, E);
    this.blocks = new nn.ModuleList(Array.from({ length: LAYERS }, () => new Block()));
    this.head = new nn.Linear(E, vocab);
  }

  /** Training: ids (B, T) → logits (B, T, V), every position attending to itself and earlier ones. */
  forward(ids: Tensor): Tensor {
    const T = ids.shape[1];
    let x = this.tok.forward(ids).add(this.pos.forward(torch.arange(T)));
    const mask = nn.masks.causal(T);
    for (const b of this.blocks) x = (b as Block).forward(x, { mask });
    return this.head.forward(this.lnF.forward(x));
  }

  initialState(): State {
    return { pos: 0, caches: Array.from({ length: LAYERS }, () => new nn.AttentionCache()) };
  }

  /** One character: tokens (R) → logits (R, V); each block's cache grows by one step. */
  decodeStep(tokens: Tensor, st: State): torch.DecodeStepOutput<State> {
    if (st.pos >= this.maxLen) throw new RangeError(`CharLM: longer than its ${this.maxLen} positions`);
    let x = this.tok.forward(tokens.unsqueeze(1)).add(this.pos.forward(torch.tensor([st.pos], { dtype: 'int64' })));
    let i = 0;
    for (const b of this.blocks) x = (b as Block).forward(x, { cache: st.caches[i++] });
    return { logits: this.head.forward(this.lnF.forward(x)).squeeze(1), state: { pos: st.pos + 1, caches: st.caches } };
  }
}
