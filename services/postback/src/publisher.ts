import { ACKS_ALL, type Producer } from "@aff/kafka";

export type OutMessage = { key: string; value: string };
type Waiting = { messages: OutMessage[]; resolve: () => void; reject: (err: unknown) => void };

/**
 * Coalesces concurrent publishes into one `producer.send`. The idempotent producer keeps one request in flight, so
 * while a send waits for its acknowledgement every new publish queues, and the queue goes out as the next send. A
 * send starts in the check phase of the event loop (`setImmediate`), never inside a publish: the requests whose Redis
 * claims came back together publish together, and the next send picks up what the turn that acknowledged the previous
 * one released, instead of leaving with the first message while the rest wait a whole round trip. An idle service
 * adds no linger. Each caller's promise settles with the send that carried its own messages: a 202 still waits for
 * its own event's ack.
 */
export function createCoalescingPublisher(
  producer: Producer,
  topic: string,
  opts: { maxBatchMessages: number; onSend?: (size: number, ms: number) => void },
) {
  let queue: Waiting[] = [];
  let sending = false;
  let scheduled = false;

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
    const batch = take();
    const t0 = performance.now();
    try {
      await producer.send({ topic, acks: ACKS_ALL, messages: batch.flatMap((w) => w.messages) });
      for (const w of batch) w.resolve();
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      opts.onSend?.(
        batch.reduce((n, w) => n + w.messages.length, 0),
        performance.now() - t0,
      );
      sending = false;
      schedule();
    }
  };

  return {
    /** Resolves once every in-sync replica acknowledged these messages; rejects when the send failed. */
    publish(messages: OutMessage[]): Promise<void> {
      if (messages.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        queue.push({ messages, resolve, reject });
        schedule();
      });
    },
    get queued(): number {
      return queue.length;
    },
  };
}
export type CoalescingPublisher = ReturnType<typeof createCoalescingPublisher>;
