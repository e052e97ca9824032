import { existsSync } from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import type { Logger } from "@aff/common";
import type { ClickEvent } from "@aff/events";

export type ClickWorkerData = {
  logLevel: string;
  brokers: string;
  clientId: string;
  topic: string;
  partitions: number;
  replicationFactor: number;
  minInsyncReplicas?: number | undefined;
  idempotent: boolean;
  spoolDir: string;
  spoolName: string;
  spoolMaxBytes: number;
  batchMax: number;
  flushMs: number;
  queueMax: number;
};
export type ToClickWorker = { type: "clicks"; pairs: string[] } | { type: "stop"; timeoutMs: number };
export type FromClickWorker =
  | {
      type: "stats";
      sent: number;
      spooled: number;
      dropped: number;
      spoolBytes: number;
      depth: number;
      healthy: boolean;
    }
  | { type: "stopped" };

/** Hand-over to the worker every few ms, or sooner once this many events wait. */
const HANDOVER_MS = 5;
const HANDOVER_MAX = 512;

/** The compiled worker beside this file; from the TypeScript sources (tests), the built copy in dist/. */
function workerFile(): string {
  const here = path.join(__dirname, "click-worker.js");
  return existsSync(here) ? here : path.join(__dirname, "..", "dist", "click-worker.js");
}

/**
 * The main thread's end of the click pipeline: `publish` serializes the event and buffers it; every few ms the
 * buffer goes to the click worker thread (Kafka, bounded queue, spool file). The response never waits on any of it.
 */
export class ClickSink {
  private buffer: string[] = [];
  private worker: Worker;
  private readonly timer: NodeJS.Timeout;
  private stopping = false;
  private last: Extract<FromClickWorker, { type: "stats" }> = {
    type: "stats",
    sent: 0,
    spooled: 0,
    dropped: 0,
    spoolBytes: 0,
    depth: 0,
    healthy: true,
  };

  constructor(
    private readonly data: ClickWorkerData,
    private readonly log: Logger,
    private readonly onStats: (delta: { sent: number; spooled: number; dropped: number }) => void,
  ) {
    this.worker = this.spawn();
    this.timer = setInterval(() => this.handOver(), HANDOVER_MS);
    this.timer.unref();
  }

  private spawn(): Worker {
    const worker = new Worker(workerFile(), {
      workerData: this.data,
      resourceLimits: { maxYoungGenerationSizeMb: 16 },
    });
    worker.on("message", (m: FromClickWorker) => {
      if (m.type !== "stats") return;
      this.onStats({
        sent: m.sent - this.last.sent,
        spooled: m.spooled - this.last.spooled,
        dropped: m.dropped - this.last.dropped,
      });
      this.last = m;
    });
    worker.on("error", (err) => this.log.error({ err }, "click_worker_failed"));
    worker.on("exit", (code) => {
      if (this.stopping) return;
      // Events it held in memory are lost with it; what it had spooled is replayed by the new one.
      this.log.error({ code }, "click_worker_restarted");
      this.last = {
        type: "stats",
        sent: 0,
        spooled: 0,
        dropped: 0,
        spoolBytes: this.last.spoolBytes,
        depth: 0,
        healthy: false,
      };
      this.worker = this.spawn();
    });
    return worker;
  }

  publish(event: ClickEvent): void {
    this.buffer.push(event.click_id, JSON.stringify(event));
    if (this.buffer.length >= HANDOVER_MAX * 2) this.handOver();
  }

  private handOver(): void {
    if (this.buffer.length === 0) return;
    const pairs = this.buffer;
    this.buffer = [];
    this.worker.postMessage({ type: "clicks", pairs } satisfies ToClickWorker);
  }

  /** Events waiting for Kafka (as of the worker's last report). */
  get depth(): number {
    return this.last.depth + this.buffer.length / 2;
  }

  get healthy(): boolean {
    return this.last.healthy;
  }

  /** Bytes in the spool file (as of the worker's last report). */
  get spoolBytes(): number {
    return this.last.spoolBytes;
  }

  /** Hands over the last events, lets the worker flush or spool them within `timeoutMs`, then ends it. */
  async stop(timeoutMs = 5_000): Promise<void> {
    clearInterval(this.timer);
    this.handOver();
    this.stopping = true;
    const stopped = new Promise<void>((resolve) => {
      this.worker.on("message", (m: FromClickWorker) => m.type === "stopped" && resolve());
      this.worker.once("exit", () => resolve());
    });
    this.worker.postMessage({ type: "stop", timeoutMs } satisfies ToClickWorker);
    await stopped;
    await this.worker.terminate();
  }
}
