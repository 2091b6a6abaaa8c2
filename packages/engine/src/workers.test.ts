import { BitlensError } from '@bitlens/core';
import { availableParallelism } from 'node:os';
import { lastValueFrom, merge, tap, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createEngineWorkers } from './index.js';

const task = new URL('../test/echo-task.ts', import.meta.url);

// Each worker starts an engine, from TypeScript sources here (tsx in the worker): seconds on an idle machine, more
// than a minute on a loaded one, hence the long limits.
describe('createEngineWorkers', { timeout: 180_000 }, () => {
  it('runs a task in a worker thread on an engine it started and configured, relaying what the task posts', async () => {
    const pool = createEngineWorkers({ backend: 'wasm', workers: 1 });
    expect(pool.size).toBe(1);
    expect(pool.threads).toBe(availableParallelism()); // a pool of one: its task gets every core
    expect(await lastValueFrom(pool.run<string>(task, { n: 7 }).pipe(toArray()))).toEqual([`wasm bitlens ${pool.threads}`, '49']);
    expect(await lastValueFrom(pool.run<string>(task, { n: 2 }, { engine: { threads: 1 } }).pipe(toArray()))).toEqual(['wasm bitlens 1', '4']);
    expect(createEngineWorkers({ workers: 3 * availableParallelism() }).threads).toBe(1); // a full pool: one each
    const stock = createEngineWorkers({ backend: 'cpu', engine: { kernels: 'tfjs' } });
    expect((await lastValueFrom(stock.run<string>(task, { n: 3 }).pipe(toArray())))[0]).toMatch(/^cpu tfjs/);
  });

  it('threads follow the running tasks: max(1, floor(cores / running)), changed in the running workers', async () => {
    const cores = availableParallelism();
    const pool = createEngineWorkers({ backend: 'wasm', workers: 2 });
    const half = Math.max(1, Math.floor(cores / 2));
    const seen: string[] = [];
    let second: Promise<string[]> | undefined;
    // The first task watches its thread count (until two changes); once it is up, alone, a second task starts.
    await lastValueFrom(
      pool.run<string>(task, { n: 0, watch: cores > 1 ? 2 : 0 }).pipe(
        tap((m) => {
          seen.push(m);
          if (second === undefined) second = lastValueFrom(pool.run<string>(task, { n: 3 }).pipe(toArray()));
        }),
      ),
    );
    expect(seen[0]).toBe(`threads ${cores}`); // alone: every core
    expect((await second)?.[0]).toBe(`wasm bitlens ${half}`); // two running
    if (cores > 1) expect(seen).toEqual([`threads ${cores}`, `threads ${half}`, `threads ${cores}`]); // down while the second ran, back after
  });

  it('runs at most `workers` tasks at a time, in order, and all of them', async () => {
    const pool = createEngineWorkers({ backend: 'cpu', workers: 2 });
    const out = await lastValueFrom(merge(...[1, 2, 3, 4].map((n) => pool.run<string>(task, { n }))).pipe(toArray()));
    expect(out.filter((m) => !m.startsWith('cpu')).map(Number).sort((x, y) => x - y)).toEqual([1, 4, 9, 16]);
  });

  it("a task's BitlensError comes back with its code, site and message", async () => {
    const pool = createEngineWorkers({ backend: 'cpu', workers: 1 });
    const e = await lastValueFrom(pool.run(task, { n: 5, fail: true })).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(BitlensError);
    expect((e as BitlensError).code).toBe('INVALID_DATA');
    expect((e as BitlensError).site).toMatchObject({ stage: 'test/echo', field: 'n', found: '5' });
    expect((e as BitlensError).message).toContain('asked to fail');
  });

  it('rejects a bad pool before starting anything', () => {
    expect(() => createEngineWorkers({ backend: 'cuda' })).toThrow(/BACKEND_UNAVAILABLE/);
    expect(() => createEngineWorkers({ workers: 0 })).toThrow(/INVALID_OPTION/);
  });
});
