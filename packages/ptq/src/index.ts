export { w8a8Quantize, PTQ_CALIBRATION_KEY } from './w8a8.js';
export { w8a8Report, W8A8ReportSchema } from './report.js';
export type { W8A8Report, W8A8ReportOptions } from './report.js';
export { quantizeModel, calibrationSites } from './calibrate.js';
export type { CalibrationSite, CalibrationRecord, QuantizedModel } from './calibrate.js';
export { quantizationError, outputHookOf } from './error.js';
export type { QuantizationError } from './error.js';
export { resolveW8A8Options } from './options.js';
export type { W8A8Options, ResolvedW8A8 } from './options.js';
