import { ACKS_ALL, type Producer } from "@aff/kafka";

export type OutMessage = { key: string; value: string };
type Waiting = {
  messages: OutMessage[];
  /** performance.now() past which the caller is answered with a timeout */
  deadline: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
};

/**
 * Coalesces concurrent publishes into one `producer.send`. The idempotent producer keeps one request in flight, so
 * while a send waits for its acknowledgement every new publish queues, and the queue goes out as the next send. A
 * send starts in the check phase of the event loop (`setImmediate`), never inside a publish: the requests whose Redis
 * claims came back together publish together, and the next send picks up what the turn that acknowledged the previous
 * one released, instead of leaving with the first message while the rest wait a whole round trip. An idle service
 * adds no linger. Each caller's promise settles with the send that carried its own messages: a 202 still waits for
 * its own event's ack.
 *
 * A caller not acknowledged within `timeoutMs` is rejected (its messages may still be sent: the answer is "maybe").
 * One timer serves every caller: it is armed for the oldest one waiting, as callers wait in arrival order.
 */
export function createCoalescingPublisher(
  producer: Producer,
  topic: string,
  opts: { maxBatchMessages: number; timeoutMs: number; onSend?: (size: number, ms: number) => void },
) {
  let queue: Waiting[] = [];
  let inFlight: Waiting[] = [];
  let sending = false;
  let scheduled = false;
  let timer: NodeJS.Timeout | undefined;

  const settle = (w: Waiting, err?: unknown) => {
    if (w.settled) return;
    w.settled = true;
    if (err === undefined) w.resolve();
    else w.reject(err);
  };

  const arm = () => {
    clearTimeout(timer);
    timer = undefined;
    const oldest = inFlight.find((w) => !w.settled) ?? queue.find((w) => !w.settled);
    if (oldest) timer = setTimeout(expire, Math.max(0, oldest.deadline - performance.now()));
  };

  function expire() {
    const now = performance.now();
    const late = new Error(`no acknowledgement within ${opts.timeoutMs} ms`);
    for (const list of [inFlight, queue]) for (const w of list) if (w.deadline <= now) settle(w, late);
    arm();
  }

  const take = (): Waiting[] => {
    let count = 0;
    let i = 0;
    while (i < queue.length && (i === 0 || count + (queue[i]?.messages.length ?? 0) <= opts.maxBatchMessages))
      count += queue[i++]?.messages.length ?? 0;
    const batch = queue.slice(0, i);
    queue = queue.slice(i);
    return batch;
  };

  const schedule = () => {
    if (scheduled || sending || queue.length === 0) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      void flush();
    });
  };

  const flush = async (): Promise<void> => {
    if (sending || queue.length === 0) return;
    sending = true;
    inFlight = take();
    const t0 = performance.now();
    let failure: unknown;
    try {
      await producer.send({ topic, acks: ACKS_ALL, messages: inFlight.flatMap((w) => w.messages) });
    } catch (err) {
      failure = err ?? new Error("send failed");
    }
    for (const w of inFlight) settle(w, failure);
    opts.onSend?.(
      inFlight.reduce((n, w) => n + w.messages.length, 0),
      performance.now() - t0,
    );
    inFlight = [];
    sending = false;
    arm();
    schedule();
  };

  return {
    /**
     * Resolves once every in-sync replica acknowledged these messages; rejects when the send failed or no
     * acknowledgement came within the timeout.
     */
    publish(messages: OutMessage[]): Promise<void> {
      if (messages.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        queue.push({ messages, deadline: performance.now() + opts.timeoutMs, settled: false, resolve, reject });
        // the timer is armed whenever a caller waits: without one, this caller is the oldest
        if (timer === undefined) arm();
        schedule();
      });
    },
    get queued(): number {
      return queue.length;
    },
  };
}
export type CoalescingPublisher = ReturnType<typeof createCoalescingPublisher>;
