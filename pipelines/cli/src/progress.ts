import type { GraphEvent } from '@bitlens/core';
import cliProgress from 'cli-progress';

/** Shows stage events: bars on a TTY, plain lines otherwise (CI logs, pipes). */
export interface ProgressView {
  readonly onEvent: (event: GraphEvent) => void;
  stop(): void;
}

/** Plain lines: one per stage start/finish, progress at most every 10 % per stage. */
export function lineProgress(write: (line: string) => void): ProgressView {
  const lastDecile = new Map<string, number>();
  return {
    onEvent: (e) => {
      switch (e.type) {
        case 'stage-start':
          write(`[${e.node}] ${e.stage}: running`);
          break;
        case 'stage-cached':
          write(`[${e.node}] ${e.stage}: read from store (${e.key.slice(0, 12)})`);
          break;
        case 'stage-resumed':
          write(`[${e.node}] resuming an interrupted run: ${e.kept} stored table(s) kept`);
          break;
        case 'stage-progress': {
          const decile = Math.floor((10 * e.progress.done) / Math.max(1, e.progress.total));
          if (decile > (lastDecile.get(e.node) ?? -1)) {
            lastDecile.set(e.node, decile);
            write(`[${e.node}] ${e.progress.done}/${e.progress.total} ${e.progress.label ?? ''}`.trimEnd());
          }
          break;
        }
        case 'stage-done':
          if (e.executed) write(`[${e.node}] done: ${e.tables} table(s), ${e.rows} rows (${e.key.slice(0, 12)})`);
          break;
        case 'artifact-corrupt':
          write(`[${e.node}] stored artifact ${e.key.slice(0, 12)} is corrupt (${e.reason}); recomputing`);
          break;
      }
    },
    stop: () => undefined,
  };
}

/** Progress bars (cli-progress) for a TTY: one bar per running stage that reports progress. */
export function barProgress(stream: NodeJS.WriteStream, write: (line: string) => void): ProgressView {
  const multi = new cliProgress.MultiBar(
    { stream, clearOnComplete: false, hideCursor: true, format: ' {bar} {percentage}% | {value}/{total} {label} | {node}' },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  const log = (line: string): void => {
    multi.log(`${line}\n`);
  };
  return {
    onEvent: (e) => {
      switch (e.type) {
        case 'stage-progress': {
          let bar = bars.get(e.node);
          if (bar === undefined) {
            bar = multi.create(e.progress.total, 0, { node: e.node, label: e.progress.label ?? '' });
            bars.set(e.node, bar);
          }
          bar.setTotal(e.progress.total);
          bar.update(e.progress.done, { node: e.node, label: e.progress.label ?? '' });
          break;
        }
        case 'stage-start':
          log(`[${e.node}] ${e.stage}: running`);
          break;
        case 'stage-cached':
          log(`[${e.node}] ${e.stage}: read from store`);
          break;
        case 'stage-resumed':
          log(`[${e.node}] resuming an interrupted run: ${e.kept} stored table(s) kept`);
          break;
        case 'stage-done':
          if (e.executed) log(`[${e.node}] done: ${e.tables} table(s), ${e.rows} rows`);
          break;
        case 'artifact-corrupt':
          log(`[${e.node}] stored artifact is corrupt (${e.reason}); recomputing`);
          break;
      }
    },
    stop: () => {
      multi.stop();
      void write;
    },
  };
}
