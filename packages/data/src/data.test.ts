import { SchemaMismatchError, assertSchema } from '@bitlens/core';
import { Table, Utf8, makeVector, vectorFromArray } from 'apache-arrow';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { errorOf } from '@bitlens/core/testing';
import {
  BUILTIN_TASKS, BUILTIN_TASK_NAMES, DatasetSchema, checkTaskStructure, createTaskRegistry, modPow, structureLabel, datasetStage, datasetTable, generatePairs, isPrime, labelOf, modInverse,
  modularDataset, readDatasetMetadata, splitIndices, tokenMatrix, tokens, type ModularTask,
} from './index.js';

const tasks = createTaskRegistry();

describe('tasks (docs/science.md#tasks-and-datasets)', () => {
  it('x2_xy_y2 at p = 97: label(3, 5) = (9 + 15 + 25) mod 97 = 49', () => {
    expect(labelOf(tasks.get('x2_xy_y2'), 3, 5, 97)).toBe(49);
    expect(labelOf('x2_xy_y2', 3, 5, 97)).toBe(49);
    expect(generatePairs('div', 5).a.length).toBe(20);
    expect(errorOf(() => labelOf('nope', 1, 1, 5)).site.field).toBe('task');
  });

  it('division excludes b = 0 and label(a, b) * b = a mod p', () => {
    const div = tasks.get('div');
    const p = 97;
    const { a, b } = generatePairs(div, p);
    expect(a.length).toBe(p * (p - 1));
    expect(b.includes(0)).toBe(false);
    for (let i = 0; i < a.length; i++) expect((labelOf(div, a[i] ?? -1, b[i] ?? -1, p) * (b[i] ?? 0)) % p).toBe(a[i]);
    expect(modInverse(3, 7)).toBe(5);
  });

  it('every built-in agrees with its formula evaluated in BigInt, at p = 97 and at the largest p (46337)', () => {
    const f: Record<string, (a: bigint, b: bigint) => bigint> = {
      add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b,
      x2_y2: (a, b) => a * a + b * b, x2_xy_y2: (a, b) => a * a + a * b + b * b, x2_xy_y2_x: (a, b) => a * a + a * b + b * b + a,
      x3_xy: (a, b) => a ** 3n + a * b, x3_xy2_y: (a, b) => a ** 3n + a * b * b + b, x2_m_y2: (a, b) => a * a - b * b,
      x2_2xy_y2: (a, b) => (a + b) ** 2n, x2_m_2xy_y2: (a, b) => (a - b) ** 2n, x2_2xy_y2_x_y: (a, b) => (a + b) ** 2n + a + b,
      x_x_y: (a, b) => 2n * a + b, x_x_m_y: (a, b) => 2n * a - b, '2x_3y': (a, b) => 2n * a + 3n * b, '2x_m_3y': (a, b) => 2n * a - 3n * b,
      xy_y: (a, b) => a * b + b, xy_m_y: (a, b) => a * b - b, xy_x_y: (a, b) => a * b + a + b, xy_x_m_y: (a, b) => a * b + a - b,
      x2_y: (a, b) => a * a + b, x2_m_y: (a, b) => a * a - b, x3_2y: (a, b) => a ** 3n + 2n * b, x3_m_2y: (a, b) => a ** 3n - 2n * b,
    };
    expect(Object.keys(f).length + 1).toBe(BUILTIN_TASKS.length); // all but div (checked above)
    for (const p of [97, 46337]) {
      const P = BigInt(p);
      const samples = [[0, 0], [1, p - 1], [p - 1, p - 1], [3, 5], [p - 2, 7], [12345 % p, 6789 % p]];
      for (const [name, g] of Object.entries(f)) {
        for (const [a = 0, b = 0] of samples) {
          const expected = Number((((g(BigInt(a), BigInt(b)) % P) + P) % P));
          expect(labelOf(tasks.get(name), a, b, p), `${name}(${a}, ${b}) mod ${p}`).toBe(expected);
        }
      }
    }
  });

  it('labels lie in [0, p) for every pair of every task at p = 23', () => {
    for (const task of BUILTIN_TASKS) {
      const { a, b } = generatePairs(task, 23);
      for (let i = 0; i < a.length; i++) {
        const c = labelOf(task, a[i] ?? 0, b[i] ?? 0, 23);
        expect(Number.isInteger(c) && c >= 0 && c < 23, `${task.name}(${a[i]}, ${b[i]}) = ${c}`).toBe(true);
      }
    }
  });

  it('a user task can be registered; clashes and unknown names are typed errors listing the known names', () => {
    const custom: ModularTask = { name: 'a_cubed', formula: 'a^3', source: 'test', label: (a, _b, p) => (a * a * a) % p };
    const r = createTaskRegistry([custom]);
    expect(r.get('a_cubed')).toBe(custom);
    expect(createTaskRegistry().has('a_cubed')).toBe(false);
    const clash = errorOf(() => r.register({ ...custom }));
    expect([clash.code, clash.site.field]).toEqual(['INVALID_OPTION', 'name']);
    const unknown = errorOf(() => modularDataset({ task: 'addition', p: 97, trainFraction: 0.3, seed: 0 }));
    expect([unknown.code, unknown.site.field, unknown.site.found]).toEqual(['INVALID_OPTION', 'task', '"addition"']);
    expect(unknown.message).toContain('add, sub, mul, div, x2_y2, x2_xy_y2');
  });
});

