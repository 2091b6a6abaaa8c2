import { BitlensError } from '@bitlens/core';
import { MAX_P, createTaskRegistry, generatePairs, isPrime } from '@bitlens/data';
import { ATTENTION_VARIANTS } from '@bitlens/model';
import { FULL_PRECISION, createQuantizerRegistry } from '@bitlens/quantization';

/** The quantizer name that means "not quantized" (re-exported from @bitlens/quantization, its one home). */
export { FULL_PRECISION };
import { z } from 'zod';
import { checkQueueUrl } from './queue/connection.js';

const STAGE = 'pipeline sweep';

const TASK_NAMES = createTaskRegistry().names() as [string, ...string[]];
const QUANTIZER_NAMES = createQuantizerRegistry().names() as [string, ...string[]];

/** Every setting of one cell, with its schema (one value; an axis is a non-empty list of them). */
const SETTING_SCHEMAS = {
  task: z.enum(TASK_NAMES).describe('operation mod p (every task of @bitlens/data)'),
  quantizer: z.enum(QUANTIZER_NAMES).describe('weight quantizer of the block layers (fp32 = not quantized)'),
  model: z.enum(['li', 'nanda']).describe('architecture preset'),
  attention: z.enum(ATTENTION_VARIANTS).describe('attention variant: vanilla, clipped (clipped softmax) or gated (per-head sigmoid gate), with their default parameters'),
  seed: z.number().int().describe('seed of the parameter init'),
  dataSeed: z.number().int().describe('seed of the train/test split'),
  p: z.number().int().min(3).max(MAX_P).describe('prime modulus'),
  trainFraction: z.number().gt(0).lt(1).describe('fraction of the pairs used for training'),
  lr: z.number().gt(0).describe('AdamW learning rate'),
  weightDecay: z.number().min(0).describe('AdamW decoupled weight decay'),
  epochs: z.number().int().min(1).describe('epoch cap per cell'),
  afterGrok: z.number().int().min(0).describe('stop this many epochs after test accuracy first reaches 0.99, once it is >= 0.99 again'),
  checkpointEvery: z.number().int().min(1).describe('epochs between checkpoints'),
  logEvery: z.number().int().min(1).describe('epochs between logged train/test metrics'),
} as const;

/** The names of the settings a sweep can vary. */
export type SettingName = keyof typeof SETTING_SCHEMAS;
/** Every setting of a cell. */
export type CellSettings = { readonly [K in SettingName]: z.output<(typeof SETTING_SCHEMAS)[K]> };
/** The settings that vary, in the order of the config, each with its values. */
export type Axes = { readonly [K in SettingName]?: readonly CellSettings[K][] };

const SETTING_NAMES = Object.keys(SETTING_SCHEMAS) as SettingName[];

/** The defaults under every sweep (the `small` preset of the main job, fp32, seed 0). */
export const DEFAULT_SETTINGS: Omit<CellSettings, 'dataSeed'> = {
  task: 'add',
  quantizer: FULL_PRECISION,
  model: 'li',
  attention: 'vanilla',
  seed: 0,
  p: 59,
  trainFraction: 0.6,
  lr: 3e-3,
  weightDecay: 1,
  epochs: 3000,
  afterGrok: 300,
  checkpointEvery: 100,
  logEvery: 10,
};

/**
 * Named sweeps. `furuta`: Furuta et al. 2024's operations (add, sub, mul, div, a²+b², a²+ab+b²), each in fp32, ternary
 * and binary, on the `nanda` architecture (positional embedding, causal attention: a `li` model is symmetric in a and
 * b by construction and cannot learn a − b). `bondarenko`: Bondarenko et al. 2023's attention variants (vanilla,
 * clipped softmax, gated) x fp32/ternary/binary on addition, each with its joined record (outliers, W8A8, packed).
 */
export const SWEEP_PRESETS = {
  none: { axes: {}, fixed: {} },
  furuta: {
    axes: { task: ['add', 'sub', 'mul', 'div', 'x2_y2', 'x2_xy_y2'], quantizer: [FULL_PRECISION, 'ternary-absmean', 'binary-scaled'] },
    fixed: { model: 'nanda', p: 59, trainFraction: 0.6, lr: 3e-3, epochs: 3000, afterGrok: 300 },
  },
  bondarenko: {
    axes: { attention: ['vanilla', 'clipped', 'gated'], quantizer: [FULL_PRECISION, 'ternary-absmean', 'binary-scaled'] },
    fixed: { task: 'add' },
    record: true,
  },
} as const satisfies Record<string, { readonly axes: Axes; readonly fixed: Partial<CellSettings>; readonly record?: boolean }>;

