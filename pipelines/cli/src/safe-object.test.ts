import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assembleConfig } from './config.js';
import { main } from './main.js';
import { PROTOTYPE_KEYS, assertNoPrototypeKeys, setKeyPath, emptyRecord } from './safe-object.js';

const dir = mkdtempSync(join(tmpdir(), 'bitlens-proto-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const source = { stage: 'test', field: '--set' };

/** Nothing may ever land on the shared prototypes. */
function expectPrototypesClean(): void {
  const probe: Record<string, unknown> = {};
  for (const k of ['n', 'x', 'polluted', 'p']) expect(probe[k]).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
}

describe('prototype keys are refused wherever a key path enters', () => {
  const sets = PROTOTYPE_KEYS.flatMap((k) => [`${k}.n=5`, `a.${k}.n=5`, `a.b.${k}=5`, `${k}=5`]).concat(['constructor.prototype.n=5']);
  it.each(sets)('--set %s', (assignment) => {
    expect(() => assembleConfig({ sets: [assignment] })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', site: expect.objectContaining({ field: '--set' }) }));
    expectPrototypesClean();
  });

  it.each(['{"__proto__":{"n":5}}', '{"a":{"constructor":{"prototype":{"n":5}}}}', '[{"prototype":1}]'])('a --set value holding %s', (json) => {
    expect(() => assembleConfig({ sets: [`opts=${json}`] })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expectPrototypesClean();
  });

  it.each([
    ['top level', '{"__proto__": {"n": 5}}', '__proto__'],
    ['nested', '{"model": {"x": {"constructor": {"prototype": {"n": 5}}}}}', 'model.x.constructor'],
    ['inside an array', '{"axes": [{"values": [1]}, {"prototype": 1}]}', 'axes.1.prototype'],
  ])('a --config file with a prototype key %s', (_, text, where) => {
    const file = join(dir, `c-${where}.json`);
    writeFileSync(file, text);
    let error: unknown;
    try {
      assembleConfig({ file, sets: [] });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'INVALID_CONFIG', site: { found: expect.stringContaining(where) } });
    expectPrototypesClean();
  });

  it('the CLI refuses `--set __proto__.n=5` before any work (exit 2) and the process stays clean', async () => {
    const err: string[] = [];
    const code = await main(['run', 'hello', '--set', '__proto__.n=5', '--store', join(dir, 's')], { out: () => undefined, err: (l) => err.push(l) });
    expect(code).toBe(2);
    expect(err.join('\n')).toContain('__proto__');
    expectPrototypesClean();
  });
});

describe('nested options are built on objects without prototypes', () => {
  it('setKeyPath creates prototype-free objects and replaces non-objects on the way', () => {
    const c = emptyRecord();
    setKeyPath(c, ['a', 'b'], 1, source);
    setKeyPath(c, ['a', 'c'], { d: [1, { e: 2 }] }, source);
    expect(Object.getPrototypeOf(c['a'])).toBeNull();
    expect(JSON.parse(JSON.stringify(c))).toEqual({ a: { b: 1, c: { d: [1, { e: 2 }] } } });
    const inner = (c['a'] as Record<string, unknown>)['c'] as Record<string, unknown>;
    expect(Object.getPrototypeOf(inner)).toBeNull();
    // `toString` is not an own key: reading it finds nothing instead of Object.prototype.toString.
    expect((c as Record<string, unknown>)['toString']).toBeUndefined();
  });

  it('an assembled config reads no inherited option', () => {
    const c = assembleConfig({ sets: ['n=5'] });
    expect(Object.getPrototypeOf(c)).toBeNull();
    expect(c['hasOwnProperty']).toBeUndefined();
  });

  it('assertNoPrototypeKeys passes ordinary data', () => {
    expect(() => assertNoPrototypeKeys({ a: [1, { b: 'constructor' }], proto: 1, _proto_: 2 }, source)).not.toThrow();
  });
});