describe('task structure (what the analyses may assume about a label)', () => {
  it('exactly the linear forms and the group operations declare one; each reproduces its labels at several primes', () => {
    const declared = Object.fromEntries(BUILTIN_TASKS.filter((t) => t.structure !== undefined).map((t) => [t.name, t.structure]));
    expect(declared).toEqual({
      add: { kind: 'linear', a: 1, b: 1 }, sub: { kind: 'linear', a: 1, b: -1 },
      mul: { kind: 'multiplicative', a: 1, b: 1 }, div: { kind: 'multiplicative', a: 1, b: -1 },
      x_x_y: { kind: 'linear', a: 2, b: 1 }, x_x_m_y: { kind: 'linear', a: 2, b: -1 },
      '2x_3y': { kind: 'linear', a: 2, b: 3 }, '2x_m_3y': { kind: 'linear', a: 2, b: -3 },
    });
    for (const task of BUILTIN_TASKS) for (const p of [5, 7, 11, 31, 59]) expect(() => checkTaskStructure(task, p), `${task.name} mod ${p}`).not.toThrow();
    // The check can fail: sub's labels are not a + b, and mul's are not a / b.
    const sub = tasks.get('sub');
    expect(errorOf(() => checkTaskStructure({ ...sub, structure: { kind: 'linear', a: 1, b: 1 } }, 7)).site.field).toBe('structure');
    expect(errorOf(() => checkTaskStructure({ ...tasks.get('mul'), structure: { kind: 'multiplicative', a: 1, b: -1 } }, 7)).site.field).toBe('structure');
  });

  it('structureLabel: linear everywhere, multiplicative only on non-zero operands (negative exponent = inverse)', () => {
    expect(structureLabel({ kind: 'linear', a: 2, b: -3 }, 4, 5, 7)).toBe(((8 - 15) % 7 + 7) % 7);
    expect(structureLabel({ kind: 'multiplicative', a: 1, b: -1 }, 3, 5, 7)).toBe((3 * 3) % 7); // 5^{-1} = 3 mod 7
    expect(structureLabel({ kind: 'multiplicative', a: 1, b: 1 }, 0, 5, 7)).toBeUndefined();
    expect([modPow(3, 4, 7), modPow(-2, 3, 7), modPow(5, 0, 7)]).toEqual([4, 6, 1]);
  });

  it('a registered task with a wrong structure is rejected; a right one is accepted', () => {
    const base: ModularTask = { name: 'x_3y', formula: 'a + 3b', source: 'test', label: (a, b, p) => (a + 3 * b) % p };
    expect(createTaskRegistry([{ ...base, structure: { kind: 'linear', a: 1, b: 3 } }]).get('x_3y').structure).toEqual({ kind: 'linear', a: 1, b: 3 });
    const e = errorOf(() => createTaskRegistry([{ ...base, structure: { kind: 'linear', a: 1, b: 2 } }]));
    expect([e.code, e.site.field]).toEqual(['INVALID_OPTION', 'structure']);
    expect(e.message).toContain('(a, b) = (0, 1) mod 11');
    expect(errorOf(() => createTaskRegistry().register({ ...base, structure: { kind: 'linear', a: 0, b: 3 } })).site.field).toBe('structure');
  });

  it('BUILTIN_TASK_NAMES lists every built-in in order', () => {
    expect(BUILTIN_TASK_NAMES).toEqual(BUILTIN_TASKS.map((t) => t.name));
  });
});

