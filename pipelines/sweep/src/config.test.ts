import { describe, expect, it } from 'vitest';
import { SweepConfig, resolveSweep } from './config.js';

const parse = (raw: unknown) => SweepConfig.safeParse(raw);
const problem = (raw: unknown): string => {
  const r = parse(raw);
  if (r.success) return 'ok';
  return r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
};

describe('sweep config', () => {
  it('expands the product of the axes in config order, the last axis fastest, with readable ids and fp32 siblings', () => {
    const r = resolveSweep(SweepConfig.parse({ axes: { task: ['add', 'mul'], quantizer: ['fp32', 'binary-scaled', 'ternary-absmean'] }, fixed: { p: 31 } }));
    expect(r.cells.map((c) => c.id)).toEqual([
      'task=add,quantizer=fp32',
      'task=add,quantizer=binary-scaled',
      'task=add,quantizer=ternary-absmean',
      'task=mul,quantizer=fp32',
      'task=mul,quantizer=binary-scaled',
      'task=mul,quantizer=ternary-absmean',
    ]);
    expect(r.cells.map((c) => c.sibling ?? null)).toEqual([null, 'task=add,quantizer=fp32', 'task=add,quantizer=fp32', null, 'task=mul,quantizer=fp32', 'task=mul,quantizer=fp32']);
    expect(r.cells[4]?.settings).toMatchObject({ task: 'mul', quantizer: 'binary-scaled', p: 31, model: 'li', seed: 0, dataSeed: 0 });
  });

  it('a quantizer axis without fp32 gives no siblings; no axes gives one cell', () => {
    expect(resolveSweep(SweepConfig.parse({ axes: { quantizer: ['binary-sign', 'binary-scaled'] } })).cells.every((c) => c.sibling === undefined)).toBe(true);
    expect(resolveSweep(SweepConfig.parse({})).cells.map((c) => c.id)).toEqual(['all']);
  });

  it('the furuta preset is 6 tasks x 3 precisions on the nanda architecture; fixed settings override the preset', () => {
    const r = resolveSweep(SweepConfig.parse({ preset: 'furuta', fixed: { seed: 3 } }));
    expect(r.cells).toHaveLength(18);
    expect(new Set(r.cells.map((c) => c.settings.task))).toEqual(new Set(['add', 'sub', 'mul', 'div', 'x2_y2', 'x2_xy_y2']));
    expect(r.cells.every((c) => c.settings.model === 'nanda' && c.settings.seed === 3)).toBe(true);
    expect(resolveSweep(SweepConfig.parse({ preset: 'furuta', fixed: { task: 'add' } })).cells).toHaveLength(3); // a fixed task replaces the preset's task axis
  });

  it('refuses bad input before anything runs, naming the axis or key and the value', () => {
    expect(problem({ axes: { colour: ['red'] } })).toMatch(/axes.*colour|unrecognized|Unrecognized/);
    expect(problem({ axes: { task: ['add', 'pow'] } })).toMatch(/axes\.task\.1/);
    expect(problem({ axes: { quantizer: ['int4'] } })).toMatch(/axes\.quantizer\.0/);
    expect(problem({ axes: { seed: [] } })).toMatch(/axes\.seed: an axis needs at least one value/);
    expect(problem({ preset: 'lee' })).toMatch(/preset/);
    expect(problem({ axes: { p: [11, 15] } })).toBe('axes.p: expected a prime, found 15');
    expect(problem({ fixed: { p: 21 } })).toBe('fixed.p: expected a prime, found 21');
    expect(problem({ axes: { trainFraction: [0.5, 0.001] }, fixed: { p: 11 } })).toMatch(/^axes\.trainFraction: expected a fraction giving 1\.\.120 training pairs .*found 0\.001 \(0 training pairs\)$/);
    expect(problem({ axes: { task: ['div'] }, fixed: { p: 3, trainFraction: 0.1 } })).toMatch(/6 pairs of div mod 3/);
    expect(problem({ axes: { p: [11] }, fixed: { p: 13 } })).toMatch(/fixed\.p: expected a setting that is not also an axis/);
    expect(problem({ axes: { seed: [1, 2, 3] }, maxCells: 2 })).toMatch(/maxCells: expected a sweep of at most 2 cells .*found 3 cells/);
    expect(problem({ axes: { seed: [1, 1] } })).toMatch(/distinct values/);
  });
});
