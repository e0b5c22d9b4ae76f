/** In a browser without WebGPU the error names the browser's setting, never a driver package (apt-get is for Node and Deno on Linux). */
import { describe, it, expect, afterEach, vi } from 'vitest';
import { findGPU, registerGPUProvider, requestAdapter, GPUOpError } from '../../src/kernels/webgpu/device';

const reason = async (f: () => Promise<unknown>): Promise<Error> => {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error; none was thrown');
};

describe('no WebGPU in a browser', () => {
  const nodeGpu = findGPU(); // Dawn, registered by test/helpers/setup.ts
  afterEach(() => {
    vi.unstubAllGlobals();
    registerGPUProvider(() => nodeGpu);
  });

  /** A page: `document` exists, no runtime provider, `navigator` as given. */
  const page = (navigator: object) => {
    registerGPUProvider(() => undefined);
    vi.stubGlobal('document', {});
    vi.stubGlobal('navigator', { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0.0.0', ...navigator });
  };

  it('navigator.gpu missing: names the browser settings', async () => {
    page({});
    const e = await reason(() => requestAdapter());
    expect(e).toBeInstanceOf(GPUOpError);
    expect(e.message).toMatch(/navigator\.gpu is missing/);
    expect(e.message).toContain('chrome://flags/#enable-unsafe-webgpu');
    expect(e.message).toContain('dom.webgpu.enabled');
    expect(e.message).not.toMatch(/apt-get|lavapipe|webgrad\/node/);
  });

  it('navigator.gpu present but no adapter: names the browser settings, not apt-get', async () => {
    page({ gpu: { requestAdapter: async () => null } });
    const e = await reason(() => requestAdapter());
    expect(e).toBeInstanceOf(GPUOpError);
    expect(e.message).toMatch(/gave no adapter/);
    expect(e.message).toContain('chrome://flags/#enable-unsafe-webgpu');
    expect(e.message).toContain('chrome://gpu');
    expect(e.message).not.toMatch(/apt-get|lavapipe|mesa/i);
  });

  it('outside a browser (no document) the no-adapter help still says what to install', async () => {
    registerGPUProvider(() => ({ requestAdapter: async () => null }) as unknown as GPU);
    const e = await reason(() => requestAdapter());
    expect(e.message).toContain('apt-get');
    expect(e.message).not.toContain('chrome://flags');
  });
});
