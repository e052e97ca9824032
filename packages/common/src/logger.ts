import pino from "pino";

export type Logger = pino.Logger;

/** One pino logger per service, bound to its name. Events are snake_case strings passed as the message. */
export function createLogger(service: string, level = "info"): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
