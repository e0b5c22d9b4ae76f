/** PRNG keys live on the ground floor (src/base/random.ts, host-only code the kernels' references use too); re-exported here for existing importers. */
export * from '../base/random';
