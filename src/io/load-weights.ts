/**
 * Initial weights from a file for a model's (params, state) pair: safetensors (webgrad's own, a
 * training checkpoint's `params.`/`state.` entries, or plain state_dict keys) or a PyTorch .pth.
 * Keys must match the model's dotted paths, which equal PyTorch's state_dict keys.
 */
import { loadSafetensors } from './files';
import { withPthFile } from './pth-file';
import { loadStateDict } from '../formats/load-state';
import type { HostTensor } from '../formats/host-tensor';
import * as tree from '../tensor/tree';

/**
 * Reads a state_dict from a `.safetensors` or `.pth` file as host tensors by name; unwraps `state_dict`
 * wrappers, training checkpoints and DataParallel `module.` prefixes.
 */
export async function readStateDict(path: string): Promise<Record<string, HostTensor>> {
  if (/\.safetensors$/i.test(path)) {
    const { tensors } = await loadSafetensors(path);
    const keys = Object.keys(tensors);
    // a training checkpoint: keep its parameters and model state under their plain names
    if (keys.some((k) => k.startsWith('params.'))) {
      const out: Record<string, HostTensor> = {};
      for (const k of keys) if (k.startsWith('params.') || k.startsWith('state.')) out[k.slice(k.indexOf('.') + 1)] = tensors[k];
      return out;
    }
    return tensors;
  }
  // streamed tensor by tensor (openPth over a file handle): the file's bytes are never held next to the tensors
  const flat = await withPthFile(path, async (pth) => {
    // torch.save(model.state_dict()) or a dict holding one (e.g. {'state_dict': …} or {'model_state_dict': …}):
    // only the state_dict's tensors are read (a training checkpoint's optimizer state stays on disk)
    const names = pth.tensors.map((t) => t.name);
    const wrapper = ['state_dict', 'model_state_dict'].find((w) => names.some((k) => k.startsWith(`${w}.`)));
    const out: Record<string, HostTensor> = {};
    for (const k of names)
      if (!wrapper || k.startsWith(`${wrapper}.`))
        Object.defineProperty(out, wrapper ? k.slice(wrapper.length + 1) : k, {
          value: await pth.read(k),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    return out;
  });
  // checkpoints saved from nn.DataParallel prefix every key with 'module.'
  return Object.fromEntries(Object.entries(flat).map(([k, v]) => [k.replace(/^module\./, ''), v]));
}

/**
 * Loads a weights file into a model's parameters and state (e.g. pretrained weights before fine-tuning); with
 * `strict` (default) a missing or unexpected key is an error.
 */
export async function loadInitialWeights<P, S>(
  path: string,
  params: P,
  state: S,
  { strict = true } = {},
): Promise<{ params: P; state: S; missing: string[]; unexpected: string[] }> {
  const sd = await readStateDict(path);
  const p = loadStateDict(params, sd, { strict: false });
  const s = loadStateDict(state, sd, { strict: false });
  const unexpected = p.unexpected.filter((k) => s.unexpected.includes(k));
  // older checkpoints have no BatchNorm batch counters; they only matter for momentum=None
  const missing = [...p.missing, ...s.missing].filter((k) => !k.endsWith('num_batches_tracked'));
  const mismatch = [...p.shapeMismatch, ...s.shapeMismatch];
  if (strict && (missing.length || unexpected.length || mismatch.length)) {
    const lines = [
      ...missing.slice(0, 10).map((k) => `  missing: ${k}`),
      ...unexpected.slice(0, 10).map((k) => `  unexpected: ${k}`),
      ...mismatch.slice(0, 10).map((m) => `  shape of ${m.key}: file [${m.got.join(', ')}], model [${m.expected.join(', ')}]`),
    ];
    disposeReplaced([params, state], [p.params, s.params], true);
    throw new Error(
      `${path}: weights do not fit the model (${missing.length} missing, ${unexpected.length} unexpected, ${mismatch.length} of another shape):\n${lines.join('\n')}`,
    );
  }
  disposeReplaced([params, state], [p.params, s.params], false);
  return { params: p.params, state: s.params, missing, unexpected };
}

/** Frees the leaves that loading replaced (or, on failure, the new ones). */
function disposeReplaced(before: unknown, after: unknown, failed: boolean): void {
  const a = tree.tensors(before),
    b = tree.tensors(after);
  a.forEach((t, i) => {
    if (b[i] !== t) (failed ? b[i] : t).dispose();
  });
}
