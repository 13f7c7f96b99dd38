// A token vocabulary (torchtext's Vocab / build_vocab_from_iterator): tokens <-> ids, with the
// special tokens of sequence models (pad, unk, bos, eos), saved as JSON.
import * as fs from 'node:fs';

import { tensor } from '../creation';
import { checkBool, checkInt, checkOptions, describe, typeError } from '../errors';
import { atomicWrite } from '../serialization/io';
import { Tensor } from '../tensor';

/** The special tokens of a vocabulary: a token each, or null for none. */
export interface VocabSpecials {
  /** Padding (default `'<pad>'`; id 0 when present). */
  pad?: string | null;
  /** Unknown: what out-of-vocabulary tokens map to (default `'<unk>'`). */
  unk?: string | null;
  /** Beginning of sequence (default `'<bos>'`). */
  bos?: string | null;
  /** End of sequence (default `'<eos>'`). */
  eos?: string | null;
  /** More special tokens, after those four (e.g. `['<sep>', '<mask>']`). */
  extra?: readonly string[];
}

/** Options of `Vocab.build`. */
export interface VocabBuildOptions {
  /** Keep tokens seen at least this often (default 1). */
  minFreq?: number;
  /** At most this many tokens in all, specials included (torchtext's `max_tokens`). */
  maxSize?: number;
  /** The special tokens, placed first: pad, unk, bos, eos, then `extra` (each may be null). */
  specials?: VocabSpecials;
}

/** Options of `Vocab.encode`. */
export interface EncodeOptions {
  /** Put the bos token first (default false). */
  addBos?: boolean;
  /** Put the eos token last (default false). */
  addEos?: boolean;
}

/** The JSON form of a vocabulary (`toJSON()` / `Vocab.fromJSON()`). */
export interface VocabJSON {
  /** Every token, in id order. */
  tokens: string[];
  /** Which tokens play the special roles (null: none). */
  specials: {
    /** The padding token. */
    pad: string | null;
    /** The token of unknown words. */
    unk: string | null;
    /** The beginning-of-sequence token. */
    bos: string | null;
    /** The end-of-sequence token. */
    eos: string | null;
  };
}

const ROLES = ['pad', 'unk', 'bos', 'eos'] as const;
type Role = (typeof ROLES)[number];
const DEFAULTS: Record<Role, string> = { pad: '<pad>', unk: '<unk>', bos: '<bos>', eos: '<eos>' };

/** Python's string order (by code point; JS's `<` compares UTF-16 code units). */
function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a),
    y = Array.from(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i].codePointAt(0) as number) - (y[i].codePointAt(0) as number);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * A vocabulary: tokens ↔ integer ids, with special tokens (pad, unk, bos, eos) first. Build one
 * from tokenized text with `Vocab.build` (torchtext's `build_vocab_from_iterator`: frequency
 * descending, ties in string order, `minFreq`, `maxSize` counting the specials), encode token
 * lists to int64 tensors for an embedding, decode model output back to tokens, and save it beside
 * the model's weights.
 *
 * @example
 * const vocab = torch.text.Vocab.build([['the', 'cat'], ['the', 'dog']], { minFreq: 1 });
 * vocab.encode(['the', 'cat', 'bird'], { addBos: true, addEos: true }); // tensor [2, 4, 5, 1, 3]
 * vocab.decode([2, 4, 5, 3], { skipSpecial: true });                     // ['the', 'cat']
 * vocab.save('vocab.json');
 * const same = torch.text.Vocab.load('vocab.json');
 */
export class Vocab {
  private readonly itos: readonly string[];
  private readonly stoi: Map<string, number>;
  private readonly roles: Record<Role, string | null>;
  private readonly specialIds: Set<number>;

