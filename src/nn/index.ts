/** Layers (`nn.*`), initialisers (`nn.init.*`) and losses. */
export { sequential, lambda } from './module';
export { linear, type LinearConfig } from './linear';
export { conv2d, convTranspose2d, type Conv2dConfig, type ConvTranspose2dConfig } from './conv';
export { batchNorm2d, layerNorm, groupNorm, type BatchNormConfig } from './norm';
export { dropoutLayer as dropout } from './dropout-layer';
/** Weight initialisers with torch.nn.init's formulas (uniform, normal, kaiming*, xavier*, …). */
export * as init from './init';
