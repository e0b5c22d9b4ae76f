/**
 * Picks a matmul kernel variant per adapter and shape class. Placeholder policy: a fixed default
 * (overridable for tests); the measured autotune lives below once written.
 */
import type { Device } from './device';
import { MATMUL_VARIANTS, type MatmulProblem, type MatmulTile } from '../wgsl/matmul';

export interface MatmulConfig {
  /** Force one variant (a key of MATMUL_VARIANTS) for every matmul; null = choose automatically. */
  variant: string | null;
  /** Measure variants on first use of each shape class (per adapter). */
  autotune: boolean;
}

const config: MatmulConfig = { variant: null, autotune: true };

/** Sets matmul kernel selection options (e.g. force a variant in tests); returns the previous ones. */
export function configureMatmul(options: Partial<MatmulConfig>): MatmulConfig {
  const prev = { ...config };
  if (options.variant !== undefined && options.variant !== null && !(options.variant in MATMUL_VARIANTS)) {
    throw new Error(`configureMatmul: unknown variant '${options.variant}'; expected one of ${Object.keys(MATMUL_VARIANTS).join(', ')}`);
  }
  Object.assign(config, options);
  return prev;
}

export function chooseMatmulTile(_device: Device, _p: MatmulProblem): MatmulTile {
  if (config.variant) return MATMUL_VARIANTS[config.variant];
  return MATMUL_VARIANTS.reg4x4;
}
