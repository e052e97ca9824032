import type { Logger } from "./logger";

type Cleanup = { name: string; fn: () => Promise<void> | void };

/**
 * Resources register a cleanup with `defer`; `stop()` runs them once, in reverse order, within a timeout.
 * SIGTERM, SIGINT and fatal errors all end in `stop()`.
 */
export class Lifecycle {
  private readonly cleanups: Cleanup[] = [];
  private stopping: Promise<boolean> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly timeoutMs = 15_000,
  ) {}

  defer(name: string, fn: () => Promise<void> | void): void {
    this.cleanups.push({ name, fn });
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /** Runs every cleanup once; resolves true when all succeeded in time. */
  stop(reason: string): Promise<boolean> {
    if (!this.stopping) this.stopping = this.runCleanups(reason);
    return this.stopping;
  }

  private async runCleanups(reason: string): Promise<boolean> {
    this.log.info({ reason }, "shutdown_started");
    let ok = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.timeoutMs);
    });
    const all = (async () => {
      for (const c of [...this.cleanups].reverse()) {
        try {
          await c.fn();
          this.log.info({ resource: c.name }, "cleanup_done");
        } catch (err) {
          ok = false;
          this.log.error({ resource: c.name, err }, "cleanup_failed");
        }
      }
    })();
    const result = await Promise.race([all.then(() => "done" as const), timeout]);
    clearTimeout(timer);
    if (result === "timeout") {
      this.log.error({ timeout_ms: this.timeoutMs }, "shutdown_timed_out");
      return false;
    }
    this.log.info({ ok }, "shutdown_finished");
    return ok;
  }

  /** Wire process signals and fatal errors to `stop()`, then exit with a code that says whether it failed. */
  installSignalHandlers(): void {
    const exitAfter = (reason: string, failed: boolean) => {
      void this.stop(reason).then((ok) => process.exit(ok && !failed ? 0 : 1));
    };
    process.once("SIGTERM", () => exitAfter("SIGTERM", false));
    process.once("SIGINT", () => exitAfter("SIGINT", false));
    process.on("unhandledRejection", (err) => {
      this.log.fatal({ err }, "unhandled_rejection");
      exitAfter("unhandled_rejection", true);
    });
    process.on("uncaughtException", (err) => {
      this.log.fatal({ err }, "uncaught_exception");
      exitAfter("uncaught_exception", true);
    });
  }
}
