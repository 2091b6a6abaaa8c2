import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from './workspace.js';

// The READMEs say every package is ESM only: `require()` is refused by the exports map, `import()` works from
// CommonJS. This keeps that sentence true (a CJS build added later should change the READMEs too).
const run = promisify(execFile);
const cjs = `
const names = ['@bitlens/core', '@bitlens/model', '@bitlens/circuits'];
const refused = names.map((n) => { try { require(n); return 'loaded'; } catch (e) { return e.code; } });
Promise.all(names.map((n) => import(n))).then((mods) => console.log(JSON.stringify({ refused, imported: mods.map((m) => typeof m.defineStage) })));
`;

describe('ESM only', () => {
  it('require() of a package fails with ERR_PACKAGE_PATH_NOT_EXPORTED; import() from CommonJS works', async () => {
    const { stdout } = await run(process.execPath, ['--input-type=commonjs', '-e', cjs], { cwd: ROOT });
    const result = JSON.parse(stdout) as { refused: string[]; imported: string[] };
    expect(result.refused).toEqual(['ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_PACKAGE_PATH_NOT_EXPORTED']);
    expect(result.imported[0]).toBe('function'); // @bitlens/core's defineStage
  }, 120_000);
});
