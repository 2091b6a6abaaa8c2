// Child process for store tests: `node --import tsx test/store-child.ts <mode> <root> <key> [n]`.
import { tableFromArrays } from 'apache-arrow';
import { ArtifactStore } from '../src/index.js';

const [mode, root, key, nArg] = process.argv.slice(2) as [string, string, string, string | undefined];
const store = new ArtifactStore({ root });
const table = (seed: number) => tableFromArrays({ v: Float64Array.from({ length: 20_000 }, (_, k) => k * seed) });

if (mode === 'hang-mid-write') {
  // Write a part, then wait forever: the parent kills us before commit.
  const w = store.beginWrite(key, 'test/child');
  w.append(table(1));
  process.stdout.write('ready\n');
  setInterval(() => undefined, 1000);
} else if (mode === 'race') {
  // Publish the same key over and over; the parent runs two of us at once.
  const n = Number(nArg ?? '20');
  for (let i = 0; i < n; i++) {
    const w = store.beginWrite(key, 'test/child');
    w.append(table(1));
    w.append(table(2));
    w.commit();
    if (i % 3 === 0 && i < n - 1) store.remove(key); // every removal is followed by a later commit of this process
    const got = store.read(key, ({ reason }) => {
      process.stderr.write(`corrupt: ${reason}\n`);
      process.exitCode = 3;
    });
    if (got !== undefined && got.length !== 2) process.exitCode = 4;
  }
} else if (mode === 'read-provenance') {
  // A fresh process reads the stored IPC file with plain Arrow and prints its metadata.
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tableFromIPC } = await import('apache-arrow');
  const dir = store.pathOf(key);
  const t = tableFromIPC(readFileSync(join(dir, 'part-00000.arrow')));
  process.stdout.write(JSON.stringify(Object.fromEntries(t.schema.metadata)));
}
