import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { GraphEvent } from '@bitlens/core';
import { describe, expect, it, vi } from 'vitest';
import { barProgress, jsonProgress, lineProgress } from './progress.js';
import { formatDuration, formatRate, rateMeter } from './rate.js';

const progress = (node: string, done: number, total: number, label = 'epochs (metrics)'): GraphEvent => ({ type: 'stage-progress', node, stage: 'training/train', progress: { done, total, label } });
const start = (node: string): GraphEvent => ({ type: 'stage-start', node, stage: 'training/train', key: 'k'.repeat(64) });
const done = (node: string): GraphEvent => ({ type: 'stage-done', node, stage: 'training/train', key: 'k'.repeat(64), tables: 3, rows: 30, executed: true });

/** A fake clock: each call advances by `step` ms. */
function clock(step: number): () => number {
  let t = 0;
  return () => (t += step);
}

/** A stream that claims to be a TTY and records what is written. */
function fakeTty(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const s = new PassThrough();
  s.on('data', (c: Buffer) => chunks.push(c.toString()));
  Object.assign(s, { isTTY: true, columns: 120, rows: 40, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true });
  return { stream: s as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

describe('rate and ETA', () => {
  it('from the first report to the latest', () => {
    const m = rateMeter(clock(1000));
    expect(m.update(0, 100)).toEqual({});
    expect(m.update(10, 100)).toEqual({ rate: 10, etaSeconds: 9 });
    expect(formatRate(10, 'epochs')).toBe('10.0 epochs/s');
    expect(formatRate(0.5)).toBe('30.0/min');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3725)).toBe('1h02m');
  });
});

describe('plain progress lines (not a TTY)', () => {
  it('progress every 10 % with rate and time left; an early stop says where it stopped', () => {
    const lines: string[] = [];
    const view = lineProgress((l) => lines.push(l), clock(500));
    view.onEvent(start('fp32-train'));
    for (let e = 0; e <= 430; e += 10) view.onEvent(progress('fp32-train', e, 3000));
    view.onEvent(done('fp32-train'));
    expect(lines[0]).toBe('[fp32-train] training/train: running');
    expect(lines.some((l) => /^\[fp32-train\] 300\/3000 epochs \(metrics\) \(\d+\.\d epochs\/s, ETA .+\)$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/done in .+: 3 table\(s\), 30 rows .*stopped early at 430 of 3000 epochs$/);
  });

  it('JSON lines under --json: one object per event, progress at most once per percent', () => {
    const lines: string[] = [];
    const view = jsonProgress((l) => lines.push(l));
    view.onEvent(start('a'));
    for (let i = 0; i <= 1000; i++) view.onEvent(progress('a', i, 1000));
    view.onEvent(done('a'));
    const events = lines.map((l) => JSON.parse(l) as { event: string });
    expect(events[0]).toMatchObject({ event: 'stage-start', node: 'a' });
    expect(events.filter((e) => e.event === 'stage-progress')).toHaveLength(101);
    expect(events.at(-1)).toMatchObject({ event: 'stage-done', node: 'a', executed: true });
  });
});

describe('progress bars (a TTY)', () => {
  it('a bar whose total is the real work: full at an early stop, with rate and ETA; stop() shows the cursor', async () => {
    const tty = fakeTty();
    const view = barProgress(tty.stream, clock(200));
    view.onEvent(start('fp32-train'));
    for (let e = 0; e <= 430; e += 10) view.onEvent(progress('fp32-train', e, 3000));
    view.onEvent(done('fp32-train'));
    view.stop();
    await new Promise((r) => setTimeout(r, 50));
    const text = tty.text();
    expect(text).toContain('\u001b[?25l'); // hidden while drawing
    expect(text.lastIndexOf('\u001b[?25h')).toBeGreaterThan(text.lastIndexOf('\u001b[?25l')); // shown again at the end
    expect(text).toMatch(/fp32-train .+ 100% \| 430\/430 epochs \(metrics\) \(stopped early; cap 3000\) \| [\d.]+ epochs\/s \| ETA/);
    expect(text).toContain('stopped early at 430 of 3000 epochs');
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('%s while bars are drawn: the cursor is shown again and the process ends by that signal', async (signal) => {
    const progressJs = fileURLToPath(new URL('../dist/progress.js', import.meta.url));
    const script = `
      import { PassThrough } from 'node:stream';
      import { barProgress, guardTerminal } from ${JSON.stringify(progressJs)};
      const s = new PassThrough();
      s.on('data', (c) => process.stdout.write(c));
      Object.assign(s, { isTTY: true, columns: 100, rows: 40, cursorTo: () => true, moveCursor: () => true, clearLine: () => true, clearScreenDown: () => true });
      const view = barProgress(s);
      guardTerminal(() => view.stop());
      view.onEvent({ type: 'stage-progress', node: 'n', stage: 's', progress: { done: 1, total: 100, label: 'epochs' } });
      setTimeout(() => process.stdout.write('READY\\n'), 300);
      setInterval(() => undefined, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('READY')) child.kill(signal);
    });
    const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, sig) => resolve({ code, signal: sig })));
    expect(ended.signal).toBe(signal);
    expect(out).toContain('\u001b[?25l');
    expect(out.lastIndexOf('\u001b[?25h')).toBeGreaterThan(out.lastIndexOf('\u001b[?25l'));
  });
});

describe('no long stage is silent', () => {
  it('a stage that reports nothing gets a `still running` line after the quiet period', () => {
    vi.useFakeTimers(); // the quiet watch's ticks and clock under the test's control: no real time involved
    const lines: string[] = [];
    let count = 0;
    try {
      const view = lineProgress((l) => lines.push(l), () => Date.now(), 20);
      view.onEvent(start('fp32/losses'));
      vi.advanceTimersByTime(120);
      view.onEvent(done('fp32/losses'));
      count = lines.filter((l) => l.startsWith('[fp32/losses] still running')).length;
      vi.advanceTimersByTime(60);
      view.stop();
    } finally {
      vi.useRealTimers();
    }
    expect(count).toBeGreaterThan(0);
    expect(lines.filter((l) => l.startsWith('[fp32/losses] still running')).length).toBe(count); // none after done
  });

  it('many quiet stages at once (a sweep\'s cells waiting on their trainings) share one line', () => {
    vi.useFakeTimers(); // the quiet watch's ticks and clock under the test's control: no real time involved
    const lines: string[] = [];
    try {
      const view = lineProgress((l) => lines.push(l), () => Date.now(), 20);
      for (const n of ['c1/keys', 'c1/losses', 'c2/keys', 'c2/losses', 'c3/keys']) view.onEvent(start(n));
      vi.advanceTimersByTime(100);
      view.stop();
    } finally {
      vi.useRealTimers();
    }
    const quiet = lines.filter((l) => l.includes('still running'));
    expect(quiet.length).toBeGreaterThan(0);
    expect(quiet.every((l) => l.startsWith('[5 stages] still running: c1/keys ('))).toBe(true);
    expect(quiet[0]).toMatch(/and 2 more$/);
  });

  it('a second pass of the same stage (another grid run) reports from 0 again', () => {
    const lines: string[] = [];
    const view = lineProgress((l) => lines.push(l), clock(100));
    view.onEvent(start('abl'));
    for (const pass of [1, 2]) for (let i = 1; i <= 10; i++) view.onEvent(progress('abl', i * 100, 1000, `grid inputs (pass ${pass})`));
    view.stop();
    expect(lines.filter((l) => l.startsWith('[abl] 1000/1000 grid inputs')).length).toBe(2);
  });
});
