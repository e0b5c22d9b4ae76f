/**
 * `npm run demo:web`: serves the background-removal page (examples/web/) on 127.0.0.1 with webgrad's
 * browser build (dist/, rebuilt with tsup when older than src/) and the pretrained U²-NetP weights from
 * the local cache the CLI fills (src/sod/node/pretrained.ts). The page loads nothing from anywhere else.
 *   npm run demo:web               # http://127.0.0.1:8320/
 *   npm run demo:web -- --port 0   # any free port
 */
import { createServer, type Server } from 'node:http';
import { spawnSync } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pretrainedU2netp } from '../../src/sod/node/pretrained';
import { distIsCurrent } from '../../scripts/dist-current';

const root = fileURLToPath(new URL('../../', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
};
/** The browser-safe entry points (dist/node.js and the CLI are Node-only and not served). */
const DIST_ENTRIES = ['index.js', 'models.js', 'sod.js', 'formats.js'];

/** Builds dist/ with tsup when an entry is missing or older than src/. */
export function ensureDist(log: (line: string) => void = () => {}): void {
  if (distIsCurrent(root, DIST_ENTRIES)) return;
  log('building dist/ (tsup)…');
  const r = spawnSync(process.execPath, [join(root, 'node_modules/tsup/dist/cli-default.js')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`demo:web: tsup failed (exit ${r.status ?? r.signal})`);
}

/** A path under `base` for the URL path `rel`, or null when it would leave it. */
function inside(base: string, rel: string): string | null {
  const p = normalize(join(base, decodeURIComponent(rel)));
  return p.startsWith(base.endsWith(sep) ? base : base + sep) ? p : null;
}

export interface DemoServer {
  server: Server;
  url: string;
  weightsPath: string;
}

/** Starts the demo server: `/` the page, `/dist/*` the build, `/weights/u2netp.safetensors` the cached weights. */
export async function startDemoServer({ port = 8320, host = '127.0.0.1', log = (_: string) => {} } = {}): Promise<DemoServer> {
  ensureDist(log);
  const weightsPath = await pretrainedU2netp({ log });
  const web = join(root, 'examples/web'),
    dist = join(root, 'dist');
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    let file: string | null = null;
    if (path === '/') file = join(web, 'index.html');
    else if (path === '/weights/u2netp.safetensors') file = weightsPath;
    else if (path.startsWith('/dist/') && /\.js(\.map)?$/.test(path) && !/^\/dist\/(node|cli|decode-worker)\./.test(path)) file = inside(dist, path.slice(6));
    else if (/\.(js|css|html)$/.test(path) && !path.endsWith('.ts')) file = inside(web, path.slice(1));
    let size = -1;
    try {
      if (file) size = statSync(file).isFile() ? statSync(file).size : -1;
    } catch {
      /* 404 below */
    }
    if (!file || size < 0) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': size, 'cache-control': 'no-cache' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = (server.address() as { port: number }).port;
  return { server, url: `http://${host}:${actual}/`, weightsPath };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 8320;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`demo:web: --port must be an integer 0..65535; got ${process.argv[i + 1]}`);
    process.exit(2);
  }
  try {
    const { url, weightsPath } = await startDemoServer({ port, log: (l) => console.error(l) });
    console.error(`weights: ${weightsPath}`);
    console.log(`webgrad background removal: open ${url} (Ctrl+C stops)`);
  } catch (e) {
    console.error(`demo:web: ${(e as Error).message.split('\n')[0]}`);
    process.exit(2);
  }
}
