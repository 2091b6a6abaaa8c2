// A task module for workers.test.ts: reports the engine its worker started, echoes its input, fails on request.
import { BitlensError } from '@bitlens/core';
import { engineConfig } from '../src/configure.js';
import type { EngineTask } from '../src/workers.js';

export const runEngineTask: EngineTask<{ readonly n: number; readonly fail?: boolean; readonly watch?: number }, string> = async ({ tf, info }, input, post) => {
  if (input.watch !== undefined) {
    // Report the engine's thread count now and each time the pool changes it, until `watch` changes were seen (or a
    // minute passed).
    let last = engineConfig()?.threads;
    post(`threads ${last}`);
    let changes = 0;
    const end = Date.now() + 60_000;
    while (changes < input.watch && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      const t = engineConfig()?.threads;
      if (t === last) continue;
      last = t;
      changes++;
      post(`threads ${t}`);
    }
    return;
  }
  if (input.fail === true) throw new BitlensError('INVALID_DATA', { stage: 'test/echo', field: 'n', expected: 'no failure', found: String(input.n) }, 'asked to fail');
  post(`${tf.getBackend()} ${info.config.kernels.length === 0 ? 'tfjs' : 'bitlens'} ${info.config.threads}`);
  const square = tf.tidy(() => tf.square(tf.scalar(input.n)).dataSync()[0]);
  post(String(square));
};