  /**
   * @param tokens every token, by id (no duplicates)
   * @param specials which of them are pad, unk, bos, eos (null or absent: none); each must be in tokens
   * @throws TypeError for a non-string token; RangeError for a duplicate or a missing special
   */
  constructor(
    tokens: readonly string[],
    specials: { pad?: string | null; unk?: string | null; bos?: string | null; eos?: string | null } = {},
  ) {
    const fn = 'Vocab';
    if (!Array.isArray(tokens)) typeError(fn, 'tokens', 'an array of strings', tokens);
    const stoi = new Map<string, number>();
    tokens.forEach((t, i) => {
      if (typeof t !== 'string') typeError(fn, `tokens[${i}]`, 'a string', t);
      if (stoi.has(t))
        throw new RangeError(`${fn}: token ${JSON.stringify(t)} appears twice (ids ${stoi.get(t)} and ${i})`);
      stoi.set(t, i);
    });
    const s = checkOptions<Record<Role, string | null>>(fn, specials, ROLES);
    const roles = { pad: null, unk: null, bos: null, eos: null } as Record<Role, string | null>;
    for (const r of ROLES) {
      const v = s[r];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string') typeError(fn, `specials.${r}`, 'a string or null', v);
      if (!stoi.has(v)) throw new RangeError(`${fn}: the ${r} token ${JSON.stringify(v)} is not in the vocabulary`);
      roles[r] = v;
    }
    this.itos = tokens.slice();
    this.stoi = stoi;
    this.roles = roles;
    this.specialIds = new Set(
      ROLES.filter((r) => roles[r] !== null).map((r) => stoi.get(roles[r] as string) as number),
    );
  }

