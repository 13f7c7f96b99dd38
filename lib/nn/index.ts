/** Neural network layers, functional forms and initialisers (PyTorch's `torch.nn`). */
export { Module } from './modules/module';
export type { StateDict, LoadResult } from './modules/module';
export { Parameter } from './parameter';
export { Identity, Linear, Bilinear } from './modules/linear';
export type { FactoryOptions } from './modules/linear';
export { Embedding } from './modules/sparse';
export { Dropout } from './modules/dropout';
export { LayerNorm } from './modules/normalization';
export { ReLU, GELU, Tanh, Sigmoid, SiLU, Softmax, LogSoftmax } from './modules/activation';
export { Sequential, ModuleList, ModuleDict } from './modules/container';
export * as functional from './functional';
export * as init from './init';
export { RNNBase, LSTM, GRU, RNN, RNNCellBase, LSTMCell, GRUCell, RNNCell } from './modules/rnn';
export type { RNNBaseOptions, LSTMOptions, GRUOptions, RNNOptions, RNNCellOptions, RNNSizes } from './modules/rnn';
export * as utils from './utils';
export { MultiheadAttention, NonDynamicallyQuantizableLinear } from './modules/attention';
export type { MultiheadAttentionOptions, MultiheadAttentionForwardOptions } from './modules/attention';
export * as masks from './masks';
export {
  Transformer,
  TransformerEncoder,
  TransformerDecoder,
  TransformerEncoderLayer,
  TransformerDecoderLayer,
} from './modules/transformer';
export type {
  TransformerActivation,
  TransformerLayerOptions,
  TransformerOptions,
  TransformerEncoderOptions,
  TransformerDecoderOptions,
  TransformerEncoderLayerForwardOptions,
  TransformerDecoderForwardOptions,
  TransformerEncoderForwardOptions,
  TransformerForwardOptions,
  EncoderLayerLike,
  DecoderLayerLike,
} from './modules/transformer';
export {
  MSELoss,
  L1Loss,
  SmoothL1Loss,
  HuberLoss,
  CrossEntropyLoss,
  NLLLoss,
  BCELoss,
  BCEWithLogitsLoss,
  KLDivLoss,
} from './modules/loss';
export { SingleStateRNN } from './modules/rnn';
