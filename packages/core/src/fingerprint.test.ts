import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearFingerprintCache, packageFingerprint } from './fingerprint.js';
import { PipelineGraph } from './index.js';

const CORE_INDEX = fileURLToPath(new URL('./index.ts', import.meta.url));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bitlens-fingerprint-'));
  clearFingerprintCache();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A tiny package with one source stage whose output is `value`. */
function writePackage(root: string, value: number, comment = ''): void {
  mkdirSync(join(root, 'src'), { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'tmp-stages', version: '1.0.0', type: 'module' }));
  writeFileSync(
    join(root, 'src', 'stage.ts'),
    `${comment}
import { Field, Int32, Schema, tableFromArrays } from 'apache-arrow';
import { of } from 'rxjs';
import { defineSource } from ${JSON.stringify(CORE_INDEX)};
const schema = new Schema([new Field('v', new Int32(), false)]);
export const stage = () => defineSource({ name: 'tmp/value', version: '1', options: {}, output: schema, create: () => of(tableFromArrays({ v: Int32Array.of(${value}) })) });
`,
  );
}

let version = 0;
async function keyOf(root: string): Promise<string> {
  clearFingerprintCache();
  version += 1;
  const mod = (await import(`${join(root, 'src', 'stage.ts')}?v=${version}`)) as { stage: () => Parameters<ReturnType<typeof PipelineGraph.create>['source']>[1] };
  return PipelineGraph.create().source('value', mod.stage()).keys().value;
}

describe('cache keys follow the code', () => {
  it("a changed computation changes the stage's key even though its name, version and options did not", async () => {
    const root = join(dir, 'pkg');
    writePackage(root, 1);
    const k1 = await keyOf(root);
    expect(await keyOf(root)).toBe(k1); // nothing changed: the same key
    writePackage(root, 2);
    expect(await keyOf(root)).not.toBe(k1);
  });

  it('tests, paths and timestamps do not enter the fingerprint; any source file does', () => {
    const a = join(dir, 'a');
    writePackage(a, 1);
    const fa = packageFingerprint(a);
    const b = join(dir, 'elsewhere', 'b');
    cpSync(a, b, { recursive: true });
    clearFingerprintCache();
    expect(packageFingerprint(b)).toBe(fa); // another folder, same code: same fingerprint
    writeFileSync(join(b, 'src', 'stage.test.ts'), 'it("x", () => {})');
    clearFingerprintCache();
    expect(packageFingerprint(b)).toBe(fa);
    writeFileSync(join(b, 'src', 'helper.ts'), 'export const two = 2;');
    clearFingerprintCache();
    expect(packageFingerprint(b)).not.toBe(fa);
  });

  it('a stage defined in a script beside package.json gets the fingerprint of that script', async () => {
    const root = join(dir, 'script-pkg');
    writePackage(root, 1);
    const moved = join(root, 'stage.ts');
    cpSync(join(root, 'src', 'stage.ts'), moved);
    rmSync(join(root, 'src'), { recursive: true });
    clearFingerprintCache();
    version += 1;
    const mod = (await import(`${moved}?v=${version}`)) as { stage: () => Parameters<ReturnType<typeof PipelineGraph.create>['source']>[1] };
    expect(PipelineGraph.create().source('value', mod.stage()).keys().value).toMatch(/^[0-9a-f]{64}$/);
    expect(packageFingerprint(root, 'stage.ts')).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a package's fingerprint includes its @bitlens dependencies' code", () => {
    const dep = join(dir, 'node_modules', '@bitlens', 'dep');
    mkdirSync(join(dep, 'src'), { recursive: true });
    writeFileSync(join(dep, 'package.json'), JSON.stringify({ name: '@bitlens/dep', version: '1.0.0' }));
    writeFileSync(join(dep, 'src', 'index.ts'), 'export const x = 1;');
    const user = join(dir, 'user');
    mkdirSync(join(user, 'src'), { recursive: true });
    writeFileSync(join(user, 'package.json'), JSON.stringify({ name: 'user', version: '1.0.0', dependencies: { '@bitlens/dep': '1.0.0' } }));
    writeFileSync(join(user, 'src', 'index.ts'), 'export const y = 1;');
    const before = packageFingerprint(user);
    writeFileSync(join(dep, 'src', 'index.ts'), 'export const x = 2;');
    clearFingerprintCache();
    expect(packageFingerprint(user)).not.toBe(before);
  });
});
