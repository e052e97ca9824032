import { errorMessage, type Logger } from "@aff/common";
import { type ClickEvent, packClickLines } from "@aff/events";
import { ACKS_ALL, type Producer } from "@aff/kafka";
import type { Journal } from "./journal";
import type { Spool } from "./spool";

export type ClickPublisherDeps = {
  producer: Producer;
  topic: string;
  spool: Spool;
  /** clicks written here before their answers (`persist`), so a killed process loses none; absent in some tests */
  journal?: Journal;
  log: Logger;
  batchMax: number;
  flushMs: number;
  queueMax: number;
  onSent?: (n: number) => void;
  onSpooled?: (n: number) => void;
  /** clicks the full spool could not take (see Spool: the newest are dropped, the redirect still answers) */
  onDropped?: (n: number) => void;
  /** run once per connection before the first send (creates the topic if the broker was away at boot) */
  prepare?: () => Promise<void>;
};

/**
 * Takes click events off the response path. They are sent to Kafka in batches, many clicks per record
 * (`packClickLines`), so the client's cost per record is paid once per few hundred clicks, on the main thread;
 * while Kafka is away they wait in a bounded queue, and past that bound (or at shutdown) in an append-only spool
 * file that is replayed first when Kafka is back. No click is dropped unless the spool file is full too (counted and
 * logged, see Spool). Before their 302s are written, the clicks are journaled (`persist`, see Journal), so a process
 * killed with clicks still in memory loses none of them.
 */
export class ClickPublisher {
  /** serialized click events (one JSON each) */
  private queue: string[] = [];
  /** queued clicks not journaled yet: their answers have not been written */
  private unjournaled: string[] = [];
  private journalRefused = false;
  /** the batch being sent: spooled at shutdown if Kafka has not acknowledged it by then */
  private inflight: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private connected = false;
  private kafkaHealthy = true;
  private stopped = false;
  private spoolFull = false;
  private droppedSinceFull = 0;

