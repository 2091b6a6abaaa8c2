import type { GraphEvent } from '@bitlens/core';
import cliProgress from 'cli-progress';
import { type RateMeter, formatDuration, formatRate, rateMeter } from './rate.js';

/** Shows graph events: bars on a TTY, plain lines otherwise (CI logs, pipes), JSON lines under `--json`. */
export interface ProgressView {
  readonly onEvent: (event: GraphEvent) => void;
  /** Stops bars and timers and shows the cursor again; idempotent. */
  stop(): void;
}

/** The first word of a progress label as its unit (`epochs (metrics)` → `epochs`). */
const unitOf = (label: string | undefined): string => /^[a-z]+/i.exec(label ?? '')?.[0] ?? '';

type ProgressEvent = Extract<GraphEvent, { type: 'stage-progress' }>;

/** Last progress seen per node, so that a stage that ends early can say where it stopped. */
interface Last { done: number; total: number; label: string }

function doneLine(e: Extract<GraphEvent, { type: 'stage-done' }>, last: Last | undefined, startedAt: number | undefined, now: number): string {
  const took = startedAt === undefined ? '' : ` in ${formatDuration((now - startedAt) / 1000)}`;
  const early = last !== undefined && last.done < last.total ? `; stopped early at ${last.done} of ${last.total} ${unitOf(last.label)}`.trimEnd() : '';
  return `[${e.node}] done${took}: ${e.tables} table(s), ${e.rows} rows (${e.key.slice(0, 12)})${early}`;
}

/** Every few seconds, a `still running` line for each running stage not heard of for `quietMs`. Unref'd. */
function quietWatch(running: Map<string, { at: number; heard: number }>, write: (line: string) => void, now: () => number, quietMs: number): NodeJS.Timeout {
  const timer = setInterval(() => {
    const t = now();
    for (const [node, r] of running) {
      if (t - r.heard < quietMs) continue;
      r.heard = t;
      write(`[${node}] still running (${formatDuration((t - r.at) / 1000)})`);
    }
  }, Math.max(10, Math.min(quietMs, 5000)));
  timer.unref();
  return timer;
}

/**
 * Plain lines: one per stage start/finish, progress at most every 10 % per stage (and pass), with rate and time left,
 * and a `still running` line for a stage quiet for `quietMs` (default 30 s), so no long stage is silent.
 */
