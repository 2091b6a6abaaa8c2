import { runBenchCli } from '@bitlens/bench';
import { suite } from './kernels.bench.js';

// `npm run bench -w @bitlens/bench-kernels -- --quick` or `node benchmarks/kernels/dist/main.js --compare baselines/<machine>.json`
process.exitCode = await runBenchCli(process.argv.slice(2), { suites: [suite] });
