import { type Tf, initTfjsBackend } from '@bitlens/engine';
import { type HookName, initParams, modelConfig, weightsTable } from '@bitlens/model';
import { lastValueFrom, of, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { activations, loadModel, runGrid } from './index.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await initTfjsBackend('wasm')).tf;
});

describe('hook names in the activations stage and grid runs', () => {
  const cfg = modelConfig('nanda', 7, { dModel: 8, nHeads: 2, dMlp: 16 });
  const w = weightsTable(cfg, initParams(cfg, 1));

  it('captures typed names; an unknown name or a pattern that matches no hook is INVALID_OPTION, not an empty table', async () => {
    const tables = await lastValueFrom(of(w).pipe(activations(tf, { names: ['blocks.0.attn.hook_pattern', 'logits'] }), toArray()));
    expect(new Set(tables.flatMap((t) => [...(t.getChild('hook')?.toArray() ?? [])]))).toEqual(new Set(['blocks.0.attn.hook_pattern', 'logits']));
    const typo = JSON.parse('["blocks.0.mlp.hook_psot"]') as HookName[]; // e.g. from a JSON config
    await expect(lastValueFrom(of(w).pipe(activations(tf, { names: typo })))).rejects.toThrow(/INVALID_OPTION.*'names'.*hook_psot/);
    await expect(lastValueFrom(of(w).pipe(activations(tf, { names: ['ln_final.hook_scale'] })))).rejects.toThrow(/INVALID_OPTION.*has no such hook/);
    await expect(lastValueFrom(of(w).pipe(activations(tf, { hooks: 'hook_psot$' })))).rejects.toThrow(/INVALID_OPTION.*'hooks'.*matches no hook/);
    expect(() => activations(tf, { hooks: 'logits', names: ['logits'] })).toThrow(/INVALID_OPTION.*'names'/);
    expect(() => [...runGrid(tf, loadModel(w), { capture: typo })]).toThrow(/INVALID_OPTION.*hook_psot/);
  });
});
