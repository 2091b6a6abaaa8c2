import { describe, expect, it } from 'vitest';
import { BACKEND_NAMES, reference } from '@bitlens/kernels';
import { createWasmPackedBackend, wasmPacked } from '@bitlens/kernels-wasm';
import { defineConformanceSuite, knownGapBackends } from './suite.js';

defineConformanceSuite([reference, wasmPacked]);

describe('wasm-packed plain SIMD build (no relaxed SIMD)', () => {
  defineConformanceSuite([createWasmPackedBackend({ simd: 'simd' })]);
});

describe('KNOWN_GAPS', () => {
  it('has one entry per backend name', () => {
    expect(knownGapBackends().sort()).toEqual([...BACKEND_NAMES].sort());
  });
});
