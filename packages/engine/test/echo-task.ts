// A task module for workers.test.ts: reports the engine its worker started, echoes its input, fails on request.
import { BitlensError } from '@bitlens/core';
import type { EngineTask } from '../src/workers.js';

export const runEngineTask: EngineTask<{ readonly n: number; readonly fail?: boolean }, string> = async ({ tf, info }, input, post) => {
  if (input.fail === true) throw new BitlensError('INVALID_DATA', { stage: 'test/echo', field: 'n', expected: 'no failure', found: String(input.n) }, 'asked to fail');
  post(`${tf.getBackend()} ${info.config.kernels.length === 0 ? 'tfjs' : 'bitlens'} ${info.config.threads}`);
  const square = tf.tidy(() => tf.square(tf.scalar(input.n)).dataSync()[0]);
  post(String(square));
};
