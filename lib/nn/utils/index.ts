/** Utilities of `torch.nn.utils`: packing and padding of sequences (`nn.utils.rnn`), gradient clipping, `shiftRight` (teacher forcing). */

export { clipGradNorm_, clipGradValue_ } from './clip_grad';
export * as rnn from './rnn';
export { type ShiftRightOptions, shiftRight } from './shift';
