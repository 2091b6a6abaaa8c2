import { datasetTable } from '@bitlens/data';
import { modelConfig } from '@bitlens/model';
import type { TrainOptions } from '../src/options.js';

/** The run the kill-and-resume test interrupts (shared by the child script and the test). */
export const RESUME_OPTIONS: TrainOptions = {
  model: modelConfig('li', 23, { dModel: 32, nHeads: 4, dMlp: 64, quantizer: 'ternary-absmean' }),
  seed: 9,
  schedule: { epochs: 150, logEvery: 10, checkpointEvery: 10 },
  optimizer: { warmup: true },
};

/** Its dataset. */
export const resumeDataset = () => datasetTable({ task: 'add', p: 23, trainFraction: 0.5, seed: 4 });
