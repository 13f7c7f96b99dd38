/**
 * `torch.text`: what torchtext gives a sequence model's data pipeline, starting with its `Vocab`
 * (`torchtext.vocab.Vocab` / `build_vocab_from_iterator`).
 */

export {
  buildVocabFromIterator,
  type EncodeOptions,
  Vocab,
  type VocabBuildOptions,
  type VocabJSON,
  type VocabSpecials,
} from './vocab';
