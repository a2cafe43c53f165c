import type { Report } from './report.js';

/** The environment block of a hand-made report, shared by the report and CLI tests. */
export function testEnvironment(backend = 'wasm'): Report['environment'] {
  return {
    node: 'v20',
    platform: 'linux-x64',
    backend,
    backendReason: 'test',
    adapter: null,
    cpu: 'cpu',
    cores: 2,
    memoryGiB: 24,
    mode: 'quick',
    seed: 1,
    command: 'blockwise-bench',
    date: '2026-11-26T00:00:00Z',
  };
}
