// Child process of resume.test.ts: trains RESUME_OPTIONS and, as a pipeline sink would, writes every checkpoint table
// atomically (temp file + rename) to the directory given as argv[2]. The test kills it with SIGKILL mid-run.
import { initTfjsBackend } from '@bitlens/engine';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { tableToIPC } from 'apache-arrow';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, tap } from 'rxjs';
import { streamKind } from '../src/schemas.js';
import { trainDataFromTables } from '../src/data.js';
import { trainRun } from '../src/train.js';
import { RESUME_OPTIONS, resumeDataset } from './resume-fixture.js';

const dir = process.argv[2] ?? '.';
const { tf } = await initTfjsBackend('wasm');
const data = trainDataFromTables([resumeDataset()], RESUME_OPTIONS.model.p);
await lastValueFrom(
  trainRun({ tf, registry: createQuantizerRegistry() }, RESUME_OPTIONS, data).pipe(
    tap((t) => {
      if (streamKind(t) !== 'checkpoint') return;
      const epoch = String(t.getChild('epoch')?.get(0)).padStart(6, '0');
      const tmp = join(dir, `.tmp-${epoch}`);
      writeFileSync(tmp, tableToIPC(t));
      renameSync(tmp, join(dir, `ckpt-${epoch}.arrow`));
    }),
  ),
);
