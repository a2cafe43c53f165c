import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { createRng, getWebGPUAdapterInfo, initBackend, type BackendInfo } from '@blockwise/tensor';
import digitsCsv from 'virtual:digits-csv';
import { digitsSplit } from '../src/split.js';
import { trainDigits, checkAttention } from './demo.js';

/** What the page exposes for tests and curious users. */
export interface PageState {
  status: 'starting' | 'training' | 'done' | 'error';
  backend?: BackendInfo;
  losses: number[];
  lrs: number[];
  accuracy?: number;
  attention?: { maxError: number; sparsity: number; ms: number };
  error?: string;
}

const state: PageState = { status: 'starting', losses: [], lrs: [] };
(globalThis as unknown as { __blockwise: PageState }).__blockwise = state;

const $ = (id: string) => document.getElementById(id)!;
const log = (s: string) => ($('log').textContent += s + '\n');

function draw(): void {
  const c = $('chart') as HTMLCanvasElement;
  const g = c.getContext('2d')!;
  g.clearRect(0, 0, c.width, c.height);
  const L = state.losses;
  if (L.length < 2) return;
  const max = Math.max(...L);
  const min = Math.min(...L);
  const pad = 30;
  g.strokeStyle = '#888';
  g.strokeRect(pad, 10, c.width - pad - 10, c.height - pad - 10);
  g.fillStyle = '#444';
  g.font = '11px sans-serif';
  g.fillText(max.toFixed(2), 2, 18);
  g.fillText(min.toFixed(2), 2, c.height - pad);
  g.fillText('training loss', c.width / 2 - 30, c.height - 8);
  g.strokeStyle = '#1f77b4';
  g.beginPath();
  L.forEach((v, i) => {
    const x = pad + (i / (L.length - 1)) * (c.width - pad - 10);
    const y = 10 + (1 - (v - min) / Math.max(1e-9, max - min)) * (c.height - pad - 10);
    if (i === 0) g.moveTo(x, y);
    else g.lineTo(x, y);
  });
  g.stroke();
}

async function pickBackend(): Promise<BackendInfo> {
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlain,
    'tfjs-backend-wasm-simd.wasm': wasmSimd,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
  });
  const forced = new URLSearchParams(location.search).get('backend');
  if (forced) return initBackend(forced as 'webgpu' | 'webgl' | 'wasm' | 'cpu');
  // WebGPU first (even a software adapter beats nothing in a page), then WebGL, then wasm.
  if (await getWebGPUAdapterInfo()) {
    try {
      return await initBackend('webgpu');
    } catch (e) {
      log(`webgpu failed: ${String(e)}`);
    }
  }
  for (const b of ['webgl', 'wasm', 'cpu'] as const) {
    try {
      return await initBackend(b);
    } catch (e) {
      log(`${b} failed: ${String(e)}`);
    }
  }
  throw new Error('no tfjs backend could start');
}

function loadDigits(): Promise<{ x: Float32Array; y: Int32Array; n: number }> {
  const rows = digitsCsv.split('\n').filter((l) => /^\d/.test(l));
  const x = new Float32Array(rows.length * 64);
  const y = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    const v = r.split(',').map(Number);
    for (let j = 0; j < 64; j++) x[i * 64 + j] = v[j]! / 16;
    y[i] = v[64]!;
  });
  return Promise.resolve({ x, y, n: rows.length });
}

async function main(): Promise<void> {
  state.backend = await pickBackend();
  const b = state.backend;
  $('backend').textContent =
    `${b.backend} (${b.reason})${b.adapter ? ` — ${b.adapter.vendor} ${b.adapter.architecture} ${b.adapter.description}` : ''}`;
  const steps = Number(new URLSearchParams(location.search).get('steps') ?? 150);
  state.status = 'training';
  $('status').textContent = 'training';
  const data = await loadDigits();
  const rng = createRng(1);
  state.accuracy = await trainDigits(digitsSplit(data, { seed: 1 }), steps, rng, (step, loss, lr) => {
    state.losses.push(loss);
    state.lrs.push(lr);
    $('step').textContent = `${step + 1} / ${loss.toFixed(4)} / ${lr.toExponential(2)}`;
    draw();
  });
  $('accuracy').textContent = `${(100 * state.accuracy).toFixed(1)}%`;
  state.attention = await checkAttention(rng);
  $('attention').textContent =
    `causal, ${state.attention.sparsity.toFixed(1)}% block sparsity: max |sparse - dense| = ${state.attention.maxError.toExponential(2)}, ${state.attention.ms.toFixed(1)} ms`;
  state.status = 'done';
  $('status').textContent = `done (tensors alive: ${tf.memory().numTensors})`;
}

main().catch((e) => {
  state.status = 'error';
  state.error = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
  $('status').textContent = `error: ${state.error}`;
});
