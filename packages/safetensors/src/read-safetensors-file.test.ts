import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensorsFile, writeSafetensors } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'bitlens-st-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readSafetensorsFile: a regular file of plausible size, read with a bound', () => {
  const good = join(dir, 'w.safetensors');
  writeFileSync(good, writeSafetensors(new Map([['embed.W_E', { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }]])));

  it('reads and validates the header', () => {
    const { header, bytes } = readSafetensorsFile(good, { maxBytes: 1 << 20, field: 'weights' });
    expect(header.tensors.get('embed.W_E')?.shape).toEqual([2, 2]);
    expect(bytes.byteLength).toBeGreaterThan(16);
  });

  it.each([
    ['a FIFO', () => { const f = join(dir, 'fifo'); execFileSync('mkfifo', [f]); return f; }, 'INVALID_OPTION', 'FIFO'],
    ['a device', () => '/dev/zero', 'INVALID_OPTION', 'character device'],
    ['a folder', () => dir, 'INVALID_OPTION', 'folder'],
    ['a file larger than the bound (sparse, 4 GiB)', () => { const f = join(dir, 'big'); writeFileSync(f, ''); truncateSync(f, 4 * 2 ** 30); return f; }, 'INVALID_OPTION', '4.0 GiB'],
    ['a missing path', () => join(dir, 'missing'), 'NOT_FOUND', 'missing'],
    ['a file that is not safetensors', () => { const f = join(dir, 'junk'); writeFileSync(f, 'not a safetensors file at all'); return f; }, 'ARTIFACT_CORRUPT', ''],
  ])('refuses %s, naming the option', (_, make, code, found) => {
    expect(() => readSafetensorsFile(make(), { maxBytes: 1 << 20, field: 'weights' })).toThrow(expect.objectContaining({ code, site: expect.objectContaining({ field: code === 'ARTIFACT_CORRUPT' ? expect.any(String) : 'weights', ...(found === '' ? {} : { found: expect.stringContaining(found) }) }) }));
  });
});
