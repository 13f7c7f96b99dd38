/** Utilities of `torch.nn.utils`: packing and padding of sequences (`nn.utils.rnn`). */
export * as rnn from './rnn';
