export { SAFETENSORS_DTYPES, DTYPE_SIZE, isSafetensorsDtype } from './dtypes.js';
export type { SafetensorsDtype, SafetensorsArrays, TensorEntry } from './dtypes.js';
export { readSafetensors, readSafetensorsHeader, MAX_HEADER_BYTES } from './read-safetensors.js';
export type { SafetensorsFile, SafetensorsHeader, SafetensorsHeaderEntry } from './read-safetensors.js';
export { writeSafetensors } from './write-safetensors.js';
export { toFloat32, fromFloat32 } from './convert.js';
export type { FloatDtype } from './convert.js';
export { readSafetensorsFile } from './read-safetensors-file.js';
export type { ReadSafetensorsFileOptions } from './read-safetensors-file.js';
