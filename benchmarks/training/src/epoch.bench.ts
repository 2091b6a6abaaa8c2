// Training-epoch benchmark: one full-batch epoch (last-position forward, safe cross-entropy, backward, AdamW step)
// of the li model on tfjs-wasm, for the canonical (p = 113, train 0.3) and small (p = 59, train 0.6) task presets and
// each precision, beside the same model and step in PyTorch on CPU in three thread settings: 1 thread (PyTorch's
// and OpenBLAS's), all threads (both), and PyTorch's default here after set_num_threads(1) (1 intra-op thread, the
// matrix products in OpenBLAS's own pool on all cores; set_num_threads does not reach that pool). bitlens runs with
// all cores (its GEMM split over them: a single run alone) and with one thread (what each run of a full worker pool
// gets). All are interleaved config by config and repeated (rounds), so that a change of machine load hits them
// alike; the ratio is taken within each round against the fastest PyTorch configuration, and its median and range
// reported. The one-thread configurations are also compared by CPU time per epoch (bitlens / PyTorch on one thread),
// which other jobs on a shared machine inflate far less than wall time. Writes JSON into results/ (git-ignored).
//   npm run bench -w benchmarks/training                 full run (3 rounds)
//   npm run bench -w benchmarks/training -- --quick      fp32 only, 1 round, fewer epochs
//   options: --rounds N, --no-peer, --before (also the kernels before issue 13: explicit-transpose matmul only,
//   one-hot embedding, unfused MLP), --stock (also fp32 on tfjs's stock kernels)
import { configureEngine, type EngineKernels, initTfjsBackend, type Tf } from '@bitlens/engine';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Bench } from 'tinybench';
import { benchRun, load, median, type Peer, PRECISIONS, PRESETS, type Preset, startPeer } from './setup.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const ROUNDS = Number(flag('--rounds') ?? (quick ? 1 : 3));
const precisions: readonly string[] = quick ? ['fp32'] : PRECISIONS;
const ITERATIONS = quick ? 3 : 10;
const WARMUP = 2;
const CORES = cpus().length;

/** p50 wall ms and median CPU ms of one bitlens epoch (`TrainingRun.step`) over ITERATIONS epochs after WARMUP. */
async function timeBitlens(tf: Tf, preset: Preset, precision: string, iterations = ITERATIONS): Promise<{ ms: number; cpuMs: number; nTrain: number }> {
  const run = benchRun(tf, preset, precision);
  const cpu: number[] = [];
  const bench = new Bench({ name: precision, time: 0, iterations, warmupTime: 0, warmupIterations: WARMUP });
  bench.add(precision, () => {
    const c = process.cpuUsage();
    run.step();
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  });
  await bench.run();
  run.dispose();
  const r = bench.tasks[0]?.result;
  if (r?.state !== 'completed') throw new Error(`${preset.name}/${precision}: ${r?.state ?? 'no result'}`);
  return { ms: r.latency.p50, cpuMs: median(cpu.slice(-iterations)), nTrain: run.trainRows };
}

/** bitlens configurations timed in each round: name, kernels, threads. */
const VARIANTS: readonly { readonly name: 'bitlens' | 'bitlens1' | 'before'; readonly kernels: EngineKernels; readonly threads: number }[] = [
  { name: 'bitlens', kernels: 'bitlens', threads: CORES },
  ...(CORES > 1 ? [{ name: 'bitlens1' as const, kernels: 'bitlens' as const, threads: 1 }] : []),
  ...(argv.includes('--before') ? [{ name: 'before' as const, kernels: ['explicit-transpose-matmul'] as const, threads: 1 }] : []),
];

interface Round {
  readonly bitlensMs: number;
  readonly bitlens1Ms?: number;
  readonly beforeMs?: number;
  /** CPU ms per epoch of the one-thread configurations (bitlens, before, PyTorch): robust to other jobs' load. */
  readonly bitlens1CpuMs?: number;
  readonly beforeCpuMs?: number;
  readonly torch1CpuMs?: number;
  readonly torch1Ms?: number;
  readonly torchNMs?: number;
  /** PyTorch with 1 intra-op thread and OpenBLAS on all cores. */
  readonly torchBlasNMs?: number;
  readonly load: number;
}

