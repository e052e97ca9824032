/** What a pipeline step decides about one message. */
export type StepResult<T> =
  | { kind: "ok"; value: T }
  | { kind: "drop"; reason: string }
  | { kind: "dlq"; reason: string; error?: unknown };

export const ok = <T>(value: T): StepResult<T> => ({ kind: "ok", value });
export const drop = (reason: string): StepResult<never> => ({ kind: "drop", reason });
export const dlq = (reason: string, error?: unknown): StepResult<never> => ({ kind: "dlq", reason, error });

export type Step<I, O> = (input: I) => StepResult<O> | Promise<StepResult<O>>;

/** Chain steps; the first non-ok result ends the chain. */
export function pipe<A, B, C>(s1: Step<A, B>, s2: Step<B, C>): Step<A, C>;
export function pipe<A, B, C, D>(s1: Step<A, B>, s2: Step<B, C>, s3: Step<C, D>): Step<A, D>;
export function pipe(...steps: Step<unknown, unknown>[]): Step<unknown, unknown> {
  return async (input) => {
    let current: StepResult<unknown> = ok(input);
    for (const step of steps) {
      if (current.kind !== "ok") return current;
      current = await step(current.value);
    }
    return current;
  };
}
