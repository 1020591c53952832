/**
 * `Board.events()` for any board that emits 'event' and 'close': an async iterator that buffers events,
 * ends when the board closes or the signal aborts, and still hands out events received before the end.
 */
import type { BoardEvent } from './types.js';

interface EventSource {
  readonly closed: boolean;
  on(event: 'event', listener: (event: BoardEvent) => void): unknown;
  on(event: 'close', listener: (reason: string) => void): unknown;
  off(event: 'event', listener: (event: BoardEvent) => void): unknown;
  off(event: 'close', listener: (reason: string) => void): unknown;
}

export function boardEventIterator(source: EventSource, options: { signal?: AbortSignal } = {}): AsyncIterableIterator<BoardEvent> {
  const buffered: BoardEvent[] = [];
  let wake: (() => void) | undefined;
  let done = source.closed || options.signal?.aborted === true;
  const onEvent = (event: BoardEvent) => {
    buffered.push(event);
    wake?.();
  };
  const finish = () => {
    done = true;
    wake?.();
  };
  source.on('event', onEvent);
  source.on('close', finish);
  options.signal?.addEventListener('abort', finish, { once: true });
  const cleanup = () => {
    source.off('event', onEvent);
    source.off('close', finish);
    options.signal?.removeEventListener('abort', finish);
  };
  const iterator: AsyncIterableIterator<BoardEvent> = {
    [Symbol.asyncIterator]: () => iterator,
    next: async () => {
      // Events already received are delivered even after close: nothing is lost at shutdown.
      while (buffered.length === 0 && !done) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      if (buffered.length > 0) return { value: buffered.shift()!, done: false };
      cleanup();
      return { value: undefined, done: true };
    },
    return: async () => {
      done = true;
      buffered.length = 0;
      cleanup();
      return { value: undefined, done: true };
    },
  };
  return iterator;
}
