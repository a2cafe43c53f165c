import { describe } from './matrix.js';

/** Geometry of a channels-last 2-D convolution, as needed to turn its input into patch rows. */
export interface ConvGeometry {
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padding: 'same' | 'valid';
}

/** Reads the geometry from a tfjs Conv2D layer's config; throws for what is not supported. @internal */
export function convGeometry(config: Record<string, unknown>, name: string): ConvGeometry {
  const pair = (v: unknown, what: string): [number, number] => {
    const a = typeof v === 'number' ? [v, v] : Array.isArray(v) ? v : null;
    if (!a || a.length !== 2 || !a.every((e) => Number.isInteger(e) && e >= 1))
      throw new Error(`layers: Conv2D '${name}' has an unsupported ${what} ${describe(v)}`);
    return [a[0]!, a[1]!];
  };
  const [kh, kw] = pair(config.kernelSize, 'kernelSize');
  const [strideH, strideW] = pair(config.strides ?? 1, 'strides');
  const [dilationH, dilationW] = pair(config.dilationRate ?? 1, 'dilationRate');
  const padding = config.padding ?? 'valid';
  if (padding !== 'same' && padding !== 'valid')
    throw new Error(`layers: Conv2D '${name}' has padding ${describe(padding)}; only 'same' and 'valid' are supported`);
  const fmt = config.dataFormat ?? 'channelsLast';
  if (fmt !== 'channelsLast')
    throw new Error(`layers: Conv2D '${name}' uses dataFormat ${describe(fmt)}; only 'channelsLast' is supported`);
  return { kh, kw, strideH, strideW, dilationH, dilationW, padding };
}

/** Output height and width of a convolution over an `h x w` input. */
export function convOutputSize(h: number, w: number, g: ConvGeometry): [number, number] {
  if (g.padding === 'same') return [Math.ceil(h / g.strideH), Math.ceil(w / g.strideW)];
  const eh = (g.kh - 1) * g.dilationH + 1;
  const ew = (g.kw - 1) * g.dilationW + 1;
  return [Math.max(0, Math.ceil((h - eh + 1) / g.strideH)), Math.max(0, Math.ceil((w - ew + 1) / g.strideW))];
}

/**
 * im2col: the patches a convolution multiplies with its kernel, one row per output position, each
 * row ordered (dy, dx, c) like a tfjs Conv2D kernel `[kh, kw, cin, cout]` flattened to
 * `[kh * kw * cin, cout]`. So `patches @ kernel` equals the convolution (before bias). Zero padding
 * follows TensorFlow's 'same' rule (the extra row or column goes to the bottom or right).
 */
export function im2col(
  x: Float32Array,
  shape: [number, number, number, number],
  g: ConvGeometry,
): { data: Float32Array; rows: number; outH: number; outW: number } {
  const [n, h, w, c] = shape;
  if (x.length !== n * h * w * c)
    throw new Error(`im2col: x must hold n * h * w * c = ${n * h * w * c} values, got ${x.length}`);
  const [outH, outW] = convOutputSize(h, w, g);
  const eh = (g.kh - 1) * g.dilationH + 1;
  const ew = (g.kw - 1) * g.dilationW + 1;
  const top = g.padding === 'same' ? Math.floor(Math.max(0, (outH - 1) * g.strideH + eh - h) / 2) : 0;
  const left = g.padding === 'same' ? Math.floor(Math.max(0, (outW - 1) * g.strideW + ew - w) / 2) : 0;
  const cols = g.kh * g.kw * c;
  const rows = n * outH * outW;
  const out = new Float32Array(rows * cols);
  let r = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++, r++) {
        let o = r * cols;
        for (let dy = 0; dy < g.kh; dy++) {
          const iy = oy * g.strideH + dy * g.dilationH - top;
          for (let dx = 0; dx < g.kw; dx++, o += c) {
            const ix = ox * g.strideW + dx * g.dilationW - left;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const src = ((b * h + iy) * w + ix) * c;
            for (let k = 0; k < c; k++) out[o + k] = x[src + k]!;
          }
        }
      }
    }
  }
  return { data: out, rows, outH, outW };
}
