import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inProcess } from '../test/in-process.js';

// CI clones the repository with shared/ beside it: <repo>/../shared/fixtures.
const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const FIXTURE = resolve(repo, '../shared/fixtures/progress_measures_p113_wd0.1_seed1.safetensors');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bitlens-cli-analyze-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('bitlens run analyze: --set p / preset against the file\'s TransformerLens config', () => {
  it.skipIf(!existsSync(FIXTURE))('a p or preset that disagrees with the file exits 2 naming the key and both values, before any work (also with --json)', async () => {
    const store = join(dir, 'store');
    for (const json of [[], ['--json']]) {
      const p = await inProcess(['run', 'analyze', '--set', `weights=${FIXTURE}`, '--set', 'p=59', '--store', store, ...json]);
      expect(p.code).toBe(2);
      expect(p.err).toContain('INVALID_CONFIG');
      expect(p.err).toMatch(/'p'.*113.*59 \(given\)/);
      const preset = await inProcess(['run', 'analyze', '--set', `weights=${FIXTURE}`, '--set', 'preset=li', '--store', store, ...json]);
      expect(preset.code).toBe(2);
      expect(preset.err).toMatch(/'preset'.*\\?"nanda\\?".*\\?"li\\?" \(given\)/); // quotes escaped under --json
    }
    expect(existsSync(store)).toBe(false);
  });
});
