import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BENCH_USAGE, parseBenchArgs, runBench } from '@bitlens/bench';
import { BitlensError } from '@bitlens/core';
import type { CommandIo } from './run.js';

/** The kernel suite of this checkout, loaded at run time so that no package depends on benchmarks/. */
const KERNEL_SUITE = fileURLToPath(new URL('../../../../benchmarks/kernels/dist/kernels.bench.js', import.meta.url));

/**
 * `bitlens bench`: the kernel suite (or `--suite` modules) under the bench harness. Every flag and file is checked
 * before anything is measured (exit 2); a failing task, a regression with `--fail-on-regression` or a comparison
 * that judged nothing exit 1.
 */
export async function benchCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  try {
    const args = parseBenchArgs(argv);
    if (args.help) {
      io.out(BENCH_USAGE);
      return 0;
    }
    if (args.suites.length === 0 && !existsSync(KERNEL_SUITE)) {
      throw new BitlensError('NOT_FOUND', { stage: 'bench', field: '--suite', expected: 'the built kernel suite', found: `nothing at ${KERNEL_SUITE}` }, 'run `npm run build` first, or pass --suite <module>');
    }
    return await runBench(args.suites.length === 0 ? ['--suite', KERNEL_SUITE, ...argv] : argv, { io: { log: io.out, error: io.err } });
  } catch (e) {
    // Bench's own usage errors are INVALID_OPTION (exit 2 by their code); anything else failed while running.
    const usage = e instanceof BitlensError && (e.code === 'INVALID_OPTION' || e.code === 'INVALID_CONFIG');
    return io.fail(e, 'run', usage ? 'bitlens help bench lists the options' : undefined);
  }
}
