export { OP_NAMES, BACKEND_NAMES } from './ops.js';
export type {
  DType, DTypeArrays, HostTensor, TernaryFormat, OpSignatures, OpName, OpInputs, OpAttrs, OpOutput, Kernel, BackendName, BackendInfo, Backend,
} from './ops.js';
export { checkShapes } from './shapes.js';
export { createKernelRegistry } from './registry.js';
export type { KernelRegistry } from './registry.js';
export { reference, popcount32 } from './reference.js';
export {
  ABSMEAN_EPS, CENTRED_MIN_SCALE, roundHalfEven, ternaryAbsmeanHost, ternaryCentredHost, binaryScaledHost, binarySignHost, binaryUncentredHost,
  HOST_QUANTIZERS, isHostQuantizerName, dequantizeHost, ACTIVATION_EPS, activationInt8Host,
} from './quantizers.js';
export type { HostCodes, HostQuantizerName, HostActivationCodes } from './quantizers.js';
export { fourierBasis } from './fourier.js';
export {
  binaryWords, i2sBytes, packBinary, unpackBinary, packI2S, unpackI2S, packTernaryPlanes, unpackTernaryPlanes,
} from './packing.js';
export { tensor, sizeOf, seededRandom, randomTensor, randomCodes, randomInt8, toFloat32 } from './tensor.js';
export { availabilityProbe } from './availability.js';