export function lineProgress(write: (line: string) => void, now: () => number = () => performance.now(), quietMs = 30_000): ProgressView {
  const lastDecile = new Map<string, number>();
  const meters = new Map<string, RateMeter>();
  const last = new Map<string, Last>();
  const running = new Map<string, { at: number; heard: number }>();
  const started = new Map<string, number>();
  const timer = quietWatch(running, write, now, quietMs);
  const onProgress = (e: ProgressEvent): void => {
    const { done, total, label } = e.progress;
    const prev = last.get(e.node);
    if (prev !== undefined && done < prev.done) {
      // A new pass of the same stage (e.g. another grid run): measure it on its own.
      meters.delete(e.node);
      lastDecile.delete(e.node);
    }
    last.set(e.node, { done, total, label: label ?? '' });
    const r = running.get(e.node);
    if (r !== undefined) r.heard = now();
    const meter = meters.get(e.node) ?? rateMeter(now);
    meters.set(e.node, meter);
    const { rate, etaSeconds } = meter.update(done, total);
    const decile = Math.floor((10 * done) / Math.max(1, total));
    if (decile <= (lastDecile.get(e.node) ?? -1)) return;
    lastDecile.set(e.node, decile);
    const speed = rate === undefined ? '' : ` (${formatRate(rate, unitOf(label))}, ETA ${formatDuration(etaSeconds)})`;
    write(`[${e.node}] ${done}/${total} ${label ?? ''}${speed}`.replace(/\s+\(/, ' (').trimEnd());
  };
  return {
    onEvent: (e) => {
      switch (e.type) {
        case 'stage-start':
          started.set(e.node, now());
          running.set(e.node, { at: now(), heard: now() });
          write(`[${e.node}] ${e.stage}: running`);
          break;
        case 'stage-cached':
          write(`[${e.node}] ${e.stage}: read from store (${e.key.slice(0, 12)})`);
          break;
        case 'stage-resumed':
          write(`[${e.node}] resuming an interrupted run: ${e.kept} stored table(s) kept`);
          break;
        case 'stage-progress':
          onProgress(e);
          break;
        case 'stage-done':
          running.delete(e.node);
          if (e.executed) write(doneLine(e, last.get(e.node), started.get(e.node), now()));
          break;
        case 'artifact-corrupt':
          write(`[${e.node}] stored artifact ${e.key.slice(0, 12)} is corrupt (${e.reason}); removed, recomputing`);
          break;
      }
    },
    stop: () => clearInterval(timer),
  };
}

/** JSON lines for `--json`: one object per event (`{"event": "stage-start", ...}`), progress at most once per percent. */
export function jsonProgress(write: (line: string) => void): ProgressView {
  const lastPercent = new Map<string, number>();
  return {
    onEvent: (e) => {
      if (e.type === 'stage-progress') {
        const pct = Math.floor((100 * e.progress.done) / Math.max(1, e.progress.total));
        if (pct <= (lastPercent.get(e.node) ?? -1)) return;
        lastPercent.set(e.node, pct);
      }
      const { type, ...rest } = e;
      write(JSON.stringify({ event: type, ...rest }));
    },
    stop: () => undefined,
  };
}

const SHOW_CURSOR = '\u001b[?25h';
const BAR_FORMAT = ' {node} {bar} {percentage}% | {value}/{total} {label} | {rate} | ETA {eta_formatted}';
const IDLE_FORMAT = ' running {elapsed} | {node} ({stage}), no progress reported';

interface Row { readonly bar: cliProgress.SingleBar; meter: RateMeter; readonly kind: 'progress' | 'idle'; total: number; done: number; label: string }

/** The rows of a MultiBar, one per running stage: a bar when it reports progress, an elapsed-time row otherwise. */
function barRows(multi: cliProgress.MultiBar, now: () => number) {
  const rows = new Map<string, Row>();
  const started = new Map<string, number>();
  const drop = (node: string): void => {
    const row = rows.get(node);
    if (row !== undefined) multi.remove(row.bar);
    rows.delete(node);
  };
  return {
    startedAt: (node: string): number | undefined => started.get(node),
    start(node: string, stage: string): void {
      started.set(node, now());
      rows.set(node, { bar: multi.create(1, 0, { node, stage, elapsed: '0s' }, { format: IDLE_FORMAT }), meter: rateMeter(now), kind: 'idle', total: 1, done: 0, label: '' });
    },
    tick(): void {
      for (const [node, row] of rows) if (row.kind === 'idle') row.bar.update(0, { elapsed: formatDuration((now() - (started.get(node) ?? now())) / 1000) });
    },
    progress(e: ProgressEvent): void {
      const { done, total } = e.progress;
      const label = e.progress.label ?? '';
      let row = rows.get(e.node);
      if (row === undefined || row.kind === 'idle') {
        drop(e.node);
        row = { bar: multi.create(total, done, { node: e.node, label, rate: '' }), meter: rateMeter(now), kind: 'progress', total, done, label };
        rows.set(e.node, row);
      }
      if (done < row.done) row.meter = rateMeter(now); // a new pass of the same stage
      const { rate } = row.meter.update(done, total);
      Object.assign(row, { total, done, label });
      row.bar.setTotal(total);
      row.bar.update(done, { node: e.node, label, rate: formatRate(rate, unitOf(label)) });
    },
    /** Ends a stage's row; returns its last progress (for the done line). */
    finish(node: string): Last | undefined {
      const row = rows.get(node);
      if (row?.kind !== 'progress') {
        drop(node);
        return undefined;
      }
      if (row.done < row.total) {
        // Early stop: the real work was `done`; show the bar full at that amount, not stuck at 20 %.
        row.bar.setTotal(row.done);
        row.bar.update(row.done, { label: `${row.label} (stopped early; cap ${row.total})` });
      }
      row.bar.stop();
      return { done: row.done, total: row.total, label: row.label };
    },
  };
}

/**
 * Progress bars (cli-progress) for a TTY: a bar per stage that reports progress, with rate and ETA; a `running 12s`
 * row for a running stage that reports none. A stage that ends before its total (training stops early after grokking)
 * has its bar set to done at the real amount of work. `stop()` shows the cursor again (see `guardTerminal` for signals).
 */
export function barProgress(stream: NodeJS.WriteStream, now: () => number = () => performance.now()): ProgressView {
  const multi = new cliProgress.MultiBar(
    { stream, clearOnComplete: false, hideCursor: true, gracefulExit: false, format: BAR_FORMAT, etaBuffer: 50, barsize: 24 },
    cliProgress.Presets.shades_classic,
  );
  const rows = barRows(multi, now);
  let stopped = false;
  const log = (line: string): void => multi.log(`${line}\n`);
  // Elapsed-time rows tick once a second; unref'd so a finished run is never kept alive by it.
  const timer = setInterval(() => rows.tick(), 1000);
  timer.unref();
  return {
    onEvent: (e) => {
      if (stopped) return;
      switch (e.type) {
        case 'stage-progress':
          rows.progress(e);
          break;
        case 'stage-start':
          rows.start(e.node, e.stage);
          break;
        case 'stage-cached':
          log(`[${e.node}] ${e.stage}: read from store`);
          break;
        case 'stage-resumed':
          log(`[${e.node}] resuming an interrupted run: ${e.kept} stored table(s) kept`);
          break;
        case 'stage-done': {
          const last = rows.finish(e.node);
          if (e.executed) log(doneLine(e, last, rows.startedAt(e.node), now()));
          break;
        }
        case 'artifact-corrupt':
          log(`[${e.node}] stored artifact is corrupt (${e.reason}); removed, recomputing`);
          break;
      }
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      multi.update(); // flushes lines logged since the last redraw (stop() alone drops them)
      multi.stop();
      stream.write(SHOW_CURSOR);
    },
  };
}

/**
 * Restores the terminal if the process is interrupted: on SIGINT or SIGTERM, runs `stop` (which shows the cursor),
 * then re-raises the signal with bitlens' handlers removed, so the process ends as it would have (status 130 / 143 in a
 * shell; interrupted stages resume on the next run). Returns a function that removes the handlers.
 */
export function guardTerminal(stop: () => void): () => void {
  const handlers = new Map<NodeJS.Signals, () => void>();
  const dispose = (): void => {
    for (const [signal, h] of handlers) process.removeListener(signal, h);
    process.removeListener('exit', stop);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const h = (): void => {
      stop();
      dispose();
      process.kill(process.pid, signal);
    };
    handlers.set(signal, h);
    process.on(signal, h);
  }
  process.on('exit', stop);
  return dispose;
}
