/** Neural network layers, functional forms and initialisers (PyTorch's `torch.nn`). */

export * as functional from './functional';
export * as init from './init';
export * as masks from './masks';
export { GELU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh } from './modules/activation';
export type { PReLUOptions } from './modules/activation_param';
export { PReLU, Softplus } from './modules/activation_param';
export type { MultiheadAttentionForwardOptions, MultiheadAttentionOptions } from './modules/attention';
export { MultiheadAttention, NonDynamicallyQuantizableLinear } from './modules/attention';
export type { AttentionCacheOptions } from './modules/attention_cache';
export { AttentionCache, TransformerDecoderCache } from './modules/attention_cache';
export type { BatchNormOptions } from './modules/batchnorm';
export { BatchNorm1d, BatchNorm2d, InstanceNorm1d } from './modules/batchnorm';
export { ModuleDict, ModuleList, Sequential } from './modules/container';
export type { ConvOptions, ConvTransposeOptions, PaddingMode } from './modules/conv';
export { Conv1d, Conv2d, ConvTranspose1d } from './modules/conv';
export type { CTCLossOptions } from './modules/ctc';
export { CTCLoss } from './modules/ctc';
export { Dropout } from './modules/dropout';
export type { EmbeddingBagMode, EmbeddingBagOptions } from './modules/embedding_bag';
export { EmbeddingBag } from './modules/embedding_bag';
export type { GroupNormOptions } from './modules/groupnorm';
export { GroupNorm } from './modules/groupnorm';
export type { FactoryOptions } from './modules/linear';
export { Bilinear, Identity, Linear } from './modules/linear';
export {
  BCELoss,
  BCEWithLogitsLoss,
  CrossEntropyLoss,
  HuberLoss,
  KLDivLoss,
  L1Loss,
  MSELoss,
  NLLLoss,
  SmoothL1Loss,
} from './modules/loss';
export type { LoadResult, StateDict } from './modules/module';
export { Module } from './modules/module';
export { LayerNorm } from './modules/normalization';
export type { AvgPool2dOptions, AvgPoolOptions, MaxPoolOptions, UpsampleOptions } from './modules/pooling';
export {
  AdaptiveAvgPool1d,
  AdaptiveAvgPool2d,
  AvgPool1d,
  AvgPool2d,
  MaxPool1d,
  MaxPool2d,
  Upsample,
} from './modules/pooling';
export type { GRUOptions, LSTMOptions, RNNBaseOptions, RNNCellOptions, RNNOptions, RNNSizes } from './modules/rnn';
export { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, RNNCellBase, SingleStateRNN } from './modules/rnn';
export { Embedding } from './modules/sparse';
export type { TransformerForwardOptions, TransformerOptions } from './modules/transformer';
export { Transformer } from './modules/transformer';
export type {
  TransformerActivation,
  TransformerDecoderForwardOptions,
  TransformerEncoderLayerForwardOptions,
  TransformerLayerOptions,
} from './modules/transformer_layer';
export { TransformerDecoderLayer, TransformerEncoderLayer } from './modules/transformer_layer';
export type {
  DecoderLayerLike,
  EncoderLayerLike,
  TransformerDecoderOptions,
  TransformerEncoderForwardOptions,
  TransformerEncoderOptions,
} from './modules/transformer_stack';
export { TransformerDecoder, TransformerEncoder } from './modules/transformer_stack';
export * as parallel from './parallel';
export { Parameter } from './parameter';
export * as utils from './utils';
