import type { LayersModel } from '@tensorflow/tfjs-layers';
import { describe } from './matrix.js';
import type { PruningMasks } from './report.js';

/** One layer's entry in {@link encodeMasks}' spec: where its bits start in the buffer. */
export interface MaskEntrySpec {
  name: string;
  shape: [number, number];
  /** Bit offset of the first weight in the buffer (bits are LSB-first within each byte). */
  bitOffset: number;
}

const FORMAT = 'blockwise-pruning-masks';
const METADATA_KEY = 'blockwisePruningMasks';

/** Packs masks into one bit buffer (1 bit per weight) plus a JSON-able spec, to store next to tf model artifacts. */
export function encodeMasks(masks: PruningMasks): { spec: MaskEntrySpec[]; data: ArrayBuffer } {
  checkMasks(masks, 'encodeMasks');
  const spec: MaskEntrySpec[] = [];
  let bits = 0;
  for (const [name, m] of Object.entries(masks)) {
    spec.push({ name, shape: [m.shape[0], m.shape[1]], bitOffset: bits });
    bits += m.mask.length;
  }
  const bytes = new Uint8Array(Math.ceil(bits / 8));
  spec.forEach((e) => {
    const m = masks[e.name]!.mask;
    for (let i = 0; i < m.length; i++) {
      if (!m[i]) continue;
      const k = (e.bitOffset + i) >> 3;
      bytes[k] = bytes[k]! | (1 << ((e.bitOffset + i) & 7));
    }
  });
  return { spec, data: bytes.buffer };
}

/**
 * Inverse of {@link encodeMasks}. Validates the spec against the layout `encodeMasks` writes
 * (layers back to back from bit 0), so a damaged spec throws instead of decoding a shifted mask.
 */
export function decodeMasks(spec: MaskEntrySpec[], data: ArrayBuffer): PruningMasks {
  if (!Array.isArray(spec)) throw new Error(`decodeMasks: spec must be an array, got ${describe(spec)}`);
  if (!(data instanceof ArrayBuffer))
    throw new Error(`decodeMasks: data must be an ArrayBuffer, got ${describe(data)}`);
  const bytes = new Uint8Array(data);
  const out: PruningMasks = {};
  let bits = 0;
  spec.forEach((e, k) => {
    const where = `decodeMasks: spec[${k}]`;
    if (e === null || typeof e !== 'object')
      throw new Error(`${where} must be { name, shape, bitOffset }, got ${describe(e)}`);
    if (typeof e.name !== 'string' || e.name === '')
      throw new Error(`${where}.name must be a non-empty string, got ${describe(e.name)}`);
    if (Object.prototype.hasOwnProperty.call(out, e.name)) throw new Error(`${where}.name '${e.name}' appears twice`);
    if (!Array.isArray(e.shape) || e.shape.length !== 2)
      throw new Error(`${where}.shape (layer '${e.name}') must be [inDim, outDim], got ${describe(e.shape)}`);
    const [a, b] = e.shape;
    if (!Number.isInteger(a) || !Number.isInteger(b) || a <= 0 || b <= 0)
      throw new Error(
        `${where}.shape (layer '${e.name}') must hold two positive integers, got [${e.shape.map(describe).join(', ')}]`,
      );
    if (e.bitOffset !== bits)
      throw new Error(
        `${where}.bitOffset (layer '${e.name}') must be ${bits} (the layers' bits lie back to back from 0), got ${describe(e.bitOffset)}`,
      );
    const n = a * b;
    if (Math.ceil((bits + n) / 8) > bytes.length)
      throw new Error(
        `decodeMasks: the buffer holds ${bytes.length} bytes, too few for layer '${e.name}' (bits ${bits}..${bits + n})`,
      );
    const m = new Uint8Array(n);
    for (let i = 0; i < n; i++) m[i] = (bytes[(bits + i) >> 3]! >> ((bits + i) & 7)) & 1;
    out[e.name] = { shape: [a, b], mask: m };
    bits += n;
  });
  if (bytes.length !== Math.ceil(bits / 8))
    throw new Error(
      `decodeMasks: the buffer holds ${bytes.length} bytes, the spec's ${bits} bits need exactly ${Math.ceil(bits / 8)}`,
    );
  return out;
}

