/** Chromium's command line for the headless WebGPU tests (test/smoke, test/web). */
// On lavapipe-only Linux (Chromium 14x, Debian) WebGPU needs only --enable-unsafe-webgpu; Chromium's Dawn then
// picks its bundled SwiftShader (Vulkan on the CPU), not lavapipe, whatever the Vulkan/ANGLE flags (ANGLE itself
// does use lavapipe). The rest keep the run headless, offline and reproducible.
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=native',
  '--use-angle=vulkan',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
