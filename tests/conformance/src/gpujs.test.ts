import { createGpujsBackend } from '@bitlens/backend-gpujs';
import { defineConformanceSuite } from './suite.js';

defineConformanceSuite([createGpujsBackend('cpu'), createGpujsBackend('webasm'), createGpujsBackend('webgpu')]);
