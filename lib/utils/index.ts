/** `torch.utils`: `torch.utils.data` (datasets, samplers, DataLoader). */

export * as data from './data';
