/** Optimizers (PyTorch's `torch.optim`). */

export type { AdagradOptions } from './adagrad';
export { Adagrad } from './adagrad';
export type { AdamOptions } from './adam';
export { Adam, AdamW } from './adam';
export * as lrScheduler from './lr_scheduler';
export type { OptimizerStateDict, ParamGroup, ParamState, ParamsArg, StateValue } from './optimizer';
export { Optimizer } from './optimizer';
export type { RMSpropOptions } from './rmsprop';
export { RMSprop } from './rmsprop';
export type { SGDOptions } from './sgd';
export { SGD } from './sgd';
