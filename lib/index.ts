/**
 * torch-napi: PyTorch for Node.js and TypeScript, over libtorch through Node-API.
 *
 * @example
 * import * as torch from 'torch-napi';
 * const x = torch.randn(3, 4, { requiresGrad: true });
 * x.mul(2).sum().backward();
 */

export { enableGrad, isGradEnabled, noGrad, setGradEnabled } from './autograd';
export type { LstmKernel, RnnSelfCheck } from './backends';
export { backends } from './backends';
export * from './creation';
export type { Device } from './device';
export type { DType } from './dtype';
export {
  bfloat16,
  bool,
  double,
  float,
  float16,
  float32,
  float64,
  half,
  int,
  int8,
  int16,
  int32,
  int64,
  long,
  short,
  uint8,
} from './dtype';
export { TorchError } from './errors';
export * from './generated/torch';
export type { DecodeStepOutput, GenerateOptions, GenerateOutput, GenerationModel } from './generation';
export { generate, generateAsync, reorderTensors } from './generation';
export * as jit from './jit';
export { dispose, keep, memory, tidy } from './memory';
export * as nn from './nn';
export type { AsyncOp } from './ops';
export * from './ops';

import './tensor_methods';

export * as distributed from './distributed';
export { defaultGenerator, Generator } from './generator';
export type { OpNamespace, OpOverload, OpPacket } from './ops_namespace';
export { ops } from './ops_namespace';
// torch functions PyTorch writes in Python; by name, so they win over the generated ones of the same name
export type {
  CdistComputeMode,
  NormOptions,
  StftOptions,
  UniqueConsecutiveOptions,
  UniqueOptions,
} from './ops_python';
export {
  atleast1d,
  atleast2d,
  atleast3d,
  blockDiag,
  broadcastShapes,
  broadcastTensors,
  cartesianProd,
  cdist,
  chainMatmul,
  einsum,
  lu,
  meshgrid,
  nonzero,
  norm,
  split,
  stft,
  tensordot,
  unique,
  uniqueConsecutive,
} from './ops_python';
export * as optim from './optim';
export { profiler } from './profiler';
export type { Config } from './runtime';
export { config, cuda, getNumThreads, libtorchVersion, manualSeed, setNumThreads, version } from './runtime';
export type { CheckpointValue, LoadOptions as CheckpointLoadOptions } from './serialization';
export { load, loadAsync, loadSafetensors, save, saveAsync, saveSafetensors } from './serialization';
export type { BackwardOptions, IndexItem, NestedArray, Scalar, TensorOrScalar, TypedArray } from './tensor';
export { isTensor, Tensor } from './tensor';
export * as text from './text';
export * as utils from './utils';
export * as viz from './viz';
