import { defineConfig } from 'tsup';

// ESM only (package.json has no `require` condition): decode workers are found through
// import.meta.url and the CLI uses top-level await. CommonJS code can `await import('@webgrad/core/node')`.
// the package's entry points (package.json "exports"): built, and each with its type declarations
const ENTRY_POINTS = {
  index: 'src/index.ts',
  formats: 'src/formats.ts',
  models: 'src/models.ts',
  sod: 'src/sod.ts',
  detection: 'src/detection.ts',
  segmentation: 'src/segmentation.ts',
  parallel: 'src/parallel.ts',
  sam: 'src/sam.ts',
  node: 'src/node.ts',
};

export default defineConfig({
  entry: {
    ...ENTRY_POINTS,
    'decode-worker': 'src/io/decode-worker.ts',
    // the CLIs' data-parallel replicas: worker threads import them by URL (src/cli/replicas/options.ts)
    'replica-u2net': 'src/cli/replicas/u2net.ts',
    'replica-resnet': 'src/cli/replicas/resnet.ts',
    // dataParallel({ threads: true }): one worker per device (src/parallel/node/worker-ranks.ts finds it beside itself)
    'dp-worker': 'src/parallel/node/replica-worker.ts',
    // the `webgrad` command; esbuild keeps src/cli/bin.ts's shebang line
    cli: 'src/cli/bin.ts',
  },
  format: ['esm'],
  dts: { entry: ENTRY_POINTS },
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'node',
  // runtime dependencies stay imports; onnxruntime-node is optional (export-onnx --check)
  external: ['webgpu', 'pngjs', 'jpeg-js', 'onnxruntime-node'],
});
