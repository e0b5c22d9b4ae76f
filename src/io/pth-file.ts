/**
 * A file as a random-access {@link ByteSource} (fs.promises FileHandle), so checkpoints are read range
 * by range (`openPth`, `readPthStreaming`) instead of whole.
 */
import { open } from 'node:fs/promises';
import type { ByteSource } from '../formats/zip';
import { type OpenPthOptions, type PthReader, openPth } from '../formats/pth-stream';

/** A {@link ByteSource} over an open file; `close` releases the handle. */
export interface FileSource extends ByteSource {
  /** The file's path. */
  readonly path: string;
  /** Closes the file handle (later reads fail). */
  close(): Promise<void>;
}

/**
 * Opens `path` for random-access reads. Each `read` allocates exactly the bytes asked for (a fresh
 * ArrayBuffer, so typed arrays can view it without a copy) and fails if the file is shorter than it was.
 */
export async function openFileSource(path: string): Promise<FileSource> {
  const fh = await open(path, 'r');
  let size: number;
  try {
    size = (await fh.stat()).size;
  } catch (e) {
    await fh.close();
    throw e;
  }
  return {
    path,
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size)
        throw new RangeError(`${path}: read of ${length} bytes at ${offset} runs past the end of the file (${size} bytes)`);
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        // FileHandle.read reads at most 2 GiB at once
        const { bytesRead } = await fh.read(out, done, Math.min(length - done, 2 ** 30), offset + done);
        if (bytesRead === 0) throw new RangeError(`${path}: the file ended after ${offset + done} bytes; expected ${size} (was it truncated while reading?)`);
        done += bytesRead;
      }
      return out;
    },
    close: () => fh.close(),
  };
}

/**
 * Runs `fn` with a checkpoint file opened for streaming ({@link openPth} over {@link openFileSource}),
 * closing the file afterwards.
 *
 * @example
 * ```ts
 * import { init, savePth, tensor, withPthFile } from '@webgrad/core/node';
 * await init();
 * await savePth('/tmp/model.pth', { fc: { weight: tensor([[1, 2]]), bias: tensor([0]) } });
 * const names = await withPthFile('/tmp/model.pth', async (pth) => pth.tensors.map((t) => t.name));
 * console.log(names); // ['fc.weight', 'fc.bias']
 * ```
 */
export async function withPthFile<T>(path: string, fn: (pth: PthReader) => Promise<T>, options: OpenPthOptions = {}): Promise<T> {
  const source = await openFileSource(path);
  try {
    return await fn(await openPth(source, options));
  } finally {
    await source.close();
  }
}
