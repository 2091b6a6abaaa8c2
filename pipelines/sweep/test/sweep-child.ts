// Runs a sweep in its own process (the parent test kills it part-way with SIGKILL).
import { ArtifactStore, hashJson } from '@bitlens/core';
import { SweepConfig, sweepPipeline } from '../src/index.js';

const [storeRoot, json] = process.argv.slice(2);
const config = SweepConfig.parse(JSON.parse(json ?? '{}'));
await sweepPipeline.run(config, { store: new ArtifactStore({ root: storeRoot ?? '' }), configHash: hashJson(config), onEvent: () => undefined, log: () => undefined });
process.stdout.write('done\n');
