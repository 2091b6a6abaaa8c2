import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { BitlensError } from './errors.js';

/**
 * Writes a file atomically (a temp file beside it, then a rename), so a reader never sees half a file and a failed
 * write leaves nothing at `path`: what a pipeline's sinks (reports, exports) use. Errors are typed, naming the stage
 * and the path.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, stage: string, field = 'out'): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new BitlensError('INTERNAL', { stage, field, expected: 'a writable path', found: JSON.stringify(path) }, (e as Error).message, { cause: e });
  }
}
