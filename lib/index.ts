/**
 * torch-napi: PyTorch for Node.js and TypeScript, over libtorch through Node-API.
 *
 * @example
 * import * as torch from 'torch-napi';
 * const x = torch.randn(3, 4, { requiresGrad: true });
 * x.mul(2).sum().backward();
 */
export { TorchError } from './errors';
export {
  float32,
  float,
  float64,
  double,
  float16,
  half,
  bfloat16,
  int64,
  long,
  int32,
  int,
  int16,
  short,
  int8,
  uint8,
  bool,
} from './dtype';
export type { DType } from './dtype';
export type { Device } from './device';
export { Tensor, isTensor } from './tensor';
export type { Scalar, TensorOrScalar, TypedArray, NestedArray, IndexItem } from './tensor';
export * from './creation';
export * from './ops';
export { tidy, keep, dispose, memory } from './memory';
export { noGrad, enableGrad, isGradEnabled, setGradEnabled } from './autograd';
export { version, libtorchVersion, config, getNumThreads, setNumThreads, manualSeed, cuda } from './runtime';
export type { Config } from './runtime';
export { backends } from './backends';
export type { LstmKernel, RnnSelfCheck } from './backends';
export { profiler } from './profiler';
export * as nn from './nn';
export * as optim from './optim';
export * as viz from './viz';
export { save, load, saveAsync, loadAsync, saveSafetensors, loadSafetensors } from './serialization';
export type { CheckpointValue, LoadOptions as CheckpointLoadOptions } from './serialization';
export type { AsyncOp } from './ops';
export type { BackwardOptions } from './tensor';
export * as jit from './jit';
