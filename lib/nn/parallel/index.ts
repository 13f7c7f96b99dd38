/** Data-parallel training (PyTorch's `torch.nn.parallel`). */
export type { DistributedDataParallelOptions } from './distributed';
export { DistributedDataParallel } from './distributed';
