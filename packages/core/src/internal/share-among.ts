import { Observable, type Subscriber, share } from 'rxjs';

/**
 * Shares one computation of `source` among the `consumers` subscribers a graph run knows will read it.
 * - The first subscription starts the source; it then runs to completion even if every consumer stops early (a
 *   consumer such as `zip` may unsubscribe once its other input ends), so the node's artifact is committed.
 * - Tables are buffered only until the last expected consumer has subscribed (it gets the buffer replayed, then the
 *   live rest); after that nothing is held, so a finished training stream does not stay in memory for the whole run.
 * - A subscriber beyond those, or one arriving after completion with a single expected consumer, gets a fresh
 *   subscription of `source` (which reads the artifact back from the store, or recomputes without a store).
 * @internal
 */
export function shareAmong<T>(source: Observable<T>, consumers: number): Observable<T> {
  if (consumers <= 1) return source.pipe(share({ resetOnError: true, resetOnComplete: true, resetOnRefCountZero: false }));
  let buffer: T[] | undefined = [];
  let subscribed = 0;
  let started = false;
  let ended: { readonly error: unknown } | 'complete' | undefined;
  const live = new Set<Subscriber<T>>();
  const start = (): void => {
    started = true;
    source.subscribe({
      next: (v) => {
        buffer?.push(v);
        for (const s of [...live]) s.next(v);
      },
      error: (error: unknown) => {
        ended = { error };
        for (const s of [...live]) s.error(error);
        live.clear();
      },
      complete: () => {
        ended = 'complete';
        for (const s of [...live]) s.complete();
        live.clear();
      },
    });
  };
  return new Observable<T>((subscriber) => {
    if (buffer === undefined) return source.subscribe(subscriber); // an unexpected extra reader
    subscribed += 1;
    const replay = buffer;
    if (subscribed >= consumers) buffer = undefined; // every expected consumer is here: stop holding tables
    for (const v of replay) {
      if (subscriber.closed) break;
      subscriber.next(v);
    }
    if (ended === 'complete') subscriber.complete();
    else if (ended !== undefined) subscriber.error(ended.error);
    else {
      live.add(subscriber);
      if (!started) start();
    }
    return () => {
      live.delete(subscriber);
    };
  });
}