interface Row {
  task: string;
  preset: string;
  precision: string;
  nTrain: number;
  /** Medians over the rounds: bitlens on all cores, on one thread, and (with --before) before issue 13's kernels. */
  bitlensMs: number;
  bitlens1Ms?: number;
  beforeMs?: number;
  /** PyTorch medians: 1 thread (PyTorch and OpenBLAS), all threads (both), 1 PyTorch thread with OpenBLAS on all. */
  torch1Ms?: number;
  torchNMs?: number;
  torchBlasNMs?: number;
  /** bitlensMs / torch1Ms and bitlensMs / torchNMs (of the medians). */
  ratio1?: number;
  ratioN?: number;
  /** One thread each, CPU time: bitlens / PyTorch and before / PyTorch, medians over the rounds (robust to load). */
  cpuRatio1?: number;
  beforeCpuRatio1?: number;
  /** bitlens / the fastest PyTorch configuration of the same round: median, min, max over the rounds. */
  ratio?: number;
  ratioMin?: number;
  ratioMax?: number;
  rounds: Round[];
}

async function measureRound(tf: Tf, peer: Peer | undefined, preset: Preset, precision: string): Promise<Round & { nTrain: number }> {
  const l = load();
  const ms: Partial<Record<(typeof VARIANTS)[number]['name'], number>> = {};
  const cpu: Partial<Record<(typeof VARIANTS)[number]['name'], number>> = {};
  let nTrain = 0;
  for (const v of VARIANTS) {
    await configureEngine(tf, { kernels: v.kernels, threads: v.threads });
    const b = await timeBitlens(tf, preset, precision);
    ms[v.name] = b.ms;
    cpu[v.name] = b.cpuMs;
    nTrain = b.nTrain;
  }
  await configureEngine(tf);
  const t1 = await peer?.measure(preset, precision, ITERATIONS, WARMUP, 1);
  const tn = CORES > 1 ? await peer?.measure(preset, precision, ITERATIONS, WARMUP, CORES) : undefined;
  const tb = CORES > 1 ? await peer?.measure(preset, precision, ITERATIONS, WARMUP, 1, CORES) : undefined;
  return {
    bitlensMs: ms.bitlens ?? NaN,
    nTrain,
    load: l,
    ...(ms.bitlens1 === undefined ? {} : { bitlens1Ms: ms.bitlens1 }),
    ...(ms.before === undefined ? {} : { beforeMs: ms.before, beforeCpuMs: cpu.before ?? NaN }),
    ...(CORES === 1 ? { bitlens1CpuMs: cpu.bitlens ?? NaN } : cpu.bitlens1 === undefined ? {} : { bitlens1CpuMs: cpu.bitlens1 }),
    ...(t1 === undefined ? {} : { torch1Ms: median(t1.ms), torch1CpuMs: median(t1.cpu_ms) }),
    ...(tn === undefined ? {} : { torchNMs: median(tn.ms) }),
    ...(tb === undefined ? {} : { torchBlasNMs: median(tb.ms) }),
  };
}

function summarise(preset: Preset, precision: string, nTrain: number, rounds: Round[]): Row {
  const pick = (f: (r: Round) => number | undefined): number[] => rounds.map(f).filter((x): x is number => x !== undefined);
  const ratios = rounds.flatMap((r) => {
    const peer = Math.min(r.torch1Ms ?? Infinity, r.torchNMs ?? Infinity, r.torchBlasNMs ?? Infinity);
    return Number.isFinite(peer) ? [r.bitlensMs / peer] : [];
  });
  const t1 = pick((r) => r.torch1Ms);
  const tn = pick((r) => r.torchNMs);
  const tb = pick((r) => r.torchBlasNMs);
  const bitlensMs = median(pick((r) => r.bitlensMs));
  const cpuRatio = (f: (r: Round) => number | undefined): number[] => pick((r) => (f(r) === undefined || r.torch1CpuMs === undefined ? undefined : (f(r) as number) / r.torch1CpuMs));
  const cpu1 = cpuRatio((r) => r.bitlens1CpuMs);
  const cpuBefore = cpuRatio((r) => r.beforeCpuMs);
  const one = pick((r) => r.bitlens1Ms);
  const before = pick((r) => r.beforeMs);
  return {
    task: `epoch/tfjs-wasm/${preset.name}/${precision}`,
    preset: preset.name,
    precision,
    nTrain,
    bitlensMs,
    ...(one.length === 0 ? {} : { bitlens1Ms: median(one) }),
    ...(before.length === 0 ? {} : { beforeMs: median(before) }),
    ...(cpu1.length === 0 ? {} : { cpuRatio1: median(cpu1) }),
    ...(cpuBefore.length === 0 ? {} : { beforeCpuRatio1: median(cpuBefore) }),
    ...(t1.length === 0 ? {} : { torch1Ms: median(t1), ratio1: bitlensMs / median(t1) }),
    ...(tn.length === 0 ? {} : { torchNMs: median(tn), ratioN: bitlensMs / median(tn) }),
    ...(tb.length === 0 ? {} : { torchBlasNMs: median(tb) }),
    ...(ratios.length === 0 ? {} : { ratio: median(ratios), ratioMin: Math.min(...ratios), ratioMax: Math.max(...ratios) }),
    rounds,
  };
}