/** Masks as a JSON string (bits base64-encoded). */
export function masksToJSON(masks: PruningMasks): string {
  const { spec, data } = encodeMasks(masks);
  return JSON.stringify({ format: FORMAT, version: 1, layers: spec, bits: toBase64(new Uint8Array(data)) });
}

/** Inverse of {@link masksToJSON}. Throws on anything that is not such a string. */
export function masksFromJSON(json: string): PruningMasks {
  if (typeof json !== 'string') throw new Error(`masksFromJSON: json must be a string, got ${describe(json)}`);
  let o: unknown;
  try {
    o = JSON.parse(json);
  } catch (e) {
    throw new Error(`masksFromJSON: not JSON (${(e as Error).message})`, { cause: e });
  }
  return fromObject(o, 'masksFromJSON');
}

/**
 * Stores the masks in the model's user-defined metadata, so `model.save(...)` writes them into
 * model.json and `tf.loadLayersModel` brings them back (read them with {@link masksFromModel}).
 */
export function attachMasks(model: LayersModel, masks: PruningMasks): void {
  checkModel(model, 'attachMasks');
  const meta = { ...((model.getUserDefinedMetadata() as Record<string, unknown> | undefined) ?? {}) };
  meta[METADATA_KEY] = JSON.parse(masksToJSON(masks));
  model.setUserDefinedMetadata(meta);
}

/** The masks stored with {@link attachMasks} (also after save and load), or null when there are none. */
export function masksFromModel(model: LayersModel): PruningMasks | null {
  checkModel(model, 'masksFromModel');
  const meta = model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
  if (!meta || meta[METADATA_KEY] === undefined) return null;
  return fromObject(meta[METADATA_KEY], 'masksFromModel');
}

function checkModel(model: LayersModel, fn: string): void {
  if (model === null || typeof model !== 'object' || typeof model.getUserDefinedMetadata !== 'function')
    throw new Error(`${fn}: model must be a tf.LayersModel, got ${describe(model)}`);
}

function fromObject(o: unknown, fn: string): PruningMasks {
  const r = o as { format?: unknown; layers?: unknown; bits?: unknown };
  if (!r || r.format !== FORMAT || !Array.isArray(r.layers) || typeof r.bits !== 'string') {
    throw new Error(`${fn}: expected an object with format '${FORMAT}', layers and bits`);
  }
  return decodeMasks(r.layers as MaskEntrySpec[], fromBase64(r.bits).buffer as ArrayBuffer);
}

/** @internal */
export function checkMasks(masks: PruningMasks, fn: string): void {
  if (masks === null || typeof masks !== 'object')
    throw new Error(`${fn}: masks must be an object of { shape, mask } by layer name, got ${describe(masks)}`);
  for (const [name, m] of Object.entries(masks)) {
    if (
      !m ||
      !(m.mask instanceof Uint8Array) ||
      !Array.isArray(m.shape) ||
      m.shape.length !== 2 ||
      !m.shape.every((d) => Number.isInteger(d) && d > 0) ||
      m.mask.length !== m.shape[0] * m.shape[1]
    ) {
      throw new Error(`${fn}: masks['${name}'] must be { shape: [inDim, outDim], mask: Uint8Array of inDim * outDim }`);
    }
    for (let i = 0; i < m.mask.length; i++)
      if (m.mask[i]! > 1)
        throw new Error(`${fn}: masks['${name}'].mask must hold only 0 and 1, got ${m.mask[i]} at index ${i}`);
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s +=
      B64[(n >> 18) & 63]! +
      B64[(n >> 12) & 63]! +
      (i + 1 < b.length ? B64[(n >> 6) & 63]! : '=') +
      (i + 2 < b.length ? B64[n & 63]! : '=');
  }
  return s;
}

function fromBase64(s: string): Uint8Array {
  if (s.length % 4 !== 0 || /[^A-Za-z0-9+/=]/.test(s)) throw new Error(`masks: bits must be base64`);
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    const n =
      (B64.indexOf(s[i]!) << 18) |
      (B64.indexOf(s[i + 1]!) << 12) |
      ((B64.indexOf(s[i + 2]!) & 63) << 6) |
      (B64.indexOf(s[i + 3]!) & 63);
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}
