import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes 8-bit grayscale pixels (row-major, width x height) as a PNG file. */
export function encodeGrayPng(gray: Uint8Array, width: number, height: number): Uint8Array {
  if (gray.length !== width * height) {
    throw new Error(`encodeGrayPng: ${gray.length} pixels do not fill ${width}x${height}`);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(gray.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  const parts = [
    Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', new Uint8Array(deflateSync(raw))),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Lays out `count` images of width x height (values in [0, 1]) in a grid of `cols` columns with
 * a 1-pixel gap, each pixel scaled up `scale` times, as 8-bit grayscale.
 */
export function imageGrid(
  pixels: Float32Array,
  width: number,
  height: number,
  cols = 10,
  scale = 4,
): { gray: Uint8Array; width: number; height: number } {
  const per = width * height;
  if (per === 0 || pixels.length % per !== 0) {
    throw new Error(`imageGrid: ${pixels.length} values are not a whole number of ${width}x${height} images`);
  }
  const count = pixels.length / per;
  const c = Math.min(cols, count);
  const rows = Math.ceil(count / c);
  const cw = width * scale + 1;
  const ch = height * scale + 1;
  const W = c * cw + 1;
  const H = rows * ch + 1;
  const gray = new Uint8Array(W * H).fill(128);
  for (let k = 0; k < count; k++) {
    const ox = (k % c) * cw + 1;
    const oy = Math.floor(k / c) * ch + 1;
    for (let y = 0; y < height * scale; y++) {
      for (let x = 0; x < width * scale; x++) {
        const v = pixels[k * per + Math.floor(y / scale) * width + Math.floor(x / scale)]!;
        const g = Number.isFinite(v) ? Math.round(255 * Math.min(1, Math.max(0, v))) : 0;
        gray[(oy + y) * W + ox + x] = g;
      }
    }
  }
  return { gray, width: W, height: H };
}
