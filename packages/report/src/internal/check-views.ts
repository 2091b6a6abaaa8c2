import { BitlensError } from '@bitlens/core';
import type { FrequencyEvolution, ModelViews } from '../report-data.js';

function expectLength(stage: string, field: string, found: number, expected: number): void {
  if (found !== expected) throw new BitlensError('SHAPE_MISMATCH', { stage, field, expected: `${expected} values`, found: String(found) });
}

/** Checks the shapes of a model's pictures against its p (SHAPE_MISMATCH naming `<model>.views.<field>`). */
export function checkViews(stage: string, model: string, v: ModelViews): void {
  const at = `${model}.views`;
  const p2 = v.p * v.p;
  v.neurons.forEach((n, i) => expectLength(stage, `${at}.neurons[${i}].values`, n.values.length, p2));
  for (const [name, m] of [['fourierEmbed', v.fourierEmbed], ['fourierNeurons', v.fourierNeurons], ['fourierLogits', v.fourierLogits]] as const) {
    expectLength(stage, `${at}.${name}.data`, m.data.length, m.rows * m.cols);
    expectLength(stage, `${at}.${name}.rows`, m.rows, v.p);
  }
  expectLength(stage, `${at}.fourierNeurons.cols`, v.fourierNeurons.cols, v.p);
  expectLength(stage, `${at}.fourierLogits.cols`, v.fourierLogits.cols, v.p);
  const a = v.attention;
  if (a !== undefined) {
    a.mean.forEach((row, h) => expectLength(stage, `${at}.attention.mean[${h}]`, row.length, a.positions.length));
    a.toFirst.forEach((t, h) => expectLength(stage, `${at}.attention.toFirst[${h}]`, t.length, p2));
  }
  v.clock.forEach((c, i) => {
    expectLength(stage, `${at}.clock[${i}].x`, c.x.length, v.p);
    expectLength(stage, `${at}.clock[${i}].y`, c.y.length, v.p);
  });
}

/** Checks that a key-frequency evolution has one row of norms and one key set per checkpoint. */
export function checkEvolution(stage: string, model: string, e: FrequencyEvolution): void {
  expectLength(stage, `${model}.evolution.norms`, e.norms.length, e.epoch.length);
  expectLength(stage, `${model}.evolution.keys`, e.keys.length, e.epoch.length);
}
