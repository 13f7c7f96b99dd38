// Corpus BLEU (Papineni et al., 2002) as sacreBLEU and NLTK's corpus_bleu compute it with one
// reference per sentence and no smoothing: clipped n-gram precisions for n = 1..4 summed over the
// corpus, their geometric mean, and the brevity penalty exp(1 - r/c) when the candidates are
// shorter than the references. Returns a value in [0, 1] (multiply by 100 for the usual score).

function ngrams(tokens: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const k = tokens.slice(i, i + n).join('\u0001');
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

/** Corpus BLEU-`maxN` of tokenised candidates against one tokenised reference each. */
export function corpusBleu(candidates: readonly string[][], references: readonly string[][], maxN = 4): number {
  if (candidates.length !== references.length)
    throw new RangeError(`corpusBleu: ${candidates.length} candidates but ${references.length} references`);
  const matches = new Array<number>(maxN).fill(0);
  const totals = new Array<number>(maxN).fill(0);
  let c = 0;
  let r = 0;
  for (let i = 0; i < candidates.length; i++) {
    const cand = candidates[i];
    const ref = references[i];
    c += cand.length;
    r += ref.length;
    for (let n = 1; n <= maxN; n++) {
      const cg = ngrams(cand, n);
      const rg = ngrams(ref, n);
      for (const [k, count] of cg) matches[n - 1] += Math.min(count, rg.get(k) ?? 0);
      totals[n - 1] += Math.max(cand.length - n + 1, 0);
    }
  }
  if (c === 0 || matches.some((m) => m === 0)) return 0;
  const logPrecision = matches.reduce((acc, m, i) => acc + Math.log(m / totals[i]), 0) / maxN;
  const bp = c >= r ? 1 : Math.exp(1 - r / c);
  return bp * Math.exp(logPrecision);
}
