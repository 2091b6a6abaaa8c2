import { BitlensError } from '@bitlens/core';
import { Redis } from 'ioredis';

/**
 * Checks a queue address: `redis://HOST:PORT[/DB]` (or `rediss://` for TLS), optionally with `user:password@`.
 * Returns it as given; INVALID_CONFIG naming `field` otherwise.
 */
export function checkQueueUrl(url: string, field = 'queue'): string {
  const bad = (found: string): never => {
    throw new BitlensError('INVALID_CONFIG', { stage: 'pipeline sweep', field, expected: 'redis://HOST:PORT[/DB] (or rediss:// for TLS)', found });
  };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return bad(JSON.stringify(url));
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') bad(`${JSON.stringify(url)} (scheme ${u.protocol})`);
  if (u.hostname === '') bad(`${JSON.stringify(url)} (no host)`);
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d{1,2}$/.test(u.pathname)) bad(`${JSON.stringify(url)} (the path must be a database number)`);
  if (u.search !== '' || u.hash !== '') bad(`${JSON.stringify(url)} (no query or fragment)`);
  return url;
}

/** The address without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** Connections being closed on purpose: their end is no outage. */
const closing = new WeakSet<Redis>();

/** How a connection reports its outages: once when it is lost, once when it is back. */
export interface ConnectionEvents {
  readonly onDown?: (why: string) => void;
  readonly onUp?: () => void;
}

/**
 * A Redis connection for BullMQ: commands wait while Redis is unreachable (`maxRetriesPerRequest: null`, what BullMQ's
 * blocking workers need) and it reconnects for ever, backing off to one try every 2 s, so a restarted Redis is found
 * again by the workers and the submitter alike. Outages are reported once each, not once per retry.
 */
export function redisConnection(url: string, events: ConnectionEvents = {}): Redis {
  const client = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectTimeout: 5_000,
    retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
    lazyConnect: true,
  });
  let down = false;
  client.on('error', (e: Error) => {
    if (down || closing.has(client)) return;
    down = true;
    events.onDown?.(e.message);
  });
  client.on('close', () => {
    if (down || closing.has(client)) return;
    down = true;
    events.onDown?.('connection closed');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    events.onUp?.();
  });
  return client;
}

/**
 * Connects and waits until Redis answers PING, for at most `ms` (default 15 s: a Redis that is still starting is
 * waited for): QUEUE_UNAVAILABLE naming the address and the last connection error otherwise, so a wrong `--queue`
 * fails instead of waiting for ever.
 */
export async function connectWithin(client: Redis, url: string, ms = 15_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let last = 'no answer';
  const onError = (e: Error): void => {
    last = e.message;
  };
  client.on('error', onError);
  try {
    const ready = client.status === 'ready' ? Promise.resolve() : new Promise<void>((r) => client.once('ready', () => r()));
    if (client.status === 'wait') client.connect().catch(() => undefined); // it keeps retrying: wait for 'ready'
    await Promise.race([
      ready.then(() => client.ping()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new BitlensError('QUEUE_UNAVAILABLE', { stage: 'pipeline sweep', field: 'queue', expected: `a Redis server answering at ${redactUrl(url)} within ${(ms / 1000).toFixed(0)} s`, found: last }, 'start one (`redis-server`), or check the address')), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    client.off('error', onError);
  }
}

/** Closes a connection: QUIT when it is up, else drops it (a down Redis must not keep the process alive). */
export async function closeConnection(client: Redis): Promise<void> {
  closing.add(client);
  if (client.status === 'ready') {
    try {
      await Promise.race([client.quit(), new Promise((r) => setTimeout(r, 2_000))]);
    } catch {
      /* already closing */
    }
  }
  client.disconnect(false);
}
