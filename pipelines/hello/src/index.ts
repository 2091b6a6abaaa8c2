export { helloPipeline, helloGraph, HelloConfig } from './pipeline.js';
export { numbers, power, shift, combine, NumbersSchema, PoweredSchema, ShiftedSchema, CombinedSchema } from './stages.js';
export type { Numbers, Powered, Shifted, Combined } from './stages.js';
