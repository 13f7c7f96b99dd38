/** Utilities of `torch.nn.utils`: packing and padding of sequences (`nn.utils.rnn`). */

export { clipGradNorm_, clipGradValue_ } from './clip_grad';
export * as rnn from './rnn';
