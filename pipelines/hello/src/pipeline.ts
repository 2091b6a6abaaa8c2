import { PipelineGraph, definePipeline } from '@bitlens/core';
import { z } from 'zod';
import { combine, numbers, power, shift } from './stages.js';

/** Config of the `hello` demo pipeline. */
export const HelloConfig = z.strictObject({
  n: z.number().int().min(1).max(10_000_000).default(1000).describe('how many numbers to draw'),
  batch: z.number().int().min(1).default(250).describe('rows per table (one table per batch)'),
  seed: z.number().int().default(1).describe('seed of the number source'),
  power: z.number().int().min(1).max(8).default(2).describe('exponent of the power branch'),
  offset: z.number().default(1).describe('what the shift branch adds'),
});

/** The demo DAG: numbers → {power, shift} → combine (a fan-out and a two-input stage). */
export function helloGraph(config: z.output<typeof HelloConfig>) {
  return PipelineGraph.create()
    .source('numbers', numbers({ n: config.n, batch: config.batch, seed: config.seed }))
    .then('powered', power({ power: config.power }), 'numbers')
    .then('shifted', shift({ offset: config.offset }), 'numbers')
    .join('combined', combine(), { powered: 'powered', shifted: 'shifted' });
}

/**
 * `bitlens run hello`: a tiny pipeline that exercises the stage contract, the DAG wiring and the artifact cache.
 * Prints the row count and the total of `sum`; a second run reads everything from the store.
 */
export const helloPipeline = definePipeline({
  name: 'hello',
  description: 'Demo: seeded numbers → power and shift branches → join; exercises stages, DAG and cache.',
  config: HelloConfig,
  plan: (config, context) => Promise.resolve(helloGraph(config).plan(context.store)),
  async run(config, context) {
    const { tables: collected, stats } = await helloGraph(config).run({
      store: context.store,
      onEvent: context.onEvent,
      ...(context.run === undefined ? {} : { log: context.run }),
      provenance: { configHash: context.configHash, seed: config.seed, ...(context.gitRevision === undefined ? {} : { gitRevision: context.gitRevision }) },
      collect: ['combined'],
    });
    const tables = collected.combined;
    let rows = 0;
    let total = 0;
    for (const t of tables) {
      rows += t.numRows;
      for (const v of t.getChild('sum')?.toArray() as Float64Array) total += v;
    }
    const summary = { rows, batches: tables.length, total: Number(total.toFixed(9)), executed: stats.executed.length, cached: stats.cached.length };
    return {
      stats,
      summary,
      lines: [`hello: ${rows} rows in ${tables.length} batches, total of sum = ${summary.total}`, `stages executed: ${stats.executed.length} [${stats.executed.join(', ')}], read from store: ${stats.cached.length} [${stats.cached.join(', ')}]`],
    };
  },
});