/** A preset name. */
export type SweepPresetName = keyof typeof SWEEP_PRESETS;

const axesSchema = z.strictObject(Object.fromEntries(SETTING_NAMES.map((k) => [k, z.array(SETTING_SCHEMAS[k]).min(1, `an axis needs at least one value`).optional()])) as { [K in SettingName]: z.ZodOptional<z.ZodArray<(typeof SETTING_SCHEMAS)[K]>> });
const fixedSchema = z.strictObject(Object.fromEntries(SETTING_NAMES.map((k) => [k, SETTING_SCHEMAS[k].optional()])) as { [K in SettingName]: z.ZodOptional<(typeof SETTING_SCHEMAS)[K]> });

const SweepConfigShape = z.strictObject({
  preset: z.enum(Object.keys(SWEEP_PRESETS) as [SweepPresetName, ...SweepPresetName[]]).default('none').describe('a named sweep (furuta); axes and fixed settings given here override its own'),
  axes: axesSchema.default({}).describe(`settings to vary, each a non-empty list: ${SETTING_NAMES.join(', ')}; cells are their product`),
  fixed: fixedSchema.default({}).describe('settings shared by every cell (defaults: the main job\'s small preset)'),
  workers: z.number().int().min(0).max(256).optional().describe('worker threads that run cells at once (default: the number of cores; 0 = in this process)'),
  queue: z.string().optional().describe('redis://HOST:PORT[/DB]: run the cells on `bitlens worker`s taking them from this Redis (BullMQ) instead of worker threads here'),
  maxCells: z.number().int().min(1).default(200).describe('refuse a sweep with more cells than this'),
  record: z.boolean().optional().describe('also compute each model\'s joined record: outliers, W8A8 post-training quantization and its circuit fidelity, packed inference of ternary/binary models (parity, speed); default: the preset\'s (bondarenko: on), else off'),
  backend: z.string().default('wasm').describe('tfjs backend of the workers: wasm, cpu, webgpu, tensorflow'),
  out: z.string().min(1).default('sweep-report.html').describe('path of the HTML sweep report'),
});

/** Config of `bitlens run sweep` (a JSON or YAML file given with --config, or --set). */
export const SweepConfig = SweepConfigShape
  // Every cell is checked with the config, before anything runs or is written: an error names the axis and the value.
  .superRefine((c, ctx) => {
    try {
      resolveSweep(c);
    } catch (e) {
      if (!(e instanceof BitlensError)) throw e;
      ctx.addIssue({ code: 'custom', path: (e.site.field ?? 'axes').split('.'), message: `expected ${e.site.expected ?? 'a valid value'}, found ${e.site.found ?? '?'}` });
    }
  });

/** The validated config. */
export type SweepConfigOutput = z.output<typeof SweepConfigShape>;

/** One point of the product of the axes. */
export interface Cell {
  /** `key=value` of every axis, joined by `,` (e.g. `task=add,quantizer=fp32`); `all` when nothing varies. */
  readonly id: string;
  readonly index: number;
  readonly settings: CellSettings;
  /** The values of the axes only. */
  readonly axes: Readonly<Partial<Record<SettingName, string | number>>>;
  /** The cell with the same settings but quantizer fp32, when the sweep has it (the verdict's reference). */
  readonly sibling?: string;
}

/** A resolved sweep: the axes in order and every cell, validated. */
export interface ResolvedSweep {
  readonly preset: SweepPresetName;
  readonly axes: Axes;
  readonly cells: readonly Cell[];
  readonly backend: string;
  readonly out: string;
  readonly workers: number | undefined;
  /** Whether each cell computes its joined record (see `CellRecord`). */
  readonly record: boolean;
  /** The queue the cells go to (`redis://…`), when they run on `bitlens worker`s. */
  readonly queue: string | undefined;
}

function fail(field: string, expected: string, found: string, detail?: string): never {
  throw new BitlensError('INVALID_CONFIG', { stage: STAGE, field, expected, found }, detail);
}

