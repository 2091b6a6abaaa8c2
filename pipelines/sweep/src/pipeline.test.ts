import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactStore, type GraphEvent, hashJson } from '@bitlens/core';
import { afterAll, describe, expect, it } from 'vitest';
import { type CellSummary, SweepConfig, type SweepStats, cellGraph, resolveSweep, sweepPipeline } from './index.js';
import { initTfjsBackend } from '@bitlens/engine';
import { createQuantizerRegistry } from '@bitlens/quantization';

// A reduced sweep (p = 11 and 13, 40-300 epochs): it exercises the machinery — the worker pool, caching, the merge,
// verdicts against the fp32 sibling, resume after SIGKILL — not the science (these cells do not grok).
const dir = mkdtempSync(join(tmpdir(), 'bitlens-sweep-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const pkg = fileURLToPath(new URL('..', import.meta.url));

const small = { axes: { task: ['add', 'sub'], quantizer: ['fp32', 'binary-scaled'] }, fixed: { p: 11, epochs: 40, checkpointEvery: 10, logEvery: 10 } };

async function sweep(store: string, raw: Record<string, unknown>, events: GraphEvent[] = []) {
  const config = SweepConfig.parse({ out: join(dir, `${hashJson(raw).slice(0, 8)}.html`), ...raw });
  const result = await sweepPipeline.run(config, { store: new ArtifactStore({ root: store }), configHash: hashJson(config), onEvent: (e) => events.push(e), log: () => undefined });
  const summary = result.summary as { cells: CellSummary[]; stats: SweepStats; report: string };
  return { result, ...summary };
}

/** A cell's numbers without what legitimately differs between runs (nothing, today: the whole row is deterministic). */
const rows = (cells: readonly CellSummary[]) => JSON.stringify(cells);

describe('sweep pipeline', () => {
  let pooled: CellSummary[] = [];

  it('runs the cells on the worker pool and merges one row per cell, with verdicts against the fp32 sibling', async () => {
    const events: GraphEvent[] = [];
    const r = await sweep(join(dir, 'pool'), { ...small, workers: 2 }, events);
    pooled = r.cells;
    expect(r.cells.map((c) => c.cell)).toEqual(['task=add,quantizer=fp32', 'task=add,quantizer=binary-scaled', 'task=sub,quantizer=fp32', 'task=sub,quantizer=binary-scaled']);
    expect(r.stats).toEqual({ cells: 4, executed: 4, fromStore: 0, resumed: 0 });
    expect(r.cells.map((c) => c.verdict?.reference ?? null)).toEqual([null, 'task=add,quantizer=fp32', null, 'task=sub,quantizer=fp32']);
    expect(r.cells.every((c) => c.finalEpoch === 40 && c.embedKeys.length >= 1 && c.ffs !== null)).toBe(true);
    // Progress of the cells' own graphs comes back from the worker threads.
    expect(events.some((e) => e.type === 'stage-progress' && e.node === 'task=sub,quantizer=fp32/train')).toBe(true);
    const html = readFileSync(r.report, 'utf8');
    expect((html.match(/<tr[^>]* id="cell-/g) ?? []).length).toBe(4);
    expect(html).toContain('id="spectrum-add"');
    expect(html).not.toMatch(/\s(src|href)\s*=\s*["']?https?:/i);
    expect(r.result.lines.some((l) => l.includes('cells executed: 4, read from store: 0'))).toBe(true);
  });

  it('in this process gives the same table as on the worker pool; a rerun executes nothing', async () => {
    const store = join(dir, 'inproc');
    const r = await sweep(store, { ...small, workers: 0 });
    expect(rows(r.cells)).toBe(rows(pooled));
    const again = await sweep(store, { ...small, workers: 0 });
    expect(again.stats).toEqual({ cells: 4, executed: 0, fromStore: 4, resumed: 0 });
    expect(rows(again.cells)).toBe(rows(pooled));
    // One more seed: only the new cells run; the others are read back.
    const wider = await sweep(store, { ...small, axes: { ...small.axes, seed: [0, 1] }, workers: 0 });
    expect(wider.stats).toMatchObject({ cells: 8, executed: 4, fromStore: 4 });
  });

  it('a sweep killed with SIGKILL resumes: finished cells are read back, the interrupted training continues, the table is the same', async () => {
    const cfg = { axes: { seed: [0, 1, 2] }, fixed: { p: 13, epochs: 300, checkpointEvery: 20, logEvery: 20 }, workers: 1 };
    const store = join(dir, 'killed');
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/sweep-child.ts', store, JSON.stringify({ ...cfg, out: join(dir, 'killed.html') })], { cwd: pkg, stdio: ['ignore', 'pipe', 'pipe'] });
    let exited = false;
    child.on('exit', () => {
      exited = true;
    });
    // Wait (bounded) until one cell is stored and another cell's training has written a checkpoint, then kill.
    const r = resolveSweep(SweepConfig.parse(cfg));
    const { tf } = await initTfjsBackend('wasm');
    const registry = createQuantizerRegistry();
    const s = new ArtifactStore({ root: store });
    const trainKeys = r.cells.map((c) => cellGraph(c, tf, registry).keys()[`${c.id}/train`]);
    const rowKeys = r.cells.map((c) => cellGraph(c, tf, registry).keys()[`${c.id}/row`]);
    const deadline = Date.now() + 180_000;
    let state = '';
    while (Date.now() < deadline && !exited) {
      const done = rowKeys.filter((k) => k !== undefined && s.has(k)).length;
      // A live writer's partial training (its lock is held, so readPartial would not show it) with a checkpoint in it:
      // five tables (metrics and checkpoints alternate every 20 epochs).
      const partial = trainKeys.some((k, i) => k !== undefined && !s.has(rowKeys[i] ?? '') && existsSync(join(store, 'tmp', `partial-${k}`, 'part-00004.arrow')));
      state = `${done} cells stored, partial training: ${partial}`;
      if (done >= 1 && partial) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    expect(exited, `the sweep finished before it could be interrupted (${state})`).toBe(false);
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    const storedBefore = rowKeys.filter((k) => k !== undefined && s.has(k)).length;
    expect(storedBefore, state).toBeGreaterThanOrEqual(1);
    const resumed = await sweep(store, { ...cfg, workers: 1 });
    expect(resumed.stats.executed).toBe(3 - storedBefore);
    expect(resumed.stats.resumed).toBeGreaterThanOrEqual(1);
    const clean = await sweep(join(dir, 'clean'), { ...cfg, workers: 1 });
    expect(rows(resumed.cells)).toBe(rows(clean.cells));
  }, 400_000);
});
