import { beforeAll, describe, expect, it } from 'vitest';
import { BitlensError } from '@bitlens/core';
import { createKernelRegistry, reference } from '@bitlens/kernels';
import type { Backend, HostTensor } from '@bitlens/kernels';
import { buildCases } from './cases.js';
import type { Case } from './cases.js';
import { isGap, KNOWN_GAPS } from './known-gaps.js';
import { TOLERANCE, worstOutside } from './tolerance.js';

/** In CI every claimed backend must be available: an unavailable one fails instead of skipping. */
export const IN_CI = process.env['CI'] === 'true';

const oracle = createKernelRegistry([reference]);

function isTensor(v: unknown): v is HostTensor {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'data' in v;
}

function compareTensor(backend: Backend, label: string, actual: HostTensor, expected: HostTensor | Float32Array, exact: boolean): void {
  const exp = isTensor(expected) ? expected.data : expected;
  if (isTensor(expected)) {
    expect(actual.dtype, `${label} dtype`).toBe(expected.dtype);
    expect(actual.shape, `${label} shape`).toEqual(expected.shape);
  }
  expect(actual.data.length, `${label} length`).toBe(exp.length);
  if (exact || actual.dtype !== 'float32') {
    expect(Array.from(actual.data), `${label} exact`).toEqual(Array.from(exp));
    return;
  }
  const bad = worstOutside(actual.data, exp, TOLERANCE[backend.name]);
  expect(bad, `${label}: worst element outside tolerance ${JSON.stringify(TOLERANCE[backend.name])}`).toBeUndefined();
}

async function expected(cs: Case): Promise<unknown> {
  if (cs.expect === 'reference') return oracle.run(cs.op, cs.inputs, cs.attrs, 'reference');
  const { a, b, scale } = cs.expect.floatOf;
  const float = await oracle.run('MatMul', { a, b }, { transposeB: true }, 'reference');
  return Float32Array.from(float.data, (v) => v * scale);
}

/**
 * Defines the conformance suite for `backends`: each must be available (CI) or is skipped with a printed reason
 * (elsewhere); each case runs on it unless listed in KNOWN_GAPS, and each listed gap must throw KERNEL_NOT_FOUND.
 */
export function defineConformanceSuite(backends: readonly Backend[]): void {
  const cases = buildCases();
  for (const backend of backends) {
    describe(`${backend.name}`, () => {
      const registry = createKernelRegistry([backend]);
      let available = false;
      let why: string | undefined;
      beforeAll(async () => {
        available = await backend.isAvailable();
        why = backend.unavailableReason?.();
        if (!available && !IN_CI) console.warn(`[conformance] skipping ${backend.name}: unavailable here (${why ?? 'no reason given'})`);
      });
      const guard = (ctx: { skip: (note?: string) => void }): boolean => {
        if (available) return true;
        if (IN_CI) expect.fail(`${backend.name} is claimed but unavailable in CI: ${why ?? 'no reason given'}`);
        ctx.skip();
        return false;
      };

      it(`is available${IN_CI ? ' (required in CI)' : ''}`, (ctx) => {
        if (!guard(ctx)) return;
        expect(backend.info().description.length).toBeGreaterThan(0);
      });

      for (const cs of cases) {
        if (isGap(backend.name, cs.gap)) {
          it(`${cs.name}: listed gap throws KERNEL_NOT_FOUND`, async (ctx) => {
            if (!guard(ctx)) return;
            const err = await registry.run(cs.op, cs.inputs, cs.attrs, backend.name).then(() => undefined, (e: unknown) => e);
            expect(err).toBeInstanceOf(BitlensError);
            expect((err as BitlensError).code).toBe('KERNEL_NOT_FOUND');
          });
          continue;
        }
        it(`${cs.name} matches ${cs.expect === 'reference' ? 'the reference backend' : 'the float product of the same codes'}`, async (ctx) => {
          if (!guard(ctx)) return;
          const [actual, want] = await Promise.all([registry.run(cs.op, cs.inputs, cs.attrs, backend.name), expected(cs)]);
          if (isTensor(actual)) {
            compareTensor(backend, cs.name, actual, want as HostTensor | Float32Array, false);
          } else {
            const got = actual as { codes: HostTensor; scale: HostTensor }, ref = want as { codes: HostTensor; scale: HostTensor };
            compareTensor(backend, `${cs.name} codes`, got.codes, ref.codes, true);
            compareTensor(backend, `${cs.name} scale`, got.scale, ref.scale, false);
          }
        });
      }
    });
  }
}

/** The gap table covers exactly the backends this suite knows (guards against a stale table). */
export function knownGapBackends(): string[] {
  return Object.keys(KNOWN_GAPS);
}
