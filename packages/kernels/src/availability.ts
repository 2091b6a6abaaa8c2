import type { Backend } from './ops.js';

/**
 * The `isAvailable` / `unavailableReason` pair of a backend whose availability is "its setup succeeds": the probe
 * runs `setup` (idempotent in every backend), never throws, and keeps the last failure's message.
 * @example return { name: 'tfjs-wasm', kernels, setup, ...availabilityProbe(setup) };
 */
export function availabilityProbe(setup: () => Promise<unknown>): Pick<Backend, 'isAvailable' | 'unavailableReason'> {
  let reason: string | undefined;
  return {
    async isAvailable() {
      try {
        await setup();
        reason = undefined;
        return true;
      } catch (e) {
        reason = (e as Error).message;
        return false;
      }
    },
    unavailableReason: () => reason,
  };
}
