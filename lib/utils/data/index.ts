/**
 * `torch.utils.data`: datasets, samplers, collate functions and the `DataLoader` (PyTorch's
 * names, camelCased: `__getitem__` is `getItem`, `__len__` is `length`, `collate_fn` is `collate`,
 * `random_split` is `randomSplit`).
 */

export {
  type Collated,
  type DefaultCollated,
  defaultCollate,
  type PaddedBatch,
  type PaddedCollated,
  type PaddedOf,
  type PadSequenceCollateOptions,
  padSequenceCollate,
} from './collate';
export { DataLoader, type DataLoaderOptions, type DataSource } from './dataloader';
export {
  ConcatDataset,
  Dataset,
  IterableDataset,
  type RandomSplitOptions,
  randomSplit,
  Subset,
  TensorDataset,
} from './dataset';
export {
  BatchSampler,
  BucketBatchSampler,
  type BucketBatchSamplerOptions,
  DistributedSampler,
  type DistributedSamplerOptions,
  RandomSampler,
  type RandomSamplerOptions,
  Sampler,
  SequentialSampler,
  type Sized,
  SubsetRandomSampler,
} from './sampler';
