import { main } from '../src/main.js';

/** Runs `main()` in this process with its output captured: exit code, and stdout / stderr lines joined by newlines. */
export async function inProcess(args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l), ...(env === undefined ? {} : { env }) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