const { tf, info } = await initTfjsBackend('wasm');
const peer = argv.includes('--no-peer') ? undefined : await startPeer();
const loadBefore = load();
const stock: Record<string, number> = {};
if (argv.includes('--stock')) {
  await configureEngine(tf, { kernels: 'tfjs' });
  for (const s of PRESETS) stock[s.name] = (await timeBitlens(tf, s, 'fp32', 3)).ms;
  await configureEngine(tf);
  console.log(`tfjs stock kernels, fp32 ms/epoch: ${JSON.stringify(stock)}`);
}
const perConfig = new Map<string, { preset: Preset; precision: string; nTrain: number; rounds: Round[] }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const preset of PRESETS) {
    for (const precision of precisions) {
      const r = await measureRound(tf, peer, preset, precision);
      const key = `${preset.name}/${precision}`;
      const entry = perConfig.get(key) ?? { preset, precision, nTrain: r.nTrain, rounds: [] };
      const { nTrain: _n, ...round1 } = r;
      entry.rounds.push(round1);
      perConfig.set(key, entry);
      console.log(`round ${round + 1}/${ROUNDS} ${key}: bitlens ${r.bitlensMs.toFixed(1)} ms (${CORES} threads), ${r.bitlens1Ms?.toFixed(1) ?? '-'} (1 thread), before ${r.beforeMs?.toFixed(1) ?? '-'}; torch 1 thread ${r.torch1Ms?.toFixed(1) ?? '-'}, ${CORES} threads ${r.torchNMs?.toFixed(1) ?? '-'}, 1 + BLAS ${CORES} ${r.torchBlasNMs?.toFixed(1) ?? '-'} (load ${r.load})`);
    }
  }
}
peer?.close();
const rows = [...perConfig.values()].map((c) => summarise(c.preset, c.precision, c.nTrain, c.rounds));
console.table(
  rows.map((r) => ({
    task: r.task,
    ...(r.beforeMs === undefined ? {} : { 'before ms': r.beforeMs.toFixed(1) }),
    [`bitlens ${CORES} threads ms`]: r.bitlensMs.toFixed(1),
    'bitlens 1 thread ms': r.bitlens1Ms?.toFixed(1) ?? '-',
    'torch 1 thread ms': r.torch1Ms?.toFixed(1) ?? '-',
    [`torch ${CORES} threads ms`]: r.torchNMs?.toFixed(1) ?? '-',
    [`torch 1 + BLAS ${CORES} ms`]: r.torchBlasNMs?.toFixed(1) ?? '-',
    'ratio vs fastest torch': r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)} (${r.ratioMin?.toFixed(2)}-${r.ratioMax?.toFixed(2)})`,
    'CPU ratio, 1 thread (before)': r.cpuRatio1 === undefined ? '-' : `${r.cpuRatio1.toFixed(2)}${r.beforeCpuRatio1 === undefined ? '' : ` (${r.beforeCpuRatio1.toFixed(2)})`}`,
  })),
);
const report = {
  suite: 'training-epoch',
  date: new Date().toISOString(),
  quick,
  device: { backend: info.description, kernels: info.config.kernels, tfjs: info.tfjsVersion, cpu: cpus()[0]?.model ?? 'unknown', cores: CORES, node: process.version },
  load: { before: loadBefore, after: load() },
  method: `li model (d_model 128, 4 heads, d_mlp 512); one epoch = TrainingRun.step (full-batch last-position forward + safe CE + backward + AdamW); tinybench p50 of ${ITERATIONS} epochs after ${WARMUP}; bitlensMs: engine threads = ${CORES}, bitlens1Ms: 1 thread${argv.includes('--before') ? ', beforeMs: explicit-transpose matmul only, 1 thread' : ''}; PyTorch peer: same model/step, CE in float64, median of as many epochs, 1 thread (PyTorch and OpenBLAS), ${CORES} threads (both), and 1 PyTorch thread with OpenBLAS on ${CORES} (torchBlasNMs); all interleaved per config, ${ROUNDS} round(s); ratio = bitlensMs / fastest torch of the same round`,
  stockKernelsMs: stock,
  rows,
};
const dir = new URL('../results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`training-epoch-${report.date.replace(/[:.]/g, '-')}.json`, dir);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${file.pathname}`);
