import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Trained checkpoints shipped with the bench app (apps/bench/checkpoints/<name>/), in the tfjs
 * weights format: `model.json` holds a `weightsManifest` (as tfjs `model.save` writes) plus our
 * `meta` (architecture, the command and seed that trained it, final metrics), `weights.bin` the
 * float32 data. One loader for every suite (lm, flow, digits-gen).
 */
export const checkpointsDir =
  [
    fileURLToPath(new URL('../checkpoints/', import.meta.url)),
    resolve(process.cwd(), 'apps/bench/checkpoints'),
    resolve(dirname(process.argv[1] ?? '.'), '../apps/bench/checkpoints'),
  ].find((d) => existsSync(d)) ?? fileURLToPath(new URL('../checkpoints/', import.meta.url));

/** What a checkpoint's `model.json` records beside the weights. */
export interface CheckpointMeta {
  /** The command that produced it, e.g. `npm run bench -- --suite flow --train`. */
  command: string;
  seed: number;
  /** Free-form description of the architecture and training (widths, steps, optimizer...). */
  [key: string]: unknown;
}

/** A loaded checkpoint: named tensors (the caller owns and disposes them) and the meta data. */
export interface Checkpoint {
  tensors: tf.NamedTensorMap;
  meta: CheckpointMeta;
}

/** The folder of checkpoint `name` (a path under apps/bench/checkpoints, e.g. `flow/checkerboard-single`). */
export function checkpointPath(name: string): string {
  if (!/^[a-z0-9][a-z0-9._/-]*$/i.test(name) || name.includes('..')) {
    throw new Error(
      `checkpoint name must be a relative path of letters, digits, '.', '_', '-', '/', got ${JSON.stringify(name)}`,
    );
  }
  return join(checkpointsDir, name);
}

/** True when checkpoint `name` has been shipped (its model.json exists). */
export function hasCheckpoint(name: string): boolean {
  return existsSync(join(checkpointPath(name), 'model.json'));
}

/** Writes named tensors and meta data as checkpoint `name` (or into `dir` when given). */
export async function saveCheckpoint(
  name: string,
  tensors: tf.NamedTensorMap,
  meta: CheckpointMeta,
  dir?: string,
): Promise<string> {
  const folder = dir ?? checkpointPath(name);
  mkdirSync(folder, { recursive: true });
  const float32: tf.NamedTensorMap = {};
  for (const [k, t] of Object.entries(tensors)) float32[k] = t.dtype === 'float32' ? t : tf.cast(t, 'float32');
  const { data, specs } = await tf.io.encodeWeights(float32);
  for (const [k, t] of Object.entries(float32)) if (t !== tensors[k]) t.dispose();
  writeFileSync(join(folder, 'weights.bin'), new Uint8Array(data));
  const modelJson = {
    format: 'blockwise-checkpoint',
    meta,
    weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
  };
  writeFileSync(join(folder, 'model.json'), JSON.stringify(modelJson, null, 1) + '\n');
  return folder;
}

/** Reads checkpoint `name` (or the one in `dir`); throws naming the file when it is missing or malformed. */
export function loadCheckpoint(name: string, dir?: string): Checkpoint {
  const folder = dir ?? checkpointPath(name);
  const jsonPath = join(folder, 'model.json');
  if (!existsSync(jsonPath))
    throw new Error(`checkpoint ${JSON.stringify(name)} not found: ${jsonPath} does not exist`);
  let parsed: { meta?: CheckpointMeta; weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[] };
  try {
    parsed = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    throw new Error(`checkpoint ${jsonPath}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const group = parsed.weightsManifest?.[0];
  if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights) || !parsed.meta) {
    throw new Error(`checkpoint ${jsonPath}: expected "meta" and "weightsManifest" with paths and weights`);
  }
  const buffers = group.paths.map((p) => readFileSync(join(folder, p)));
  const total = buffers.reduce((s, b) => s + b.byteLength, 0);
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) {
    bytes.set(b, off);
    off += b.byteLength;
  }
  const expected = group.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
  if (expected !== total)
    throw new Error(`checkpoint ${jsonPath}: weights hold ${total} bytes, the manifest describes ${expected}`);
  const tensors = tf.io.decodeWeights(bytes.buffer, group.weights);
  return { tensors, meta: parsed.meta };
}