/** Applies the preset under the config's own axes and fixed settings; refuses a setting that is both. */
function mergedAxes(c: SweepConfigOutput): { axes: Axes; fixed: Partial<CellSettings> } {
  const preset = SWEEP_PRESETS[c.preset];
  const own = Object.fromEntries(Object.entries(c.axes).filter(([, v]) => v !== undefined)) as Axes;
  const fixed = { ...(preset.fixed as Partial<CellSettings>), ...(Object.fromEntries(Object.entries(c.fixed).filter(([, v]) => v !== undefined)) as Partial<CellSettings>) };
  const axes: Record<string, readonly unknown[]> = { ...(preset.axes as Axes), ...own };
  for (const k of Object.keys(c.fixed) as SettingName[]) {
    if (c.fixed[k] !== undefined && c.axes[k] !== undefined) fail(`fixed.${k}`, `a setting that is not also an axis (axes.${k})`, JSON.stringify(c.fixed[k]));
    if (c.fixed[k] !== undefined && axes[k] !== undefined && c.axes[k] === undefined) delete axes[k]; // fixed overrides a preset axis
  }
  return { axes: axes as Axes, fixed };
}

/** Checks what zod cannot: p prime, a split with both train and test pairs, in every cell. */
function checkCell(s: CellSettings, where: (k: SettingName) => string): void {
  if (!isPrime(s.p)) fail(where('p'), 'a prime', String(s.p));
  const pairs = generatePairs(s.task, s.p).a.length;
  const nTrain = Math.floor(s.trainFraction * pairs);
  if (nTrain < 1 || nTrain >= pairs) {
    fail(where('trainFraction'), `a fraction giving 1..${pairs - 1} training pairs of the ${pairs} pairs of ${s.task} mod ${s.p}`, `${s.trainFraction} (${nTrain} training pairs)`);
  }
}

/**
 * Expands the config into its cells (the product of the axes in config order, the last axis varying fastest) and
 * validates every cell before anything runs: a non-prime p or an impossible train fraction in any cell is an
 * INVALID_CONFIG error naming the axis (or fixed key) and the value; more cells than `maxCells` is refused with the
 * count.
 */
export function resolveSweep(c: SweepConfigOutput): ResolvedSweep {
  const { axes, fixed } = mergedAxes(c);
  const names = Object.keys(axes) as SettingName[];
  const count = names.reduce((n, k) => n * (axes[k]?.length ?? 1), 1);
  if (count > c.maxCells) fail('maxCells', `a sweep of at most ${c.maxCells} cells (raise maxCells to run it)`, `${count} cells (${names.map((k) => `${k}: ${axes[k]?.length}`).join(' x ')})`);
  const cells: Cell[] = [];
  const base = { ...DEFAULT_SETTINGS, ...fixed };
  const rec = (i: number, chosen: Partial<Record<SettingName, string | number>>): void => {
    if (i === names.length) {
      const merged = { ...base, ...chosen } as Omit<CellSettings, 'dataSeed'> & { dataSeed?: number };
      const settings: CellSettings = { ...merged, dataSeed: merged.dataSeed ?? merged.seed };
      checkCell(settings, (k) => (k in chosen ? `axes.${k}` : `fixed.${k}`));
      const id = names.length === 0 ? 'all' : names.map((k) => `${k}=${String(chosen[k])}`).join(',');
      cells.push({ id, index: cells.length, settings, axes: { ...chosen } });
      return;
    }
    const k = names[i] as SettingName;
    for (const v of axes[k] ?? []) rec(i + 1, { ...chosen, [k]: v });
  };
  rec(0, {});
  const ids = new Set(cells.map((x) => x.id));
  if (ids.size !== cells.length) fail('axes', 'distinct values on every axis', 'a repeated value');
  const withSiblings = cells.map((cell) => {
    if (cell.settings.quantizer === FULL_PRECISION || axes.quantizer === undefined) return cell;
    const sib = cells.find((o) => o.settings.quantizer === FULL_PRECISION && names.every((k) => k === 'quantizer' || o.axes[k] === cell.axes[k]));
    return sib === undefined ? cell : { ...cell, sibling: sib.id };
  });
  const p = SWEEP_PRESETS[c.preset];
  const presetRecord = 'record' in p ? p.record : undefined;
  if (c.queue !== undefined) {
    checkQueueUrl(c.queue);
    if (c.workers !== undefined) fail('workers', 'no local worker threads with a queue (start `bitlens worker --concurrency N` on each machine)', String(c.workers));
  }
  return { preset: c.preset, axes, cells: withSiblings, backend: c.backend, out: c.out, workers: c.workers, queue: c.queue, record: c.record ?? presetRecord ?? false };
}
