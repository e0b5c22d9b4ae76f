export { makeOptimizer, type Optimizer, type OptimizerState, type ParamGroup, type LearningRate, type UpdateOptions } from './optimizer';
export { sgd, adam, adamw, rmsprop, type SGDOptions, type AdamOptions, type RMSpropOptions } from './optimizers';
export { clipGradNorm, clipGradValue } from './clip';
