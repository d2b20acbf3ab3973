// Heavy work (a page of a listing, a step of 500 ids, a watch on thousands) takes turns with everything
// else: one piece per turn of the event loop, in the order asked. Between two pieces the loop reads its
// sockets, so a cheap request such as /ping waits for at most one piece, not for every piece that
// happened to be ready at the same moment.

const waiting: Array<() => void> = [];
let releasing = false;

/** Resolves on a later turn of the event loop; callers are let go one per turn, first come first served. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!releasing) {
      releasing = true;
      setImmediate(releaseOne);
    }
  });
}

function releaseOne(): void {
  waiting.shift()?.();
  // Scheduled from inside this turn's immediates, so the next one runs only after the loop polled again.
  if (waiting.length > 0) setImmediate(releaseOne);
  else releasing = false;
}
