// What the training benchmarks share: the task presets, the precisions, an epoch of bitlens training (the training
// run's own step) and the PyTorch peer as a server, so that its measurements interleave with bitlens's.
import { datasetTable } from '@bitlens/data';
import type { Tf } from '@bitlens/engine';
import { modelConfig, type ModelConfig } from '@bitlens/model';
import { createQuantizerRegistry } from '@bitlens/quantization';
import { createTrainingRun, trainDataFromTables, type TrainingRun } from '@bitlens/training';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';

/** The two task presets (p, train fraction) of the benchmark. */
export const PRESETS = [
  { name: 'canonical', p: 113, frac: 0.3 },
  { name: 'small', p: 59, frac: 0.6 },
] as const;
/** One preset. */
export type Preset = (typeof PRESETS)[number];
/** The precisions compared (the peer implements the same three quantizers). */
export const PRECISIONS = ['fp32', 'ternary-centred', 'binary-sign'] as const;

const registry = createQuantizerRegistry();

/** The li model (d_model 128, 4 heads, d_mlp 512) of a preset in a precision. */
export function benchModel(preset: Preset, precision: string): ModelConfig {
  return modelConfig('li', preset.p, { quantizer: precision });
}

/** A training run of the benchmark's model on the preset's dataset, ready to step (the caller disposes it). */
export function benchRun(tf: Tf, preset: Preset, precision: string): TrainingRun {
  const data = trainDataFromTables([datasetTable({ task: 'add', p: preset.p, trainFraction: preset.frac, seed: 598 })], preset.p);
  return createTrainingRun({ tf, registry }, { model: benchModel(preset, precision), seed: 999, schedule: { epochs: Number.MAX_SAFE_INTEGER } }, data);
}

/** Median of a list (NaN when empty). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : ((s[(s.length - 1) >> 1] ?? NaN) + (s[s.length >> 1] ?? NaN)) / 2;
}

/** The 1-minute load average, for the record beside every figure. */
export function load(): number {
  return Number((loadavg()[0] ?? NaN).toFixed(2));
}

/** One answer of the peer. */
export interface PeerResult {
  readonly torch: string;
  readonly threads: number;
  /** OpenBLAS's own thread pool as the library reports it (null when no OpenBLAS is loaded). */
  readonly blas_threads: number | null;
  readonly n_train: number;
  readonly ms: readonly number[];
  /** Process CPU time per epoch (all threads). */
  readonly cpu_ms: readonly number[];
}

/** The PyTorch peer (`peer/torch_epoch.py`) as a long-lived process: one request at a time. */
export interface Peer {
  /** `threads` PyTorch threads, and `blasThreads` OpenBLAS threads (default: as many). */
  measure(preset: Preset, precision: string, epochs: number, warmup: number, threads: number, blasThreads?: number): Promise<PeerResult>;
  close(): void;
}

/** Starts the peer with Debian's python3-torch (`/usr/bin/python3`); undefined, with a hint, when torch is missing. */
export async function startPeer(): Promise<Peer | undefined> {
  const script = new URL('../peer/torch_epoch.py', import.meta.url).pathname;
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'pipe' });
    const ok = await new Promise<boolean>((r) => child.on('exit', (c) => r(c === 0)).on('error', () => r(false)));
    if (!ok) throw new Error('no torch in /usr/bin/python3');
    child = spawn('/usr/bin/python3', [script], { stdio: 'pipe' });
  } catch (e) {
    console.warn(`PyTorch peer unavailable (${(e as Error).message}); install with: apt-get install -y python3-torch libopenblas0-pthread`);
    return undefined;
  }
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const proc = child;
  return {
    async measure(preset, precision, epochs, warmup, threads, blasThreads = threads) {
      proc.stdin.write(`${JSON.stringify({ p: preset.p, frac: preset.frac, precision, epochs, warmup, threads, blas_threads: blasThreads })}\n`);
      const next = await lines.next();
      if (next.done === true) throw new Error('the PyTorch peer exited');
      return JSON.parse(next.value) as PeerResult;
    },
    close: () => proc.stdin.end('\n'),
  };
}
