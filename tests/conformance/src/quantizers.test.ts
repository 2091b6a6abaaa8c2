import { beforeAll, describe, expect, it } from 'vitest';
import { initTfjsBackend, probeTfjsBackend } from '@bitlens/engine';
import type { Tf } from '@bitlens/engine';
import { HOST_QUANTIZERS, activationInt8Host, isHostQuantizerName, randomTensor } from '@bitlens/kernels';
import type { HostQuantizerName } from '@bitlens/kernels';
import { BUILTIN_QUANTIZERS, activationInt8Codes, quantizeActivationsInt8, steQuantize } from '@bitlens/quantization';
import type { WeightQuantizer } from '@bitlens/quantization';
import { IN_CI } from './suite.js';

// @bitlens/quantization's STE forward (tf ops, what training multiplies by) against the one host definition of each
// quantizer in @bitlens/kernels, on every tfjs engine. Codes must be equal; the scale is a float32 mean whose last
// bits depend on the engine's float32 summation order: it may differ from the correctly rounded one by up to the
// worst-case bound of recursive float32 summation, n * 2^-24 relative for n terms (measured: 7 ulps on tfjs-wasm for
// the 903-element centred case, where the float32 mean's error also shifts every centred value).
const ENGINES = ['cpu', 'wasm', 'webgpu'] as const;
const scaleTolerance = (n: number, scale: number): number => Math.max(1, n) * 2 ** -24 * Math.abs(scale);

interface QCase { readonly name: string; readonly shape: readonly number[]; readonly data: Float32Array }
const shifted = (seed: number, n: number, scale: number, shift: number): Float32Array => Float32Array.from(randomTensor([n], { seed }).data, (v) => v * scale + shift);
const CASES: readonly QCase[] = [
  { name: 'uniform 24x40', shape: [24, 40], data: randomTensor([24, 40], { seed: 8 }).data },
  { name: 'shifted 7x129 (centring matters)', shape: [7, 129], data: shifted(9, 7 * 129, 0.2, 0.05) },
  { name: 'small 3x5x6 (a weight of shape [h, d, dh])', shape: [3, 5, 6], data: shifted(10, 90, 0.02, -0.003) },
  { name: 'hand check [0.5, -0.05, 1.2, -0.9]', shape: [4], data: Float32Array.from([0.5, -0.05, 1.2, -0.9]) },
  { name: 'exact ties [-1.5, -0.5, 0.5, 1.5]', shape: [4], data: Float32Array.from([-1.5, -0.5, 0.5, 1.5]) },
];

const quantizers = BUILTIN_QUANTIZERS.filter((q): q is WeightQuantizer & { name: HostQuantizerName } => isHostQuantizerName(q.name));

describe('the quantizers with host formulas are exactly the four built-ins with codes', () => {
  it('lists them', () => {
    expect(quantizers.map((q) => q.name)).toEqual(Object.keys(HOST_QUANTIZERS));
    expect(BUILTIN_QUANTIZERS.filter((q) => !q.identity).map((q) => q.name)).toEqual(Object.keys(HOST_QUANTIZERS));
  });
});

for (const engine of ENGINES) {
  describe(`STE forward on tfjs-${engine} equals @bitlens/kernels' formulas`, () => {
    let tf: Tf | undefined;
    let why: string | undefined;
    beforeAll(async () => {
      const probe = await probeTfjsBackend(engine);
      why = probe.reason;
      if (probe.available) tf = (await initTfjsBackend(engine)).tf;
      else if (!IN_CI) console.warn(`[conformance] skipping quantizers on tfjs-${engine}: unavailable here (${why ?? 'no reason given'})`);
    });
    for (const q of quantizers) {
      for (const cs of CASES) {
        it(`${q.name}, ${cs.name}`, async (ctx) => {
          if (tf === undefined) {
            if (IN_CI) expect.fail(`tfjs-${engine} is claimed but unavailable in CI: ${why ?? 'no reason given'}`);
            ctx.skip();
            return;
          }
          const t = tf;
          await t.setBackend(engine); // every describe starts its own engine: make sure this one is active
          const w = t.tensor(cs.data, [...cs.shape], 'float32');
          const value = steQuantize(t, q, w), codes = q.codes?.(t, w);
          if (codes === undefined) throw new Error(`${q.name} has no codes function`);
          const [v, c, s] = await Promise.all([value.data(), codes.codes.data(), codes.scale.data()]);
          t.dispose([w, value, codes.codes, codes.scale]);
          const want = HOST_QUANTIZERS[q.name](cs.data), scale = s[0] ?? NaN;
          expect(Array.from(c), 'codes').toEqual(Array.from(want.codes));
          expect(Math.abs(scale - want.scale), `scale ${scale} vs ${want.scale}`).toBeLessThanOrEqual(scaleTolerance(cs.data.length, want.scale));
          // the forward value is the engine's own scale times the code, one float32 product per element
          expect(Array.from(v), 'values').toEqual(Array.from(want.codes, (k) => Math.fround(k * scale)));
        });
      }
    }
    // int8 activations: max is exact and every step is one float32 operation, so codes and scales must be equal
    const acts: readonly QCase[] = [
      { name: 'uniform 37x24', shape: [37, 24], data: randomTensor([37, 24], { seed: 21 }).data },
      { name: 'rows of very different size, a zero row, an exact tie (0.5 * 127 = 63.5)', shape: [3, 4], data: Float32Array.from([1e3, -2e3, 7, 0, 0, 0, 0, 0, 1, 0.5, -0.5, 0.25]) },
    ];
    for (const cs of acts) {
      it(`int8 activations (absmax per row), ${cs.name}`, async (ctx) => {
        if (tf === undefined) {
          if (IN_CI) expect.fail(`tfjs-${engine} is claimed but unavailable in CI: ${why ?? 'no reason given'}`);
          ctx.skip();
          return;
        }
        const t = tf;
        await t.setBackend(engine);
        const x = t.tensor(cs.data, [...cs.shape], 'float32');
        const q = activationInt8Codes(t, x), fake = quantizeActivationsInt8(t, x);
        const [c, s, f] = await Promise.all([q.codes.data(), q.scale.data(), fake.data()]);
        t.dispose([x, q.codes, q.scale, fake]);
        const rows = cs.shape[0] ?? 0, k = cs.shape[1] ?? 0, want = activationInt8Host(cs.data, rows, k);
        expect(Array.from(c), 'codes').toEqual(Array.from(want.codes));
        expect(Array.from(s), 'scales').toEqual(Array.from(want.scales));
        // the STE forward value is code / s, one float32 division per element
        expect(Array.from(f), 'values').toEqual(Array.from(want.codes, (v, i) => Math.fround(v / (want.scales[Math.floor(i / k)] ?? 1))));
      });
    }
  });
}
