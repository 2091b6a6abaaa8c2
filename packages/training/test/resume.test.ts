import { initTfjsBackend } from '@bitlens/engine';
import { readWeightsTable } from '@bitlens/model';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { tableFromIPC, type Table } from 'apache-arrow';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { latestCheckpoint } from '../src/stage.js';
import { trainDataFromTables } from '../src/data.js';
import { trainRun } from '../src/train.js';
import { RESUME_OPTIONS, resumeDataset } from './resume-fixture.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('resume after a killed process', () => {
  it('a run killed with SIGKILL and resumed from its latest stored checkpoint ends with weights identical to an uninterrupted run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitlens-resume-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./resume-child.ts', import.meta.url)), dir], { stdio: 'ignore' });
      let exited = false;
      child.on('exit', () => (exited = true));
      const stored = () => readdirSync(dir).filter((f) => f.startsWith('ckpt-')).sort();
      // Kill as soon as a checkpoint at epoch >= 20 is stored (the run has 150 epochs).
      for (let i = 0; i < 3000 && !exited; i++) {
        if (stored().some((f) => Number(f.slice(5, 11)) >= 20)) break;
        await sleep(20);
      }
      child.kill('SIGKILL');
      while (!exited) await sleep(10);
      const tables: Table[] = stored().map((f) => tableFromIPC(readFileSync(join(dir, f))));
      const latest = latestCheckpoint(tables);
      expect(latest).toBeDefined();
      const killedAt = Number(latest?.getChild('epoch')?.get(0));
      expect(killedAt).toBeGreaterThanOrEqual(20);
      expect(killedAt).toBeLessThan(RESUME_OPTIONS.schedule.epochs); // it really was interrupted

      const { tf } = await initTfjsBackend('wasm');
      const ctx = { tf, registry: createQuantizerRegistry() };
      const data = trainDataFromTables([resumeDataset()], RESUME_OPTIONS.model.p);
      const resumed = await lastValueFrom(trainRun(ctx, RESUME_OPTIONS, data, latest as Table).pipe(toArray()));
      const full = await lastValueFrom(trainRun(ctx, RESUME_OPTIONS, data).pipe(toArray()));
      const a = readWeightsTable(latestCheckpoint(full) as Table);
      const b = readWeightsTable(latestCheckpoint(resumed) as Table);
      expect(b.epoch).toBe(RESUME_OPTIONS.schedule.epochs);
      for (const [n, t] of a.latent) expect(b.latent.get(n)?.data, n).toEqual(t.data);
      for (const [n, t] of a.effective) expect(b.effective.get(n)?.data, n).toEqual(t.data);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
