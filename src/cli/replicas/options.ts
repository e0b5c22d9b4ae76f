/**
 * A replica module is imported by URL (worker threads import it on their own), so its settings travel in the URL's
 * query: `replicaUrl(new URL('./u2net.ts', import.meta.url), { lr: 1e-3 })` → `…/u2net.ts?o=%7B%22lr%22…`, and the
 * module reads them back with {@link replicaOptions}(import.meta.url, defaults). Each distinct query is its own
 * module instance, so two trainers with different settings do not share one.
 */

/** Plain JSON settings of a replica module. */
export type ReplicaOptions = Record<string, string | number | boolean | null | number[]>;

/** The module URL with `options` in its query. */
export function replicaUrl(module: URL, options: ReplicaOptions): URL {
  const url = new URL(module.href);
  url.searchParams.set('o', JSON.stringify(options));
  return url;
}

/** The settings in a module's own URL (`import.meta.url`) over `defaults`; a key that `defaults` lacks is refused. */
export function replicaOptions<T extends ReplicaOptions>(moduleUrl: string, defaults: T): T {
  const raw = new URL(moduleUrl).searchParams.get('o');
  const given = raw ? (JSON.parse(raw) as ReplicaOptions) : {};
  for (const k of Object.keys(given))
    if (!Object.hasOwn(defaults, k)) throw new Error(`replica ${moduleUrl.split('?')[0]}: unknown setting '${k}'; known: ${Object.keys(defaults).join(', ')}`);
  return { ...defaults, ...given } as T;
}

/**
 * The file a worker imports for a replica module: the module itself when running from TypeScript sources; in the
 * built package, where the CLI is one bundle (dist/cli.js), the replica's own entry beside it (tsup.config.ts builds
 * `dist/<built>.js` from src/cli/replicas/).
 */
export function moduleFile(here: string, built: string): URL {
  const url = new URL(here);
  url.search = '';
  return url.pathname.endsWith('.ts') ? url : new URL(`./${built}.js`, url);
}
