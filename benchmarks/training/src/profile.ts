// Per-op profile of one training epoch (`TrainingRun.step`) on tfjs-wasm: where the milliseconds go, per kernel and per
// phase (forward, backward, optimizer, and the JavaScript/autodiff time between kernels), for the canonical and small
// presets and each precision. Times are CPU time of this process (`process.cpuUsage`), not wall time, so that other
// jobs on a shared machine do not inflate them: kernel times from `tf.profile` with the backend's timer reading CPU
// time (wasm kernels are synchronous), the epoch's CPU time unprofiled. (A kernel that uses helper threads would be
// charged their CPU time too; the wall-time comparison is the epoch benchmark's job.) Prints markdown tables and
// writes results/profile-<date>.json.
// With `--sets`, several kernel sets of @bitlens/engine are profiled in one run, one after the other per config (the
// before and after of each kernel on the same machine state), e.g. the state before issue 13's kernels is
// `explicit-transpose-matmul`:
//   npm run profile -w benchmarks/training [-- --epochs N] [-- --sets 'explicit-transpose-matmul;bitlens'] [-- --only canonical/fp32]
import { BITLENS_KERNELS, type BitlensKernel, configureEngine, type EngineKernels, initTfjsBackend, type Tf } from '@bitlens/engine';
import { datasetTable } from '@bitlens/data';
import { effectiveParams, forwardLast, initParams, toTensors } from '@bitlens/model';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { safeCrossEntropy, trainDataFromTables } from '@bitlens/training';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { benchModel, benchRun, load, median, PRECISIONS, PRESETS, type Preset } from './setup.js';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const EPOCHS = Number(arg('--epochs') ?? 3) || 3;
const SETS: EngineKernels[] = (arg('--sets') ?? 'bitlens').split(';').map((x) => (x === 'bitlens' || x === 'tfjs' ? x : (x.split(',').filter((k) => k.length > 0) as BitlensKernel[])));
const ONLY = arg('--only');
const setName = (k: EngineKernels): string => (typeof k === 'string' ? k : k.length === BITLENS_KERNELS.length ? 'bitlens' : k.join('+') || 'tfjs');
const registry = createQuantizerRegistry();

type Phase = 'forward' | 'backward' | 'optimizer';
/** ms per epoch by kernel name and phase, and kernel calls per epoch. */
type ByKernel = Map<string, { forward: number; backward: number; optimizer: number; calls: number }>;

async function kernelTimes(tf: Tf, f: () => void): Promise<Map<string, { ms: number; calls: number }>> {
  const info = await tf.profile(() => {
    f();
    return [];
  });
  const out = new Map<string, { ms: number; calls: number }>();
  for (const k of info.kernels) {
    // Scopes (customGrad ops) are profiled around the kernels they run: count registered kernels only.
    if (tf.getKernel(k.name, tf.getBackend()) === undefined) continue;
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    // Matrix products are most of an epoch: keep them apart by shape ([M, K] x [K, N] after any transpose).
    const name = k.name === 'BatchMatMul' ? `BatchMatMul ${k.inputShapes.map((sh) => `[${sh.join(',')}]`).join('x')}` : k.name;
    const e = out.get(name) ?? { ms: 0, calls: 0 };
    out.set(name, { ms: e.ms + ms, calls: e.calls + 1 });
  }
  return out;
}

function add(into: ByKernel, from: Map<string, { ms: number; calls: number }>, phase: Phase, sign = 1): void {
  for (const [name, v] of from) {
    const e = into.get(name) ?? { forward: 0, backward: 0, optimizer: 0, calls: 0 };
    e[phase] += (sign * v.ms) / EPOCHS;
    e.calls += (sign * v.calls) / EPOCHS;
    into.set(name, e);
  }
}

/** The forward alone (effective weights, forwardLast, loss), on weights of the same shapes as the run's. */
function forwardOnly(tf: Tf, preset: Preset, precision: string): { run: () => void; dispose: () => void } {
  const cfg = benchModel(preset, precision);
  const d = trainDataFromTables([datasetTable({ task: 'add', p: preset.p, trainFraction: preset.frac, seed: 598 })], preset.p);
  const rows = [...d.isTrain.keys()].filter((i) => d.isTrain[i] === 1);
  const tokens = tf.tensor2d(rows.flatMap((r) => [d.a[r] ?? 0, d.b[r] ?? 0, preset.p]), [rows.length, 3], 'int32');
  const oneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(rows.map((r) => d.label[r] ?? 0), 'int32'), preset.p), 'float32'));
  const latent = toTensors(tf, initParams(cfg, 999));
  return {
    run: () => tf.tidy(() => void safeCrossEntropy(tf, forwardLast(tf, cfg, effectiveParams(tf, cfg, latent, registry), tokens), oneHot).dataSync()),
    dispose: () => tf.dispose([tokens, oneHot, ...latent.values()]),
  };
}

async function profileConfig(tf: Tf, preset: Preset, precision: string): Promise<{ cpuMs: number; kernels: ByKernel }> {
  const run = benchRun(tf, preset, precision);
  const fwd = forwardOnly(tf, preset, precision);
  for (let i = 0; i < 3; i++) [run.step(), fwd.run()];
  const cpu: number[] = [];
  for (let i = 0; i < 5; i++) cpu.push(cpuMs(() => run.step()));
  const kernels: ByKernel = new Map();
  for (let e = 0; e < EPOCHS; e++) {
    let pending: ReturnType<typeof run.gradients> | undefined;
    const fb = await kernelTimes(tf, () => {
      pending = run.gradients(false);
    });
    const opt = await kernelTimes(tf, () => pending?.apply());
    const f = await kernelTimes(tf, fwd.run);
    add(kernels, fb, 'backward');
    add(kernels, f, 'backward', -1); // backward = (forward + backward) - forward, per kernel
    add(kernels, f, 'forward');
    add(kernels, opt, 'optimizer');
  }
  fwd.dispose();
  run.dispose();
  return { cpuMs: median(cpu), kernels };
}

