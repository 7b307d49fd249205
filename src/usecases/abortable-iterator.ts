/**
 * The iterator a subscription returns: `follow(ended)` produces the updates; ending the iteration (graphql-ws
 * calls return() when its client leaves) aborts `ended` first, so a generator waiting for its next poll
 * stops at once instead of at its next update.
 */
export function abortableIterator<T>(follow: (ended: AbortSignal) => AsyncGenerator<T>): AsyncIterableIterator<T> {
  const ended = new AbortController();
  const updates = follow(ended.signal);
  const iterator: AsyncIterableIterator<T> = {
    next: () => updates.next(),
    return: (value?: unknown) => {
      ended.abort();
      return updates.return(value as undefined);
    },
    throw: (error?: unknown) => {
      ended.abort();
      return updates.throw(error);
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