describe('split', () => {
  it('reproduces CPython random.seed(1); random.shuffle(pairs) (the Nanda fixture split: p = 113, frac 0.3)', () => {
    // Expected values printed by CPython 3.11 for pairs = [(i, j) for i in range(113) for j in range(113)].
    const d = modularDataset({ task: 'add', p: 113, trainFraction: 0.3, seed: 1 });
    expect(d.nTrain).toBe(3830);
    const pairsAt = (rows: number[]): number[][] => rows.map((r) => [d.a[r] ?? -1, d.b[r] ?? -1]);
    expect(pairsAt([0, 1, 2, 3, 4])).toEqual([[58, 58], [76, 57], [60, 23], [100, 89], [29, 27]]);
    expect(pairsAt([3830, 3831, 3832])).toEqual([[89, 103], [17, 26], [81, 92]]);
    expect(pairsAt([12767, 12768])).toEqual([[82, 59], [19, 54]]);
    // division pairs (b != 0), seed 598, p = 59, frac 0.6
    const v = modularDataset({ task: 'div', p: 59, trainFraction: 0.6, seed: 598 });
    expect(v.nTrain).toBe(2053);
    expect([0, 1, 2].map((r) => [v.a[r], v.b[r]])).toEqual([[30, 24], [11, 27], [51, 23]]);
    expect([v.a[v.a.length - 1], v.b[v.b.length - 1]]).toEqual([58, 41]);
  });

  it.each(['python', 'mulberry32'] as const)('%s: reproducible for a seed, different across seeds, a permutation, train = floor(frac * n)', (prng) => {
    const n = 59 * 59;
    const s1 = splitIndices(n, 0.3, 7, prng);
    const s1again = splitIndices(n, 0.3, 7, prng);
    const s2 = splitIndices(n, 0.3, 8, prng);
    expect(s1.order).toEqual(s1again.order);
    expect(s1.order).not.toEqual(s2.order);
    expect(s1.nTrain).toBe(Math.floor(0.3 * n));
    expect([...s1.order].sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
    const train1 = new Set(s1.order.subarray(0, s1.nTrain));
    const overlap = [...s2.order.subarray(0, s2.nTrain)].filter((i) => train1.has(i)).length;
    expect(overlap).toBeLessThan(s1.nTrain * 0.5); // ~ 0.3 * nTrain expected for independent splits
  });

  it('the two generators give different splits for the same seed', () => {
    expect(splitIndices(100, 0.5, 3, 'python').order).not.toEqual(splitIndices(100, 0.5, 3, 'mulberry32').order);
  });
});

describe('validation (typed INVALID_OPTION naming the field)', () => {
  const base = { task: 'add', p: 97, trainFraction: 0.3, seed: 0 };
  it.each([
    ['p not prime', { p: 91 }, 'p'],
    ['p = 2', { p: 2 }, 'p'],
    ['p too large', { p: 46349 }, 'p'],
    ['p not an integer', { p: 97.5 }, 'p'],
    ['trainFraction 0', { trainFraction: 0 }, 'trainFraction'],
    ['trainFraction 1', { trainFraction: 1 }, 'trainFraction'],
    ['trainFraction NaN', { trainFraction: Number.NaN }, 'trainFraction'],
    ['trainFraction leaving no train pair', { trainFraction: 1e-6 }, 'trainFraction'],
    ['seed not an integer', { seed: 1.5 }, 'seed'],
    ['unknown prng', { prng: 'xorshift' }, 'prng'],
    ['unknown task', { task: 'pow' }, 'task'],
  ])('%s', (_label, patch, field) => {
    const options = { ...base, ...patch } as Parameters<typeof modularDataset>[0];
    for (const f of [() => modularDataset(options), () => datasetStage(options)]) {
      const e = errorOf(f);
      expect(e.code).toBe('INVALID_OPTION');
      expect(e.site.field).toBe(field);
    }
  });

  it('isPrime', () => {
    expect([2, 3, 5, 59, 97, 113, 46337].every(isPrime)).toBe(true);
    expect([0, 1, 4, 9, 91, 46339 /* 149 * 311 */].filter(isPrime)).toEqual([]);
  });
});

describe('datasetStage', () => {
  it('emits one table that passes the declared schema, with the right content and metadata', async () => {
    const stage = datasetStage({ task: 'x2_xy_y2', p: 97, trainFraction: 0.3, seed: 42 });
    expect(stage.spec.name).toBe('data/dataset');
    expect(stage.spec.options).toEqual({ task: 'x2_xy_y2', p: 97, trainFraction: 0.3, seed: 42, prng: 'python' });
    const tables = await lastValueFrom(stage().pipe(toArray()));
    expect(tables).toHaveLength(1);
    const t = tables[0] as Table;
    expect(() => assertSchema(DatasetSchema, t, { stage: 'test', side: 'output', exact: true })).not.toThrow();
    expect(t.numRows).toBe(97 * 97);
    const split = t.getChild('split')?.toArray() as string[];
    const nTrain = Math.floor(0.3 * 97 * 97);
    expect(split.slice(0, nTrain).every((s) => s === 'train')).toBe(true);
    expect(split.slice(nTrain).every((s) => s === 'test')).toBe(true);
    const a = t.getChild('a')?.toArray() as Int32Array;
    const b = t.getChild('b')?.toArray() as Int32Array;
    const label = t.getChild('label')?.toArray() as Int32Array;
    const seen = new Set<number>();
    for (let i = 0; i < t.numRows; i++) {
      seen.add((a[i] ?? 0) * 97 + (b[i] ?? 0));
      expect(label[i]).toBe(((a[i] ?? 0) ** 2 + (a[i] ?? 0) * (b[i] ?? 0) + (b[i] ?? 0) ** 2) % 97);
    }
    expect(seen.size).toBe(97 * 97); // every pair exactly once
    expect(readDatasetMetadata(t)).toMatchObject({ task: 'x2_xy_y2', p: 97, nTrain, nTest: 97 * 97 - nTrain, equalsToken: 97, prng: 'python' });
  });

  it('is reproducible: the same options give the same table', () => {
    const o = { task: 'sub', p: 23, trainFraction: 0.5, seed: 3 };
    const x = datasetTable(o);
    const y = datasetTable(o);
    expect(x.getChild('a')?.toArray()).toEqual(y.getChild('a')?.toArray());
    expect(x.getChild('b')?.toArray()).toEqual(y.getChild('b')?.toArray());
    expect(datasetTable({ ...o, seed: 4 }).getChild('a')?.toArray()).not.toEqual(x.getChild('a')?.toArray());
  });

  it('a table with a wrong column type does not pass DatasetSchema', () => {
    const bad = new Table({ a: makeVector(new Int32Array([1])), b: makeVector(new Int32Array([2])), label: makeVector(new Float32Array([3])), split: vectorFromArray(['train'], new Utf8()) });
    expect(() => assertSchema(DatasetSchema, bad, { stage: 'test', side: 'input', exact: false })).toThrow(SchemaMismatchError);
    expect(() => assertSchema(DatasetSchema, datasetTable({ task: 'add', p: 5, trainFraction: 0.5, seed: 0 }), { stage: 'test', side: 'input', exact: false })).not.toThrow();
  });
});

describe('tokens', () => {
  it("uses [a, b, '='] with '=' = p", () => {
    expect(tokens(3, 5, 97)).toEqual([3, 5, 97]);
    expect(Array.from(tokenMatrix(new Int32Array([1, 2]), new Int32Array([3, 4]), 7))).toEqual([1, 3, 7, 2, 4, 7]);
  });
});