/** CPU ms of this process spent in `f`. */
function cpuMs(f: () => void): number {
  const c = process.cpuUsage();
  f();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1000;
}

const fmt = (x: number): string => (Math.abs(x) < 0.05 ? '0' : x.toFixed(1));
const { tf, info } = await initTfjsBackend('wasm');
type Result = { set: string; preset: string; precision: string; cpuMs: number; load: number; kernels: Record<string, { forward: number; backward: number; optimizer: number; calls: number }> };
const results: Result[] = [];
for (const preset of PRESETS) {
  for (const precision of PRECISIONS) {
    if (ONLY !== undefined && ONLY !== `${preset.name}/${precision}`) continue;
    for (const set of SETS) {
      await configureEngine(tf, { kernels: set });
      // tf.profile times each kernel with the backend's timer: make it read CPU time.
      Object.assign(tf.backend(), { time: async (f: () => void) => ({ kernelMs: cpuMs(f) }) });
      const l = load();
      const r = await profileConfig(tf, preset, precision);
      results.push({ set: setName(set), preset: preset.name, precision, cpuMs: r.cpuMs, load: l, kernels: Object.fromEntries(r.kernels) });
      console.log(`${setName(set)} ${preset.name}/${precision}: epoch ${r.cpuMs.toFixed(1)} CPU ms (load ${l})`);
    }
  }
}
await configureEngine(tf);
if (SETS.length > 1) {
  const names = SETS.map(setName);
  console.log(`\n| preset / precision | ${names.join(' | ')} |\n|---|${names.map(() => '---').join('|')}|`);
  for (const key of [...new Set(results.map((r) => `${r.preset} ${r.precision}`))]) {
    console.log(`| ${key} | ${names.map((n) => fmt(results.find((r) => r.set === n && `${r.preset} ${r.precision}` === key)?.cpuMs ?? NaN)).join(' | ')} |`);
  }
}
const total = (k: { forward: number; backward: number; optimizer: number }): number => k.forward + k.backward + k.optimizer;
console.log('\n| kernels | preset / precision | epoch CPU ms | forward | backward | optimizer | between kernels (JS, autodiff) |\n|---|---|---|---|---|---|---|');
for (const r of results) {
  const ks = Object.values(r.kernels);
  const sum = (ph: Phase): number => ks.reduce((a, k) => a + k[ph], 0);
  const kernelMs = sum('forward') + sum('backward') + sum('optimizer');
  console.log(`| ${r.set} | ${r.preset} ${r.precision} | ${fmt(r.cpuMs)} | ${fmt(sum('forward'))} | ${fmt(sum('backward'))} | ${fmt(sum('optimizer'))} | ${fmt(r.cpuMs - kernelMs)} |`);
}
for (const [set, preset] of SETS.flatMap((k) => PRESETS.map((p) => [setName(k), p] as const))) {
  const rs = results.filter((r) => r.preset === preset.name && r.set === set);
  if (rs.length === 0) continue;
  const names = [...new Set(rs.flatMap((r) => Object.keys(r.kernels)))];
  const fp = rs[0]?.kernels ?? {};
  names.sort((a, b) => total(fp[b] ?? { forward: 0, backward: 0, optimizer: 0 }) - total(fp[a] ?? { forward: 0, backward: 0, optimizer: 0 }));
  console.log(`\n${set}, ${preset.name} (CPU ms per epoch; the first as forward / backward / optimizer)\n\n| kernel | calls | ${rs.map((r) => r.precision).join(' | ')} |\n|---|---|${rs.map(() => '---').join('|')}|`);
  const mm = rs.map((r) => Object.entries(r.kernels).filter(([n]) => n.startsWith('BatchMatMul')).reduce((a, [, k]) => a + total(k), 0));
  console.log(`| BatchMatMul, all shapes | ${Math.round(Object.entries(fp).filter(([n]) => n.startsWith('BatchMatMul')).reduce((a, [, k]) => a + k.calls, 0))} | ${mm.map(fmt).join(' | ')} |`);
  for (const n of names.filter((x) => rs.some((r) => total(r.kernels[x] ?? { forward: 0, backward: 0, optimizer: 0 }) >= 0.3))) {
    const cells = rs.map((r, i) => {
      const k = r.kernels[n];
      if (k === undefined) return '-';
      return i === 0 ? `${fmt(total(k))} (${fmt(k.forward)} / ${fmt(k.backward)} / ${fmt(k.optimizer)})` : fmt(total(k));
    });
    console.log(`| ${n} | ${Math.round(fp[n]?.calls ?? 0)} | ${cells.join(' | ')} |`);
  }
}
const report = { suite: 'training-profile', date: new Date().toISOString(), device: { backend: info.description, sets: SETS.map(setName), cores: cpus().length, node: process.version }, epochs: EPOCHS, results };
const dir = new URL('../results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`profile-${report.date.replace(/[:.]/g, '-')}.json`, dir);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nwrote ${file.pathname}`);