  constructor(private readonly d: ClickPublisherDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.flush({ tick: true }), this.d.flushMs);
    this.timer.unref();
  }

  publish(event: ClickEvent): void {
    this.publishSerialized(JSON.stringify(event));
  }

  /** An event already serialized (JSON, one line). */
  publishSerialized(line: string): void {
    this.queue.push(line);
    if (this.d.journal) this.unjournaled.push(line);
    if (this.queue.length > this.d.queueMax) {
      const overflow = this.queue.splice(0, this.queue.length - Math.floor(this.d.queueMax / 2));
      const { written } = this.spool(overflow);
      if (written > 0) this.d.log.warn({ spooled: written }, "click_queue_overflow_spooled");
    }
  }

  /**
   * Journals the clicks published since the last call: called just before their answers are written. When the
   * journal is full (a long Kafka outage) or its disk fails, they wait in memory unjournaled, as before the journal;
   * said once per episode.
   */
  persist(): void {
    if (this.unjournaled.length === 0 || !this.d.journal) return;
    const written = this.d.journal.write(this.unjournaled);
    this.unjournaled = [];
    if (written === this.journalRefused) {
      this.journalRefused = !written;
      if (written) this.d.log.info("click_journal_accepting_again");
      else this.d.log.warn({ journal_bytes: this.d.journal.size }, "click_journal_refused");
    }
  }

  /** Writes to the spool, counting what it took and what it had no room for; says once when it fills up. */
  private spool(pending: string[]): { written: number; dropped: number } {
    const result = this.d.spool.append(pending);
    this.d.onSpooled?.(result.written);
    if (result.dropped > 0) {
      this.d.onDropped?.(result.dropped);
      this.droppedSinceFull += result.dropped;
      if (!this.spoolFull)
        this.d.log.error({ spool_bytes: this.d.spool.size, dropped: result.dropped }, "click_spool_full_dropping");
      this.spoolFull = true;
    }
    return result;
  }

  get depth(): number {
    return this.queue.length;
  }

  get healthy(): boolean {
    return this.kafkaHealthy;
  }

  /**
   * One flush at a time: spool first (older clicks), then the queue. A timer tick sends what was queued when it
   * began: the clicks read while its batch waits for the broker's acknowledgement wait for the next tick (unless a
   * full batch is queued). Sending them at once made a produce request of a few dozen clicks every couple of
   * milliseconds under load, and each request costs the client and the broker the same whatever its size
   * (docs/adr/0003, "One produce request per tick"). Called directly (tests, shutdown), it drains the queue.
   */
  flush(opts: { tick?: boolean } = {}): Promise<void> {
    // After stop() the spool belongs to the next process: a flush chained before stop() (and released when the
    // client's disconnect fails the send in flight) must not start replaying it.
    if (this.stopped) return this.flushing ?? Promise.resolve();
    if (!this.flushing) {
      this.flushing = this.flushOnce(opts.tick ? this.queue.length : Number.POSITIVE_INFINITY).finally(() => {
        this.flushing = undefined;
      });
    }
    return this.flushing;
  }

  private async send(batch: string[]): Promise<void> {
    // In flight from here, not from the produce request: while the broker is away the connect below can outlast
    // stop()'s timeout, and a batch taken off the queue but not marked in flight would be spooled by nobody.
    this.inflight = batch;
    try {
      if (!this.connected) {
        await this.d.producer.connect();
        await this.d.prepare?.();
        this.connected = true;
      }
      const messages = packClickLines(batch).map((value) => ({ key: null, value }));
      await this.d.producer.send({ topic: this.d.topic, acks: ACKS_ALL, messages });
    } finally {
      this.inflight = [];
    }
    if (this.stopped) this.d.log.info({ sent: batch.length }, "click_batch_acknowledged_after_spooling");
    this.d.onSent?.(batch.length);
  }

  /**
   * Sends the spool, then at least `queued` clicks of the queue (in batches of `batchMax`) and any full batch. Every
   * click of the journal's sealed file was then in the queue (or spooled): once all are sent, it is released.
   */
  private async flushOnce(queued: number): Promise<void> {
    this.persist();
    const sealed = this.d.journal?.seal();
    try {
      if (this.d.spool.hasData) {
        const n = await this.d.spool.drain((lines) => this.send(lines), this.d.batchMax);
        if (n > 0) this.d.log.info({ replayed: n }, "click_spool_replayed");
        if (this.spoolFull) {
          this.d.log.warn({ dropped: this.droppedSinceFull }, "click_spool_accepting_again");
          this.spoolFull = false;
          this.droppedSinceFull = 0;
        }
      }
      let left = queued;
      while (this.queue.length > 0 && (left > 0 || this.queue.length >= this.d.batchMax)) {
        const batch = this.queue.splice(0, this.d.batchMax);
        left -= batch.length;
        try {
          await this.send(batch);
        } catch (err) {
          // After stop() this batch has already been spooled with the rest.
          if (!this.stopped) this.queue.unshift(...batch);
          throw err;
        }
      }
      if (sealed !== undefined) this.d.journal?.release(sealed);
      if (!this.kafkaHealthy) this.d.log.info("click_kafka_recovered");
      this.kafkaHealthy = true;
    } catch (err) {
      if (this.kafkaHealthy)
        this.d.log.warn({ err: errorMessage(err), queued: this.queue.length }, "click_kafka_unavailable");
      this.kafkaHealthy = false;
      // Reconnect from scratch next time: a fresh idempotent producer id, so sequence numbers left behind by a
      // batch the broker may or may not have taken cannot make it refuse the batches that follow.
      if (this.connected) {
        this.connected = false;
        await this.d.producer.disconnect().catch(() => undefined);
      }
    }
  }

  /**
   * Stop the timer, try a last flush within `timeoutMs`, spool whatever is left, including a batch Kafka has not
   * acknowledged yet: if that batch lands after all it is sent twice, and the click table keeps one row per click id.
   */
  async stop(timeoutMs = 5_000): Promise<void> {
    clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush().then(() => this.flush()), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.stopped = true;
    const left = [...this.inflight, ...this.queue.splice(0)];
    const { written, dropped } = this.spool(left);
    this.unjournaled = [];
    this.d.journal?.releaseAll();
    if (left.length > 0) this.d.log.warn({ spooled: written, dropped }, "click_spooled_at_shutdown");
  }
}
