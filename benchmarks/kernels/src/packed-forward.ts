import { ArtifactStore, BitlensError, assertSchema } from '@bitlens/core';
import { initTfjsBackend } from '@bitlens/engine';
import { packedInferenceRecord, packedParity, packModel, parityTable, measurePackedSpeed, tableRows, TOLERANCE_BASIS } from '@bitlens/inference';
import { createKernelRegistry, reference } from '@bitlens/kernels';
import type { BackendName } from '@bitlens/kernels';
import { createTfjsKernelBackend } from '@bitlens/kernels-tfjs';
import { wasmPacked } from '@bitlens/kernels-wasm';
import { WeightsSchema } from '@bitlens/model';
import type { Weights } from '@bitlens/model';
import { PrecisionComparisonConfig, comparisonGraph, comparisonTraining, resolveComparison } from '@bitlens/pipeline-precision-comparison';
import type { Table } from 'apache-arrow';

// Packed inference of the default job's trained ternary and binary models: parity with the tfjs forward and the
// forward's speed against it, in one run. Reads the models from the store that `npx bitlens run precision-comparison`
// filled (default config; `--store dir` for another store) and runs nothing else.
// `node benchmarks/kernels/dist/packed-forward.js [--rounds 5] [--backend wasm-packed|tfjs-webgpu] [--store dir] [--json]`
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => { const i = args.indexOf(`--${name}`); return i < 0 ? undefined : args[i + 1]; };
const rounds = Number(flag('rounds') ?? 5), backend = (flag('backend') ?? 'wasm-packed') as BackendName;
const r = resolveComparison(PrecisionComparisonConfig.parse({}));
const { tf, info } = await initTfjsBackend(r.backend);
const keys = comparisonGraph(r, tf, comparisonTraining(r)).keys();
const store = new ArtifactStore(flag('store') === undefined ? {} : { root: flag('store') ?? '' });
const finalOf = (run: 'fp32' | 'ternary' | 'binary'): Table<Weights> => {
  const key = keys[`${run}/final` as const] ?? '', tables = store.read(key);
  if (tables === undefined || tables[0] === undefined) {
    throw new BitlensError('NOT_FOUND', { stage: 'bench-kernels/packed-forward', field: `${run}/final`, expected: `the trained ${run} model in the store at ${store.root} (key ${key})`, found: 'nothing' },
      'run `npx bitlens run precision-comparison` first (default config)');
  }
  return assertSchema(WeightsSchema, tables[0], { stage: 'bench-kernels/packed-forward', side: 'input', exact: false });
};
const dense: BackendName = backend === 'tfjs-webgpu' ? 'tfjs-webgpu' : 'tfjs-wasm';
const registry = createKernelRegistry([reference, wasmPacked, createTfjsKernelBackend('wasm'), createTfjsKernelBackend('webgpu')]);
const options = { tf, registry, backend, denseBackend: dense } as const;

// bad input first: the fp32 model cannot go into packed kernels (typed error naming the field, before any work)
try {
  packModel(finalOf('fp32'), { precision: 'binary' });
} catch (e) {
  console.log(`fp32 model into the binary kernels: ${(e as Error).message}`);
}
const parities = [], speeds = [];
for (const run of ['ternary', 'binary'] as const) {
  const weights = finalOf(run);
  parities.push(await packedParity(weights, { ...options, label: run }));
  speeds.push(await measurePackedSpeed(weights, { ...options, label: run, rounds }));
}
const parity = parityTable(parities, TOLERANCE_BASIS);
const speedRows = speeds.flatMap((s) => tableRows(s));
const record = tableRows(packedInferenceRecord(parity, speeds.reduce((a, b) => a.concat(b))));
if (args.includes('--json')) {
  console.log(JSON.stringify(record, null, 2));
} else {
  console.log(`precision-comparison default models (p = ${r.p}, all ${r.p ** 2} inputs), packed on ${backend}, dense ops on ${dense}, tfjs ${info.description}`);
  console.log('| model | packed bytes (fp32) | max |Δlogit| fp32 act (tol) | int8 act (tol) | accuracy tfjs / fp32 act / int8 | argmax agree int8 | packed int8 ms | packed fp32-act ms | tfjs fp32 ms | speed-up int8 | fp32 act |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of record) {
    const n = (k: string, d = 3): string => Number(row[k]).toFixed(d), e = (k: string): string => Number(row[k]).toExponential(1);
    console.log(`| ${String(row['model'])} | ${String(row['packed_weight_bytes'])} (${String(row['fp32_weight_bytes'])}) | ${e('fp32act_max_abs_delta')} (${e('fp32act_tolerance')}) | ${e('int8_max_abs_delta')} (${e('int8_tolerance')}) | `
      + `${n('accuracy_fp', 4)} / ${n('fp32act_accuracy', 4)} / ${n('int8_accuracy', 4)} | ${n('int8_argmax_agreement', 4)} | ${n('packed_int8_ms', 1)} | ${n('packed_fp32act_ms', 1)} | ${n('tfjs_fp32_ms', 1)} | `
      + `${n('speedup_int8', 2)}x | ${n('speedup_fp32act', 2)}x |`);
  }
  console.log(`tolerances: ${TOLERANCE_BASIS}`);
  console.log(`timing: ${String(speedRows[0]?.['timing'] ?? '')}, ${rounds} rounds; formula mismatches ${record.map((x) => `${String(x['model'])} ${String(x['formula_mismatches'])}`).join(', ')}`);
}
