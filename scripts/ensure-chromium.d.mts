/** Types for scripts/ensure-chromium.mjs (imported by its test). */
export function findChromium(env?: Record<string, string | undefined>, exists?: (path: string) => boolean): string | null;
export function whenMissing(o?: { env?: Record<string, string | undefined>; platform?: string; osRelease?: string; uid?: number }): {
  install?: string[];
  help?: string;
};
export const HELP: string;
