import { BitlensError, SchemaMismatchError } from '@bitlens/core';
import { initTfjsBackend } from '@bitlens/engine';
import type { Tf } from '@bitlens/engine';
import { createKernelRegistry, reference } from '@bitlens/kernels';
import type { Backend } from '@bitlens/kernels';
import { wasmPacked } from '@bitlens/kernels-wasm';
import { MODEL_CONFIG_KEY } from '@bitlens/model';
import { tableFromArrays } from 'apache-arrow';
import type { Table } from 'apache-arrow';
import { lastValueFrom, of, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomWeights } from '../test/fixtures.js';
import {
  PackedInferenceSchema, PackedParitySchema, PackedSpeedSchema, TOLERANCE_BASIS, forwardMacs, measurePackedSpeed, packedInferenceRecord, packedParity,
  packedParityStage, parityTable, tableRows,
} from './index.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await initTfjsBackend('wasm')).tf;
});

/** Counts the kernel calls reaching a backend (to prove that bad input is rejected before any work). */
function counting(b: Backend): { readonly backend: Backend; readonly calls: () => number } {
  let n = 0;
  const kernels = Object.fromEntries(Object.entries(b.kernels).map(([op, k]) => [op, (...args: never[]) => { n++; return (k as (...a: never[]) => unknown)(...args); }]));
  return { backend: { ...b, kernels } as Backend, calls: () => n };
}

describe('packedParityStage', () => {
  const options = () => ({ tf, registry: createKernelRegistry([reference, wasmPacked]), backend: 'wasm-packed', denseBackend: 'reference' } as const);
  it('emits one parity row per model, the config in its metadata, within both tolerances', async () => {
    const t = randomWeights('li', 11, { quantizer: 'ternary-absmean', dModel: 32 }, 3), u = randomWeights('li', 11, { quantizer: 'binary-scaled', dModel: 32 }, 4);
    const out = await lastValueFrom(of(t, u).pipe(packedParityStage({ ...options(), label: 'm' }), toArray()));
    expect(out).toHaveLength(2);
    const [a, b] = out.map((x) => tableRows(x)[0] ?? {});
    expect(out[0]?.schema.fields.map((f) => f.name)).toEqual(PackedParitySchema.fields.map((f) => f.name));
    expect(JSON.parse(out[0]?.schema.metadata.get(MODEL_CONFIG_KEY) ?? '{}').quantizer).toBe('ternary-absmean');
    expect(a).toMatchObject({ model: 'm', quantizer: 'ternary-absmean', precision: 'ternary', p: 11, batch: 121, backend: 'wasm-packed', packed_layers: 6, formula_mismatches: 0, fp32act_within: true, int8_within: true, tolerance_basis: TOLERANCE_BASIS });
    expect(b).toMatchObject({ precision: 'binary', fp32act_within: true, int8_within: true });
    // I2_S rows are whole 32-byte blocks of 128 weights: 32 bytes per output row here (k = 32 or 128), fp32: 4 per weight
    expect(a?.['packed_weight_bytes']).toBe(32 * (4 * 32 + 128 + 32));
    expect(a?.['fp32_weight_bytes']).toBe(4 * (4 * 32 * 32 + 2 * 32 * 128));
    expect(a?.['forward_macs']).toBe(121 * (2 * 3 * 32 * 32 + 2 * 32 * 32 + 2 * 32 * 128 + 32 * 11));
    expect(Number(a?.['fp32act_max_abs_delta'])).toBeLessThan(Number(a?.['fp32act_tolerance']));
    expect(Number(a?.['int8_max_abs_delta'])).toBeGreaterThan(Number(a?.['fp32act_max_abs_delta']));
  });
  it('is deterministic (same row twice) and keeps the engine it was given', async () => {
    const t = randomWeights('nanda', 11, { quantizer: 'binary-sign', dModel: 32 }, 6);
    const [x, y] = [await packedParity(t, options()), await packedParity(t, options())];
    expect(x).toEqual(y);
    expect(tf.getBackend()).toBe('wasm');
  });
  it('rejects an fp32 model before any kernel runs, and a table without weight columns at its input', async () => {
    const c = counting(wasmPacked);
    const stage = packedParityStage({ tf, registry: createKernelRegistry([reference, c.backend]), backend: 'wasm-packed', denseBackend: 'reference' });
    const err = await lastValueFrom(of(randomWeights('li', 11, { dModel: 32 })).pipe(stage)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BitlensError);
    expect([(err as BitlensError).code, (err as BitlensError).site.field]).toEqual(['INVALID_OPTION', 'quantizer']);
    expect(c.calls()).toBe(0);
    const bad: Table = tableFromArrays({ other: new Float32Array([1, 2]) });
    await expect(lastValueFrom(of(bad).pipe(stage))).rejects.toBeInstanceOf(SchemaMismatchError);
  });
  it('rejects a backend without the packed ops before any work', async () => {
    const t = randomWeights('li', 11, { quantizer: 'ternary-absmean', dModel: 32 });
    await expect(packedParity(t, { ...options(), backend: 'gpujs-cpu' })).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', site: { field: 'backend' } });
    await expect(packedParity(t, { ...options(), registry: createKernelRegistry([reference, { ...wasmPacked, kernels: {} }]) })).rejects.toMatchObject({ code: 'KERNEL_NOT_FOUND' });
  });
});

describe('measurePackedSpeed and the joined record', () => {
  it('times the three forwards (positive, MAC rates from forward_macs) and joins them to the parity row by model', async () => {
    const registry = createKernelRegistry([reference, wasmPacked]);
    const t = randomWeights('li', 11, { quantizer: 'ternary-absmean', dModel: 32 }, 3);
    const opts = { tf, registry, backend: 'wasm-packed', denseBackend: 'reference', label: 'tern', rounds: 1 } as const;
    const speed = await measurePackedSpeed(t, opts);
    expect(speed.schema.fields.map((f) => f.name)).toEqual(PackedSpeedSchema.fields.map((f) => f.name));
    const s = tableRows(speed)[0] ?? {};
    for (const k of ['packed_int8_ms', 'packed_fp32act_ms', 'tfjs_fp32_ms']) expect(Number(s[k])).toBeGreaterThan(0);
    expect(Number(s['packed_int8_gmacs']) * Number(s['packed_int8_ms']) * 1e6).toBeCloseTo(forwardMacs(randomWeightsConfig(), 121), -2);
    const record = packedInferenceRecord(parityTable([await packedParity(t, opts)], TOLERANCE_BASIS), speed);
    expect(record.schema.fields.map((f) => f.name)).toEqual(PackedInferenceSchema.fields.map((f) => f.name));
    expect(tableRows(record)[0]).toMatchObject({ model: 'tern', rounds: 1, int8_within: true, packed_int8_ms: s['packed_int8_ms'] });
    const other = parityTable([{ ...(await packedParity(t, opts)), model: 'other' }], TOLERANCE_BASIS);
    expect(() => packedInferenceRecord(other, speed)).toThrow(/NOT_FOUND.*other/);
    await expect(measurePackedSpeed(t, { ...opts, rounds: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTION', site: { field: 'rounds' } });
  });
});

function randomWeightsConfig() {
  return JSON.parse(randomWeights('li', 11, { quantizer: 'ternary-absmean', dModel: 32 }).schema.metadata.get(MODEL_CONFIG_KEY) ?? '{}');
}
