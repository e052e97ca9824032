import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { REPO_ROOT } from "./stack";

/**
 * One way to run a service as its own process in tests and benchmarks (so it can be SIGKILLed, restarted, or measured
 * alone): spawn the built entry point, wait for its "ready" log line, stop it with SIGTERM (SIGKILL after a grace).
 */
export type ServiceName = "redirect" | "postback" | "attribution" | "reports";

export type ProcessExit = { code: number | null; signal: NodeJS.Signals | null };

export type SpawnOptions = {
  /** variables on top of this process's environment */
  env?: Record<string, string | undefined>;
  /** the log event (pino `msg`) that means ready; default: the service's `<name>_listening` / `attribution_started` */
  readyEvent?: string;
  /** node flags before the script, e.g. --cpu-prof */
  nodeArgs?: string[];
  /**
   * "pipe" (default): stdout is read line by line, for the ready line and `onLine`; stderr is inherited.
   * "inherit": both go to this process's output. A file descriptor: both are appended to that file.
   * With anything but "pipe" there is no ready line to wait for.
   */
  output?: "pipe" | "inherit" | number;
  /** every stdout line other than the ready line (output "pipe" only) */
  onLine?: (line: string) => void;
};

export type ServiceProcess = {
  name: string;
  child: ChildProcess;
  /** the ready log line, parsed; rejects when the process exits first or its output is not piped */
  ready: Promise<Record<string, unknown>>;
  exited: Promise<ProcessExit>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves with how it ended */
  stop(graceMs?: number): Promise<ProcessExit>;
  /** SIGKILL if still running; false when it had already ended */
  kill(): boolean;
};

const READY_EVENT: Record<ServiceName, string> = {
  redirect: "redirect_listening",
  postback: "postback_listening",
  reports: "reports_listening",
  attribution: "attribution_started",
};

const running = new Set<ChildProcess>();
const isRunning = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

/** The built entry point of a service (`tsc -b` first). */
export const serviceMain = (service: ServiceName) => path.join(REPO_ROOT, "services", service, "dist", "main.js");

/** Spawns `node [nodeArgs] args` under `name`; see SpawnOptions. */
export function spawnNode(name: string, args: string[], opts: SpawnOptions & { readyEvent: string }): ServiceProcess {
  const output = opts.output ?? "pipe";
  const stdio = output === "pipe" ? (["ignore", "pipe", "inherit"] as const) : (["ignore", output, output] as const);
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...args], {
    env: { ...process.env, ...opts.env },
    stdio: [...stdio],
  });
  running.add(child);
  const exited = new Promise<ProcessExit>((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    if (!child.stdout) return reject(new Error(`${name}: output is not piped, no ready line to wait for`));
    child.once("exit", (code, signal) =>
      reject(new Error(`${name} exited (${code ?? signal}) before ${opts.readyEvent}`)),
    );
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.includes(`"${opts.readyEvent}"`)) resolve(JSON.parse(line));
      else opts.onLine?.(line);
    });
  });
  ready.catch(() => undefined); // callers that never wait for it must not see an unhandled rejection
  const kill = () => isRunning(child) && child.kill("SIGKILL");
  const stop = async (graceMs = 30_000) => {
    if (isRunning(child)) child.kill("SIGTERM");
    const timer = setTimeout(kill, graceMs);
    const how = await exited;
    clearTimeout(timer);
    return how;
  };
  return { name, child, ready, exited, stop, kill };
}

/**
 * Node flags a service is deployed with (docker-compose.yml and the service's `npm start` carry the same). The
 * redirect caps V8's generations: left alone, new space grows to 128 MB and old space to ~100 MB of uncollected
 * garbage under load, while the live heap is ~40 MB (its links are off the heap); see docs/adr/0003.
 */
export const SERVICE_NODE_ARGS: Partial<Record<ServiceName, string[]>> = {
  redirect: ["--max-semi-space-size=8", "--max-old-space-size=192"],
};

/**
 * Environment a service is deployed with, beside its flags (the same places carry it). The redirect asks glibc to
 * back its large allocations (the link table's arena and hash arrays) with transparent huge pages: a random read in
 * them missed the TLB on nearly every lookup, which on this VM's nested paging cost 200-500 ns; see docs/adr/0003.
 */
export const SERVICE_ENV: Partial<Record<ServiceName, Record<string, string>>> = {
  redirect: { GLIBC_TUNABLES: "glibc.malloc.hugetlb=1" },
};

/** Spawns a service's built entry point with its deployed node flags; `ready` resolves on its ready log line. */
export function spawnService(service: ServiceName, opts: SpawnOptions = {}): ServiceProcess {
  return spawnNode(service, [serviceMain(service)], {
    ...opts,
    env: { ...SERVICE_ENV[service], ...opts.env },
    nodeArgs: [...(SERVICE_NODE_ARGS[service] ?? []), ...(opts.nodeArgs ?? [])],
    readyEvent: opts.readyEvent ?? READY_EVENT[service],
  });
}

/** Spawns a service and waits until it listens; its URL comes from the port in the ready line (PORT=0 works). */
export async function startService(
  service: ServiceName,
  opts: SpawnOptions = {},
): Promise<ServiceProcess & { port: number; url: string }> {
  const p = spawnService(service, opts);
  const port = Number((await p.ready).port);
  return { ...p, port, url: `http://127.0.0.1:${port}` };
}

/** SIGKILLs every process spawned here that still runs: for afterAll hooks and `finally` blocks. */
export function killServiceProcesses(): void {
  for (const c of running) if (isRunning(c)) c.kill("SIGKILL");
}
