/** Optimizers (PyTorch's `torch.optim`). */
export { Optimizer } from './optimizer';
export type { ParamGroup, ParamsArg, ParamState, StateValue, OptimizerStateDict } from './optimizer';
export { SGD } from './sgd';
export type { SGDOptions } from './sgd';
export { Adam, AdamW } from './adam';
export type { AdamOptions } from './adam';
export { RMSprop } from './rmsprop';
export type { RMSpropOptions } from './rmsprop';
export { Adagrad } from './adagrad';
export type { AdagradOptions } from './adagrad';
export * as lrScheduler from './lr_scheduler';