  /**
   * Builds a vocabulary from tokenized texts (torchtext's `build_vocab_from_iterator`): the
   * specials first (pad, unk, bos, eos, extra; see `VocabSpecials`, defaults `<pad>` `<unk>`
   * `<bos>` `<eos>`), then the tokens seen at least `minFreq` times by frequency, most frequent
   * first, ties in string (code point) order, cut so that the whole holds at most `maxSize`.
   *
   * @param texts an iterable of token arrays (e.g. each line split into words)
   * @example
   * const vocab = torch.text.Vocab.build(lines.map((l) => l.split(' ')), { minFreq: 2, maxSize: 30000 });
   * @throws TypeError for texts that are not an iterable of string arrays, or bad options;
   *   RangeError for a minFreq below 1, a maxSize below the number of specials, a duplicated special
   */
  static build(texts: Iterable<readonly string[]>, opts: VocabBuildOptions = {}): Vocab {
    const fn = 'Vocab.build';
    if (
      texts === null ||
      typeof texts !== 'object' ||
      typeof (texts as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function'
    )
      typeError(fn, 'texts', 'an iterable of token arrays', texts);
    const o = checkOptions<VocabBuildOptions>(fn, opts, ['minFreq', 'maxSize', 'specials']);
    const minFreq = o.minFreq === undefined ? 1 : checkInt(fn, 'minFreq', o.minFreq, 1);
    const sp = checkOptions<VocabSpecials>(fn, o.specials ?? {}, [...ROLES, 'extra']);
    const specialTokens: string[] = [];
    const roles: Record<Role, string | null> = { pad: null, unk: null, bos: null, eos: null };
    for (const r of ROLES) {
      const v = sp[r] === undefined ? DEFAULTS[r] : sp[r];
      if (v === null) continue;
      if (typeof v !== 'string') typeError(fn, `specials.${r}`, 'a string or null', v);
      roles[r] = v;
      specialTokens.push(v);
    }
    if (sp.extra !== undefined) {
      if (!Array.isArray(sp.extra)) typeError(fn, 'specials.extra', 'an array of strings', sp.extra);
      sp.extra.forEach((v, i) => {
        if (typeof v !== 'string') typeError(fn, `specials.extra[${i}]`, 'a string', v);
        specialTokens.push(v);
      });
    }
    if (new Set(specialTokens).size !== specialTokens.length)
      throw new RangeError(
        `${fn}: the special tokens must differ, got [${specialTokens.map((t) => JSON.stringify(t)).join(', ')}]`,
      );
    const maxSize = o.maxSize === undefined ? Infinity : checkInt(fn, 'maxSize', o.maxSize, 0);
    if (maxSize < specialTokens.length)
      throw new RangeError(
        `${fn}: maxSize (${maxSize}) is smaller than the number of special tokens (${specialTokens.length})`,
      );

    const counts = new Map<string, number>();
    let k = 0;
    for (const text of texts) {
      if (!Array.isArray(text)) typeError(fn, `texts[${k}]`, 'an array of tokens', text);
      text.forEach((t, j) => {
        if (typeof t !== 'string') typeError(fn, `texts[${k}][${j}]`, 'a string', t);
        counts.set(t, (counts.get(t) ?? 0) + 1);
      });
      k++;
    }
    const special = new Set(specialTokens);
    const ranked = [...counts.entries()]
      .filter(([t, c]) => c >= minFreq && !special.has(t))
      .sort((a, b) => b[1] - a[1] || compareCodePoints(a[0], b[0]))
      .map(([t]) => t);
    const tokens = specialTokens.concat(ranked.slice(0, maxSize - specialTokens.length));
    return new Vocab(tokens, roles);
  }

  /** The number of tokens. */
  get length(): number {
    return this.itos.length;
  }

  /** The padding token (null when the vocabulary has none). */
  get pad(): string | null {
    return this.roles.pad;
  }
  /** The unknown token, what out-of-vocabulary tokens encode to (null when none). */
  get unk(): string | null {
    return this.roles.unk;
  }
  /** The beginning-of-sequence token (null when none). */
  get bos(): string | null {
    return this.roles.bos;
  }
  /** The end-of-sequence token (null when none). */
  get eos(): string | null {
    return this.roles.eos;
  }
  /**
   * The id of the padding token (undefined when none): `padSequenceCollate`'s `padValue`,
   * `nn.Embedding`'s `paddingIdx`, `CrossEntropyLoss`'s `ignoreIndex`.
   * @example new nn.Embedding(vocab.length, 256, { paddingIdx: vocab.padId });
   */
  get padId(): number | undefined {
    return this.roleId('pad');
  }
  /** The id of the unknown token (undefined when none). */
  get unkId(): number | undefined {
    return this.roleId('unk');
  }
  /**
   * The id of the beginning-of-sequence token (undefined when none): `shiftRight`'s `startToken`.
   * @example nn.utils.shiftRight(tgt, { startToken: vocab.bosId as number });
   */
  get bosId(): number | undefined {
    return this.roleId('bos');
  }
  /** The id of the end-of-sequence token (undefined when none): where generation stops. */
  get eosId(): number | undefined {
    return this.roleId('eos');
  }

  private roleId(r: Role): number | undefined {
    const t = this.roles[r];
    return t === null ? undefined : this.stoi.get(t);
  }

  /** Whether `token` is in the vocabulary (torchtext's `token in vocab`). */
  has(token: string): boolean {
    return this.stoi.has(token);
  }

  /**
   * The id of `token`; an unknown token gives the unk id (torchtext's `vocab[token]` with the
   * default index set to unk).
   * @throws RangeError for an unknown token when the vocabulary has no unk token
   */
  indexOf(token: string): number {
    const fn = 'Vocab.indexOf';
    if (typeof token !== 'string') typeError(fn, 'token', 'a string', token);
    const i = this.stoi.get(token);
    if (i !== undefined) return i;
    const u = this.unkId;
    if (u === undefined)
      throw new RangeError(`${fn}: token ${JSON.stringify(token)} is not in the vocabulary, which has no unk token`);
    return u;
  }

  /** The token of `id` (torchtext's `lookup_token`). @throws RangeError for an id out of range */
  token(id: number): string {
    const i = checkInt('Vocab.token', 'id', id);
    if (i < 0 || i >= this.itos.length)
      throw new RangeError(`Vocab.token: id ${i} is out of range [0, ${this.itos.length})`);
    return this.itos[i];
  }

  /** Every token, by id (torchtext's `get_itos()`). */
  getItos(): string[] {
    return this.itos.slice();
  }

  /** Token → id (torchtext's `get_stoi()`). */
  getStoi(): Map<string, number> {
    return new Map(this.stoi);
  }

  /**
   * The ids of `tokens` (unknown ones give the unk id), with bos / eos added on request: an int64
   * tensor `(L)`, or a `number[]` with `{ as: 'array' }`.
   * @example vocab.encode('the cat sat'.split(' '), { addEos: true }); // int64 tensor
   * @throws TypeError for tokens that are not strings; RangeError for addBos / addEos without that
   *   special, or an unknown token without unk
   */
  encode(tokens: readonly string[], opts?: EncodeOptions & { as?: 'tensor' }): Tensor;
  encode(tokens: readonly string[], opts: EncodeOptions & { as: 'array' }): number[];
  encode(tokens: readonly string[], opts: EncodeOptions & { as?: 'tensor' | 'array' } = {}): Tensor | number[] {
    const fn = 'Vocab.encode';
    if (!Array.isArray(tokens)) typeError(fn, 'tokens', 'an array of strings', tokens);
    const o = checkOptions<EncodeOptions & { as?: 'tensor' | 'array' }>(fn, opts, ['addBos', 'addEos', 'as']);
    const addBos = o.addBos === undefined ? false : checkBool(fn, 'addBos', o.addBos);
    const addEos = o.addEos === undefined ? false : checkBool(fn, 'addEos', o.addEos);
    if (o.as !== undefined && o.as !== 'tensor' && o.as !== 'array')
      throw new TypeError(`${fn}: expected as to be 'tensor' or 'array', got ${describe(o.as)}`);
    const ids: number[] = [];
    if (addBos) {
      if (this.bosId === undefined)
        throw new RangeError(`${fn}: addBos needs a bos token, and this vocabulary has none`);
      ids.push(this.bosId);
    }
    const unk = this.unkId;
    tokens.forEach((t, i) => {
      if (typeof t !== 'string') typeError(fn, `tokens[${i}]`, 'a string', t);
      const id = this.stoi.get(t) ?? unk;
      if (id === undefined)
        throw new RangeError(
          `${fn}: tokens[${i}] = ${JSON.stringify(t)} is not in the vocabulary, which has no unk token`,
        );
      ids.push(id);
    });
    if (addEos) {
      if (this.eosId === undefined)
        throw new RangeError(`${fn}: addEos needs an eos token, and this vocabulary has none`);
      ids.push(this.eosId);
    }
    return o.as === 'array' ? ids : tensor(ids, { dtype: 'int64' });
  }

  /**
   * The tokens of `ids` (a 1-D integer tensor, numbers or bigints); `skipSpecial` leaves out
   * pad, unk, bos and eos, and `stopAtEos` ends at the first eos (generated output).
   * @example vocab.decode(model.generate(src).select(0, 0), { skipSpecial: true, stopAtEos: true }).join(' ');
   * @throws TypeError for ids that are not a 1-D integer tensor or an integer array; RangeError for an id out of range
   */
  decode(
    ids: Tensor | readonly number[] | readonly bigint[],
    opts: { skipSpecial?: boolean; stopAtEos?: boolean } = {},
  ): string[] {
    const fn = 'Vocab.decode';
    const o = checkOptions<{ skipSpecial?: boolean; stopAtEos?: boolean }>(fn, opts, ['skipSpecial', 'stopAtEos']);
    const skip = o.skipSpecial === undefined ? false : checkBool(fn, 'skipSpecial', o.skipSpecial);
    const stop = o.stopAtEos === undefined ? false : checkBool(fn, 'stopAtEos', o.stopAtEos);
    let list: number[];
    if (ids instanceof Tensor) {
      if (ids.dim() !== 1)
        throw new TypeError(`${fn}: expected ids to be a 1-D tensor, got shape [${ids.shape.join(', ')}]`);
      if (ids.dtype.startsWith('float') || ids.dtype === 'bfloat16' || ids.dtype === 'bool')
        throw new TypeError(`${fn}: expected ids to be an integer tensor, got dtype ${ids.dtype}`);
      list = ids.toArray<number[]>();
    } else if (Array.isArray(ids)) {
      list = (ids as readonly (number | bigint)[]).map((v, i) =>
        typeof v === 'bigint' ? Number(v) : checkInt(fn, `ids[${i}]`, v),
      );
    } else {
      return typeError(fn, 'ids', 'a 1-D integer Tensor or an array of ids', ids);
    }
    const eos = this.eosId;
    const out: string[] = [];
    for (let i = 0; i < list.length; i++) {
      const id = list[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.itos.length)
        throw new RangeError(`${fn}: ids[${i}] = ${id} is out of range [0, ${this.itos.length})`);
      if (stop && id === eos) break;
      if (skip && this.specialIds.has(id)) continue;
      out.push(this.itos[id]);
    }
    return out;
  }

  /** The JSON form: `{ tokens, specials }` (what `save` writes). */
  toJSON(): VocabJSON {
    return { tokens: this.itos.slice(), specials: { ...this.roles } };
  }

  /**
   * A vocabulary from its JSON form (`toJSON()`), checked.
   * @throws TypeError for something that is not a VocabJSON; RangeError as the constructor
   */
  static fromJSON(json: VocabJSON | string): Vocab {
    const fn = 'Vocab.fromJSON';
    let v: unknown = json;
    if (typeof json === 'string') {
      try {
        v = JSON.parse(json);
      } catch (e) {
        throw new TypeError(`${fn}: the text is not JSON (${(e as Error).message})`);
      }
    }
    if (typeof v !== 'object' || v === null || !Array.isArray((v as VocabJSON).tokens))
      throw new TypeError(`${fn}: expected an object with a tokens array, got ${describe(v)}`);
    const j = v as VocabJSON;
    const specials = j.specials ?? {};
    if (typeof specials !== 'object') typeError(fn, 'specials', 'an object', specials);
    return new Vocab(j.tokens, specials);
  }

  /**
   * Writes the vocabulary to `path` as JSON (atomically: a reader never sees half a file).
   * @example vocab.save('checkpoints/vocab.json');
   */
  save(path: string): void {
    if (typeof path !== 'string') typeError('Vocab.save', 'path', 'a file path', path);
    const text = `${JSON.stringify(this.toJSON())}\n`;
    atomicWrite('Vocab.save', path, (sink) => {
      sink.write(new TextEncoder().encode(text));
    });
  }

  /**
   * Reads a vocabulary written by `save`.
   * @example const vocab = torch.text.Vocab.load('checkpoints/vocab.json');
   * @throws TypeError for a file that is not a saved vocabulary
   */
  static load(path: string): Vocab {
    if (typeof path !== 'string') typeError('Vocab.load', 'path', 'a file path', path);
    return Vocab.fromJSON(fs.readFileSync(path, 'utf8'));
  }

  /** A one-line summary: the size and the ids of the special tokens. */
  toString(): string {
    return `Vocab(length=${this.itos.length}, pad=${this.roles.pad}, unk=${this.roles.unk}, bos=${this.roles.bos}, eos=${this.roles.eos})`;
  }
}

/**
 * torchtext's `build_vocab_from_iterator`, as `Vocab.build`.
 * @example const vocab = torch.text.buildVocabFromIterator(texts, { minFreq: 2 });
 */
export function buildVocabFromIterator(texts: Iterable<readonly string[]>, opts: VocabBuildOptions = {}): Vocab {
  return Vocab.build(texts, opts);
}
