/**
 * Evaluates folders of saved prediction maps against a folder of ground-truth masks, as the SOD
 * toolboxes do: files are paired by stem (name without extension), read as 8-bit grey (colour
 * images converted with the ITU-R BT.601 weights, as OpenCV's IMREAD_GRAYSCALE), and scored with
 * the reference normalisation (truth > 128; prediction / 255, min-max normalised).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { decodeImage } from '../../io/images';
import { SodEvaluator, type SodEvaluation, type SodEvaluatorOptions } from '../evaluate';

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);

/** One method's result: its numbers and the files that found no partner. */
export interface SodFolderEvaluation {
  /** The name of the method (the folder's name by default). */
  name: string;
  /** The folder of predictions. */
  dir: string;
  /** The scores. */
  evaluation: SodEvaluation;
  /** ground-truth stems with no prediction */
  missing: string[];
  /** prediction stems with no ground truth */
  extra: string[];
}

/** Image files of a folder by stem (a stem seen twice, e.g. a.png and a.jpg, is an error). */
export function imagesByStem(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir).sort()) {
    const ext = extname(f).toLowerCase();
    if (!IMAGE_EXT.has(ext) || f.startsWith('.')) continue;
    const stem = f.slice(0, -ext.length);
    if (out.has(stem))
      throw new Error(`evaluateSodFolders: '${dir}' has two images named '${stem}' (${basename(out.get(stem)!)} and ${f}); expected one per stem`);
    out.set(stem, join(dir, f));
  }
  return out;
}

/** An image file as 8-bit grey: the one channel, or round(0.299 R + 0.587 G + 0.114 B). */
export function readGrey(path: string): { grey: Uint8Array; width: number; height: number } {
  const img = decodeImage(readFileSync(path), path);
  const n = img.width * img.height,
    grey = new Uint8Array(n),
    d = img.data;
  const isGrey = img.channels <= 2;
  for (let i = 0; i < n; i++) grey[i] = isGrey ? d[4 * i] : Math.round(0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2]);
  return { grey, width: img.width, height: img.height };
}

/** Scores one folder of predictions against the ground truths (a map from stem to file). */
export function evaluateSodFolder(predDir: string, gts: Map<string, string>, options: SodEvaluatorOptions & { name?: string } = {}): SodFolderEvaluation {
  const preds = imagesByStem(predDir);
  const ev = new SodEvaluator({ range: 'uint8', ...options });
  const missing: string[] = [];
  for (const [stem, gtPath] of gts) {
    const predPath = preds.get(stem);
    if (!predPath) {
      missing.push(stem);
      continue;
    }
    const g = readGrey(gtPath),
      p = readGrey(predPath);
    if (g.width !== p.width || g.height !== p.height)
      throw new Error(
        `evaluateSodFolder: ${predPath} is ${p.width}×${p.height} but its ground truth ${gtPath} is ${g.width}×${g.height}; expected the same size`,
      );
    ev.add(p.grey, g.grey, g.height, g.width);
  }
  const extra = [...preds.keys()].filter((s) => !gts.has(s));
  if (ev.images === 0)
    throw new Error(`evaluateSodFolder: no prediction in '${predDir}' matches a ground truth by name (${preds.size} predictions, ${gts.size} ground truths)`);
  return { name: options.name ?? (basename(predDir.replace(/[/\\]+$/, '')) || predDir), dir: predDir, evaluation: ev.result(), missing, extra };
}

/** Scores several prediction folders (methods) against one ground-truth folder. */
export function evaluateSodFolders(predDirs: string[], gtDir: string, options: SodEvaluatorOptions = {}): SodFolderEvaluation[] {
  const gts = imagesByStem(gtDir);
  if (gts.size === 0) throw new Error(`evaluateSodFolders: no PNG or JPEG images in '${gtDir}'`);
  const names = uniqueNames(predDirs);
  return predDirs.map((d, i) => evaluateSodFolder(d, gts, { ...options, name: names[i] }));
}

/** Method names from folder names, made unique with the parent folder when two share a name. */
function uniqueNames(dirs: string[]): string[] {
  const base = dirs.map((d) => basename(d.replace(/[/\\]+$/, '')) || d);
  return base.map((b, i) => (base.filter((x) => x === b).length > 1 ? `${basename(join(dirs[i], '..'))}/${b}` : b));
}
