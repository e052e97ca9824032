type Pending<I, O> = { item: I; resolve: (o: O) => void; reject: (err: unknown) => void };

/**
 * Gathers the calls made during one turn of the event loop (every request read in one poll phase, every answer
 * released by one Kafka acknowledgement) and runs them as one operation right after, in the check phase
 * (`setImmediate`): under load one Redis command serves many requests, and an idle server adds no linger.
 * `run` answers one output per item, in order; when it fails, every caller of that batch fails with it.
 */
export function tickBatcher<I, O>(run: (items: I[]) => Promise<O[]>): (item: I) => Promise<O> {
  let pending: Pending<I, O>[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    const fail = (err: unknown) => {
      for (const p of batch) p.reject(err);
    };
    try {
      run(batch.map((p) => p.item)).then((out) => {
        if (out.length !== batch.length) return fail(new Error(`batch of ${batch.length} answered ${out.length}`));
        for (const [i, p] of batch.entries()) p.resolve(out[i] as O);
      }, fail);
    } catch (err) {
      fail(err);
    }
  };
  return (item) =>
    new Promise<O>((resolve, reject) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ item, resolve, reject });
    });
}
