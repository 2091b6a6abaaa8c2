import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BitlensError, mulberry32 } from '@bitlens/core';
import { freePort } from '../../test/redis-server.js';
import { queueExecutor } from './executor.js';
import { startQueueWorker } from './worker.js';
import { describe, expect, it } from 'vitest';
import { SweepConfig, resolveSweep } from '../config.js';
import { cellKey } from '../graph.js';
import { checkQueueUrl, redactUrl } from './connection.js';
import { cellJobData, codeOfMessage, isDeterministicFailure, parseCellJobData, parseCellJobProgress, parseCellJobResult } from './protocol.js';

const r = resolveSweep(SweepConfig.parse({ axes: { seed: [0, 1] }, fixed: { p: 11, epochs: 40 } }));
const cell = r.cells[0];
if (cell === undefined) throw new Error('a cell expected');
const submitter = { host: 'h', store: '/s' };
const data = () => JSON.parse(JSON.stringify(cellJobData(cellKey(cell, 'wasm'), cell, 'wasm', { configHash: 'c' }, undefined, submitter))) as Record<string, unknown> & { cell: { settings: Record<string, unknown> } };

const fails = (f: () => unknown, code: string, text: RegExp): void => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(BitlensError);
  expect((err as BitlensError).code).toBe(code);
  expect((err as BitlensError).message).toMatch(text);
};

describe('queue protocol', () => {
  it('a job round-trips through JSON to the same cell, and its key is the cell node key (per backend)', () => {
    const parsed = parseCellJobData(data());
    expect(parsed.cell).toEqual(cell);
    expect(parsed.key).toBe(cellKey(cell, 'wasm'));
    expect(cellKey(cell, 'webgpu')).not.toBe(parsed.key);
    expect(cellKey(r.cells[1] ?? cell, 'wasm')).not.toBe(parsed.key);
  });

  it('a worker refuses bad jobs before any work, naming the field: not a cell job, bad settings, a missing setting', () => {
    fails(() => parseCellJobData({ hello: 1 }), 'INVALID_DATA', /job\.data/);
    fails(() => parseCellJobData({ ...data(), key: 'nope' }), 'INVALID_DATA', /job\.data\.key/);
    const bad = data();
    bad.cell.settings['p'] = 12;
    fails(() => parseCellJobData(bad), 'INVALID_CONFIG', /settings\.p.*expected a prime, found 12/);
    const unknown = data();
    unknown.cell.settings['quantizer'] = 'int3-magic';
    fails(() => parseCellJobData(unknown), 'INVALID_CONFIG', /settings\.quantizer/);
    const missing = data();
    delete missing.cell.settings['lr'];
    fails(() => parseCellJobData(missing), 'INVALID_DATA', /no lr/);
  });

  it('a result carries the row as IPC bytes; a damaged one is refused, not used', () => {
    const result = (row: string) => ({ format: 'bitlens-cell-result/1', row, stats: { executed: [], cached: [], resumed: [] }, worker: { host: 'h', store: '/s', pid: 1, id: 'h:1' }, cellMs: 1 });
    // Bytes that are no Arrow table, and an Arrow table that is not a cell row.
    fails(() => parseCellJobResult(result(Buffer.from('not arrow at all, not at all').toString('base64')), 'c'), 'INVALID_DATA', /returnvalue\.row/);
    fails(() => parseCellJobResult(result('AAAA'), 'c'), 'SCHEMA_MISMATCH', /cell c/);
    fails(() => parseCellJobResult('{"format":"other"}', 'c'), 'INVALID_DATA', /returnvalue\.format/);
  });

  it('progress reports: ours are read, anything else is ignored', () => {
    const worker = { host: 'h', store: '/s', pid: 1, id: 'h:1' };
    expect(parseCellJobProgress({ worker })).toEqual({ worker });
    const event = { type: 'stage-progress', node: 'all/train', stage: 'training/train', progress: { done: 3, total: 40 } } as const;
    expect(parseCellJobProgress(JSON.stringify({ worker, event }))).toEqual({ worker, event });
    expect(parseCellJobProgress(42)).toBeUndefined();
    expect(parseCellJobProgress({ worker, event: { type: 'stage-progress', node: 'x' } })).toBeUndefined();
  });

  it('failures: bad input is deterministic (failed at once), environment faults are retried; codes come back from messages', () => {
    for (const c of ['INVALID_CONFIG', 'INVALID_OPTION', 'INVALID_DATA', 'SCHEMA_MISMATCH', 'SHAPE_MISMATCH']) expect(isDeterministicFailure(c)).toBe(true);
    for (const c of ['INTERNAL', 'STORE_UNAVAILABLE', 'BACKEND_UNAVAILABLE', 'ARTIFACT_CORRUPT', 'whatever']) expect(isDeterministicFailure(c)).toBe(false);
    expect(codeOfMessage(new BitlensError('INVALID_CONFIG', { stage: 's' }).message)).toBe('INVALID_CONFIG');
    expect(codeOfMessage('[NO_SUCH] x')).toBe('INTERNAL');
    expect(codeOfMessage('Error: out of memory')).toBe('INTERNAL');
  });

  it('queue addresses: redis:// or rediss:// with host, port and an optional database; passwords are not printed', () => {
    for (const ok of ['redis://127.0.0.1:6379', 'redis://redis:6379/2', 'rediss://u:p@host:6380']) expect(checkQueueUrl(ok)).toBe(ok);
    for (const bad of ['localhost:6379', 'http://h:1', 'redis://h:1/x', 'redis://h:1?db=2', '']) fails(() => checkQueueUrl(bad), 'INVALID_CONFIG', /'queue'.*expected redis:\/\//);
    expect(redactUrl('redis://u:secret@h:1')).toBe('redis://u:***@h:1');
  });

  it('the sweep config takes a queue, refuses a bad one and refuses local worker threads beside it', () => {
    expect(resolveSweep(SweepConfig.parse({ queue: 'redis://h:1' })).queue).toBe('redis://h:1');
    expect(SweepConfig.safeParse({ queue: 'h:1' }).success).toBe(false);
    const both = SweepConfig.safeParse({ queue: 'redis://h:1', workers: 2 });
    expect(both.success).toBe(false);
    expect(both.error?.issues[0]?.message).toMatch(/bitlens worker/);
  });

  it('a queue nobody answers on fails within the bound, naming the address (worker and submitter alike)', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const t0 = Date.now();
    await expect(queueExecutor({ queue: url, store: mkdtempSync(join(tmpdir(), 'bitlens-q-')), backend: 'wasm', provenance: {}, connectTimeoutMs: 1_000 })).rejects.toThrow(new RegExp(`QUEUE_UNAVAILABLE.*127\\.0\\.0\\.1:${port}.*ECONNREFUSED`));
    await expect(startQueueWorker({ queue: url, store: mkdtempSync(join(tmpdir(), 'bitlens-q-')), connectTimeoutMs: 1_000 })).rejects.toThrow(/QUEUE_UNAVAILABLE/);
    expect(Date.now() - t0).toBeLessThan(60_000); // bounded (generously: this is not a timing test)
  });

  it('job ids are never integer-like (BullMQ refuses those): a 64-digit key stays a string', () => {
    const rand = mulberry32(1);
    const digits = Array.from({ length: 64 }, () => String(Math.floor(rand() * 10))).join('');
    expect(`${Number.parseInt(digits, 10)}`).not.toBe(digits);
  });
});
