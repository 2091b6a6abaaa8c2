/** What a benchmark task measures, for tables and derived figures. */
export interface TaskMeta {
  /** Op or stage, e.g. `MatMul`. */
  readonly op?: string;
  /** Backend id, e.g. `tfjs-wasm`. */
  readonly backend?: string;
  /** Shape label, e.g. `1024` or `1x4096x4096`. */
  readonly shape?: string;
  /** What ran it, e.g. `tfjs webgpu on llvmpipe (Mesa …)` (the machine's CPU is in the report header). */
  readonly device?: string;
  /** Worker threads the backend used. */
  readonly threads?: number;
  /** `kernel`: operands resident, compute only; `e2e`: upload, compute and readback to host. */
  readonly mode?: 'kernel' | 'e2e';
  /** Multiply-accumulates per call (for GMAC/s; GFLOP/s = 2 x GMAC/s for fp32). */
  readonly macs?: number;
  /** Name of a task in the same run to state a speedup against (e.g. the fp32 MatMul on the same backend). */
  readonly speedupVs?: string;
}

/** One task of a suite. */
export interface BenchTaskSpec {
  /** `op/backend/shape`, optionally with a `/kernel` or `/e2e` suffix. */
  readonly name: string;
  /** The timed function; may return a Promise (awaited, so GPU readback is inside the timing). */
  readonly fn: () => unknown;
  /**
   * The task this one's time is divided by, measured in the same run (a fixed plain-TS kernel, or the fp32 kernel
   * beside a packed one). Baselines store these ratios; a task that is its own reference has ratio 1.
   */
  readonly reference: string;
  readonly meta?: TaskMeta;
  /** Runs once before warm-up, outside timing (e.g. backend setup). */
  readonly beforeAll?: () => unknown;
  /** Checks the task's result against a reference (outside timing); throws on disagreement. Run in quick mode. */
  readonly verify?: () => Promise<void>;
}

/** A named set of tasks, built on demand (backends are probed when it is built). */
export interface BenchSuite {
  readonly name: string;
  /** Builds the tasks; `quick` asks for small shapes and short runs (CI: proves it runs, not how fast). */
  tasks(options: { readonly quick: boolean }): Promise<readonly BenchTaskSpec[]>;
  /** Releases what `tasks` created (tensors, GPU devices). */
  dispose?(): Promise<void>;
}

/** Timing of one task in one round. */
export interface RoundStats {
  /** Median latency, ms. */
  readonly p50: number;
  readonly mean: number;
  readonly p99: number;
  /** Relative margin of error of the mean, percent. */
  readonly rme: number;
  readonly samples: number;
  /** p50 and rme of the reference task measured right before this one (paired), when it was. */
  readonly refP50?: number;
  readonly refRme?: number;
}

/** Raw measurements of one task over the rounds of a run. */
export interface TaskMeasurement {
  readonly name: string;
  readonly reference: string;
  readonly meta: TaskMeta;
  readonly rounds: readonly RoundStats[];
}

/** One task's summary: times, ratio to its reference, spread of that ratio, and derived rates. */
export interface TaskSummary {
  readonly name: string;
  readonly reference: string;
  readonly meta: TaskMeta;
  readonly p50Ms: number;
  readonly meanMs: number;
  /** Calls per second, 1000 / meanMs. */
  readonly opsPerSec: number;
  readonly p99Ms: number;
  readonly rme: number;
  readonly samples: number;
  /** median over rounds of (p50 of this task / p50 of its reference in the same round). */
  readonly ratio: number;
  /** Half-width of the ratio's uncertainty: the larger of the spread across rounds and the rme-based estimate. */
  readonly spread: number;
  /** Multiply-accumulates per second, when `meta.macs` is known (GMAC/s = value / 1e9). */
  readonly macsPerSec?: number;
  /** MAC rate relative to `meta.speedupVs` (e.g. packed binary over fp32 on the same backend). */
  readonly speedup?: number;
}

/** The JSON a run writes (results/ and --save). */
export interface SuiteReport {
  readonly suite: string;
  readonly created: string;
  readonly quick: boolean;
  readonly rounds: number;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string; readonly platform: string };
  readonly tasks: readonly TaskSummary[];
}
