// Training-epoch benchmark: one full-batch epoch (last-position forward, safe cross-entropy, backward, AdamW step)
// of the li model on tfjs-wasm, for the canonical (p = 113, train 0.3) and small (p = 59, train 0.6) task presets
// and each precision, beside the same model and step in PyTorch on CPU (the peer, run in the same invocation).
// Reports ms/epoch and the ratio bitlens / PyTorch; writes JSON into results/ (git-ignored).
//   npm run bench -w benchmarks/training            full run
//   npm run bench -w benchmarks/training -- --quick  fewer epochs, fp32 only, no "before" measurement
import { configureEngine, initTfjsBackend, type Tf } from '@bitlens/engine';
import { datasetTable } from '@bitlens/data';
import { modelConfig, type ModelConfig } from '@bitlens/model';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { createTrainingRun, trainDataFromTables } from '@bitlens/training';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Bench } from 'tinybench';

const quick = process.argv.includes('--quick');
const noPeer = process.argv.includes('--no-peer');
const PRESETS = [
  { name: 'canonical', p: 113, frac: 0.3 },
  { name: 'small', p: 59, frac: 0.6 },
] as const;
const PRECISIONS = quick ? ['fp32'] : ['fp32', 'ternary-centred', 'binary-sign'];
const ITERATIONS = quick ? 3 : 10;
const WARMUP = 2;

const registry = createQuantizerRegistry();

/** A ready-to-run epoch of bitlens training: the training run's own step (`TrainingRun.step`), nothing copied. */
function makeEpoch(tf: Tf, cfg: ModelConfig, frac: number): { run: () => void; dispose: () => void; nTrain: number } {
  const data = trainDataFromTables([datasetTable({ task: 'add', p: cfg.p, trainFraction: frac, seed: 598 })], cfg.p);
  const run = createTrainingRun({ tf, registry }, { model: cfg, seed: 999, schedule: { epochs: Number.MAX_SAFE_INTEGER } }, data);
  return { run: () => run.step(), dispose: () => run.dispose(), nTrain: run.trainRows };
}

interface Row {
  task: string;
  preset: string;
  precision: string;
  nTrain: number;
  bitlensMs: number;
  bitlensP99Ms: number;
  torch1Ms?: number;
  torchNMs?: number;
  ratio1?: number;
  ratioN?: number;
}

async function timeTfjs(tf: Tf, label: string, cfg: ModelConfig, frac: number, iterations: number): Promise<{ mean: number; p50: number; p99: number; nTrain: number }> {
  const epoch = makeEpoch(tf, cfg, frac);
  const bench = new Bench({ name: label, time: 0, iterations, warmupTime: 0, warmupIterations: WARMUP });
  bench.add(label, epoch.run);
  await bench.run();
  epoch.dispose();
  const r = bench.tasks[0]?.result;
  if (r?.state !== 'completed') throw new Error(`${label}: ${r?.state ?? 'no result'}`);
  return { mean: r.latency.mean, p50: r.latency.p50, p99: r.latency.p99, nTrain: epoch.nTrain };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : ((s[(s.length - 1) >> 1] ?? NaN) + (s[s.length >> 1] ?? NaN)) / 2;
}

function runPeer(threads: number): Map<string, number> | undefined {
  const configs = PRESETS.flatMap((s) => PRECISIONS.map((precision) => ({ p: s.p, frac: s.frac, precision })));
  const script = new URL('../peer/torch_epoch.py', import.meta.url).pathname;
  try {
    // Debian's python3-torch lives in /usr/bin/python3 (not a pyenv python).
    const out = execFileSync('/usr/bin/python3', [script, JSON.stringify(configs), String(ITERATIONS), String(WARMUP), String(threads)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const parsed = JSON.parse(out) as { torch: string; threads: number; results: { p: number; precision: string; ms: number[] }[] };
    console.log(`PyTorch ${parsed.torch}, ${parsed.threads} thread(s)`);
    return new Map(parsed.results.map((r) => [`${r.p}/${r.precision}`, median(r.ms)]));
  } catch (e) {
    console.warn(`PyTorch peer unavailable (${(e as Error).message.split('\n')[0]}); install with: apt-get install -y python3-torch libopenblas0-pthread`);
    return undefined;
  }
}

const { tf, info } = await initTfjsBackend('wasm');
const rows: Row[] = [];
const before: Record<string, number> = {};
if (!quick) {
  // tfjs's stock kernels (the wasm BatchMatMul's transposed products are 10-25x slower), then bitlens's again.
  configureEngine(tf, { kernels: 'tfjs' });
  for (const s of PRESETS) {
    const r = await timeTfjs(tf, `epoch/tfjs-wasm-stock/${s.name}/fp32`, modelConfig('li', s.p), s.frac, 3);
    before[s.name] = r.p50;
    console.log(`stock BatchMatMul ${s.name} fp32: ${r.p50.toFixed(1)} ms/epoch`);
  }
}
configureEngine(tf);
for (const s of PRESETS) {
  for (const precision of PRECISIONS) {
    const task = `epoch/tfjs-wasm/${s.name}/${precision}`;
    const r = await timeTfjs(tf, task, modelConfig('li', s.p, { quantizer: precision }), s.frac, ITERATIONS);
    rows.push({ task, preset: s.name, precision, nTrain: r.nTrain, bitlensMs: r.p50, bitlensP99Ms: r.p99 });
  }
}
if (!noPeer) {
  const one = runPeer(1);
  const all = runPeer(cpus().length);
  for (const row of rows) {
    const p = PRESETS.find((s) => s.name === row.preset)?.p;
    const t1 = one?.get(`${p}/${row.precision}`);
    const tn = all?.get(`${p}/${row.precision}`);
    if (t1 !== undefined) [row.torch1Ms, row.ratio1] = [t1, row.bitlensMs / t1];
    if (tn !== undefined) [row.torchNMs, row.ratioN] = [tn, row.bitlensMs / tn];
  }
}
console.table(
  rows.map((r) => ({
    task: r.task,
    'bitlens ms (p50)': r.bitlensMs.toFixed(1),
    'torch 1 thread ms': r.torch1Ms?.toFixed(1) ?? '-',
    'ratio (1 thread)': r.ratio1?.toFixed(2) ?? '-',
    [`torch ${cpus().length} threads ms`]: r.torchNMs?.toFixed(1) ?? '-',
    [`ratio (${cpus().length} threads)`]: r.ratioN?.toFixed(2) ?? '-',
  })),
);
const report = {
  suite: 'training-epoch',
  date: new Date().toISOString(),
  quick,
  device: { backend: info.description, tfjs: info.tfjsVersion, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
  method: 'li model (d_model 128, 4 heads, d_mlp 512); one epoch = full-batch last-position forward + safe CE + backward + AdamW; tinybench, p50 over the iterations after warmup; PyTorch peer: same model/step, median, CE in float64',
  stockBatchMatMulMs: before,
  rows,
};
const dir = new URL('../results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`training-epoch-${report.date.replace(/[:.]/g, '-')}.json`, dir);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${file.pathname}`);
