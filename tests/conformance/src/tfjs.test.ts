import { createTfjsKernelBackend } from '@bitlens/kernels-tfjs';
import { defineConformanceSuite } from './suite.js';

// tfjs has one engine per process: each kernel's setup() switches to its own engine before running
defineConformanceSuite([createTfjsKernelBackend('cpu'), createTfjsKernelBackend('wasm'), createTfjsKernelBackend('webgpu')]);
