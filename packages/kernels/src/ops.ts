/** Element types a host tensor can hold. Packed operands use `uint32` (bit words) or `uint8` (I2_S bytes). */
export type DType = 'float32' | 'int32' | 'int8' | 'uint8' | 'uint32';

/** The typed array behind each dtype. */
export interface DTypeArrays {
  float32: Float32Array;
  int32: Int32Array;
  int8: Int8Array;
  uint8: Uint8Array;
  uint32: Uint32Array;
}

/** A dense row-major tensor in host memory: the currency every kernel takes and returns (readback included). */
export interface HostTensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DTypeArrays[D];
}

/** Packed layouts of ternary weights accepted by `TernaryMatMul`. */
export type TernaryFormat = 'i2s' | 'planes';

/**
 * Every op, declared once: inputs, attributes and output. Backends implement these and never redeclare them.
 *
 * - `MatMul`: a [m,k] · b [k,n] (or b [n,k] with `transposeB`) -> float32 [m,n].
 * - `Softmax`: softmax along the last axis, float32, same shape.
 * - `ClippedSoftmax`: clip((zeta - gamma) * softmax(x) + gamma, 0, 1) along the last axis (Bondarenko et al. 2023).
 * - `FourierProjection`: F · x for x [p, d], F the orthonormal real Fourier basis over Z_p (docs/science.md#fourier-basis) -> [p, d].
 * - `QuantizeTernary`: BitNet b1.58 absmean: gamma = mean|w|, codes = RoundClip(w / (gamma + eps), -1, 1) (half to even).
 * - `QuantizeBinary`: BitNet: alpha = mean(w) when `center`, codes = +1 if w - alpha > 0 else -1, scale = mean|w|.
 * - `Dequantize`: codes (int8) * scale (one value, or one per row).
 * - `Int8MatMul`: int8 a [m,k] · int8 b [k,n] (or [n,k] with `transposeB`) -> exact int32 [m,n].
 * - `BinaryMatMul`: a [m, words], b [n, words] bit-packed {-1,+1} rows of length `k` (see `packBinary`):
 *   int32 [m,n] = a · bᵀ = k - 2 popcount(a XOR b).
 * - `TernaryMatMul`: x [m,k] (float32 or int8) times packed ternary weights w [n, …] (`packI2S` bytes or
 *   `packTernaryPlanes` words), times `scale`: float32 [m,n] for float32 x, exact int32 [m,n] for int8 x (scale must be 1).
 * - `TernaryMatMulA8`: BitNet b1.58's W1.58A8 linear: float32 x [m,k] quantized per row to int8 (absmax, see
 *   `quantizeActivationsInt8Host`), the exact int32 product with I2_S weights w [n, i2sBytes(k)], dequantized:
 *   float32 [m,n], y[i,j] = fround(acc[i,j] * fround(scale / s_i)) with s_i the row's activation scale.
 */
export interface OpSignatures {
  MatMul: { inputs: { a: HostTensor<'float32'>; b: HostTensor<'float32'> }; attrs: { transposeB: boolean }; output: HostTensor<'float32'> };
  Softmax: { inputs: { x: HostTensor<'float32'> }; attrs: Record<string, never>; output: HostTensor<'float32'> };
  ClippedSoftmax: { inputs: { x: HostTensor<'float32'> }; attrs: { zeta: number; gamma: number }; output: HostTensor<'float32'> };
  FourierProjection: { inputs: { x: HostTensor<'float32'> }; attrs: { p: number }; output: HostTensor<'float32'> };
  QuantizeTernary: { inputs: { w: HostTensor<'float32'> }; attrs: { eps: number }; output: { codes: HostTensor<'int8'>; scale: HostTensor<'float32'> } };
  QuantizeBinary: { inputs: { w: HostTensor<'float32'> }; attrs: { center: boolean }; output: { codes: HostTensor<'int8'>; scale: HostTensor<'float32'> } };
  Dequantize: { inputs: { codes: HostTensor<'int8'>; scale: HostTensor<'float32'> }; attrs: Record<string, never>; output: HostTensor<'float32'> };
  Int8MatMul: { inputs: { a: HostTensor<'int8'>; b: HostTensor<'int8'> }; attrs: { transposeB: boolean }; output: HostTensor<'int32'> };
  BinaryMatMul: { inputs: { a: HostTensor<'uint32'>; b: HostTensor<'uint32'> }; attrs: { k: number }; output: HostTensor<'int32'> };
  TernaryMatMul: {
    inputs: { x: HostTensor<'float32'> | HostTensor<'int8'>; w: HostTensor<'uint8'> | HostTensor<'uint32'> };
    attrs: { k: number; format: TernaryFormat; scale: number };
    output: HostTensor<'float32'> | HostTensor<'int32'>;
  };
  TernaryMatMulA8: { inputs: { x: HostTensor<'float32'>; w: HostTensor<'uint8'> }; attrs: { k: number; scale: number }; output: HostTensor<'float32'> };
}

/** Name of an op. */
export type OpName = keyof OpSignatures;

/** Every op name, in declaration order (for tables and conformance loops). */
export const OP_NAMES = [
  'MatMul', 'Softmax', 'ClippedSoftmax', 'FourierProjection', 'QuantizeTernary', 'QuantizeBinary', 'Dequantize',
  'Int8MatMul', 'BinaryMatMul', 'TernaryMatMul', 'TernaryMatMulA8',
] as const satisfies readonly OpName[];

/** Inputs of op `N`. */
export type OpInputs<N extends OpName> = OpSignatures[N]['inputs'];
/** Attributes of op `N`. */
export type OpAttrs<N extends OpName> = OpSignatures[N]['attrs'];
/** Output of op `N` (already read back to host memory). */
export type OpOutput<N extends OpName> = OpSignatures[N]['output'];

/** An implementation of op `N` on one backend. Resolves once the result is in host memory. */
export type Kernel<N extends OpName> = (inputs: OpInputs<N>, attrs: OpAttrs<N>) => Promise<OpOutput<N>>;

/** Kernel ids of every backend bitlens knows. */
export type BackendName =
  | 'reference'
  | 'tfjs-cpu' | 'tfjs-wasm' | 'tfjs-webgpu'
  | 'gpujs-cpu' | 'gpujs-webasm' | 'gpujs-webgpu'
  | 'wasm-packed';

/** Every backend name (for tables such as KNOWN_GAPS). */
export const BACKEND_NAMES = [
  'reference', 'tfjs-cpu', 'tfjs-wasm', 'tfjs-webgpu', 'gpujs-cpu', 'gpujs-webasm', 'gpujs-webgpu', 'wasm-packed',
] as const satisfies readonly BackendName[];

/** What a backend reports about itself, for benchmark and conformance reports. */
export interface BackendInfo {
  /** Human description, e.g. `tfjs wasm (XNNPACK, SIMD)`. */
  readonly description: string;
  /** Worker threads the kernels use (1 when single-threaded). */
  readonly threads: number;
}

/** A set of kernels that run on one engine. */
export interface Backend {
  readonly name: BackendName;
  readonly kernels: { readonly [N in OpName]?: Kernel<N> };
  /** Probe only; never throws. Where the answer is false, `unavailableReason()` says why. */
  isAvailable(): Promise<boolean>;
  /** Why the backend is unavailable (undefined when it is available or was not probed). */
  unavailableReason?(): string | undefined;
  /** Idempotent; cheap when the engine is already active. Throws `BACKEND_UNAVAILABLE` when it cannot start. */
  setup(): Promise<void>;
  /** Description and threads, valid after `setup()`. */
  info(): BackendInfo;
}
