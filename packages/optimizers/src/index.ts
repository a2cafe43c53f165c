export { createDynamicMap } from "./dynamicMap.js";
export { quantizeBlockwise, dequantizeBlockwise, nearestCode, type BlockwiseOptions, type QuantizedBlocks } from "./quantize.js";
