export {
  initBackend,
  getWebGPUAdapterInfo,
  assertGradients,
  type GradientSource,
  type BackendName,
  type ConcreteBackend,
  type AdapterInfo,
  type BackendInfo,
  type InitBackendOptions,
} from './backend.js';
export {
  view,
  shapeSize,
  toView,
  toViewSync,
  fromView,
  packUint8,
  unpackUint8,
  unpackUint8Sync,
  type TypedView,
  type ViewData,
} from './view.js';
export {
  defineKernel,
  type KernelIO,
  type KernelDefinition,
  type WebGPUProgramSpec,
  type WebGPUUniform,
} from './kernel.js';
export { blockAbsmax } from './absmax.js';
export { installWasmMatMul, uninstallWasmMatMul, wasmMatMulInstalled, refreshWasmTensor } from './wasmMatMul.js';
export { createRng, type Rng } from './random.js';
export {
  createGpuKernel,
  availableGpuKernelModes,
  type GpuKernel,
  type GpuKernelMode,
  type GpuKernelOptions,
} from './gpujs.js';
export {
  checkOptions,
  checkNumber,
  checkBoolean,
  checkOneOf,
  nearestName,
  describeValue,
  type NumberConstraints,
} from './options.js';
