/** Conditions on what a child process said, checked again each time it says something more. */
export interface Waiters {
  /** Checks every pending condition again. */
  notify(): void;
  /**
   * Resolves once `predicate` holds; rejects as soon as `gone(what)` returns a message (the
   * process ended first), or after `timeoutMs`.
   */
  until(predicate: () => boolean, gone: (what: string) => string | undefined, what: string, timeoutMs: number): Promise<void>;
}

/** A fresh set of waiters (one per child process). */
export function createWaiters(): Waiters {
  const pending = new Set<() => void>();
  return {
    notify() {
      for (const check of [...pending]) check();
    },
    until(predicate, gone, what, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          pending.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = (): void => {
          if (predicate()) return finish();
          const message = gone(what);
          if (message !== undefined) finish(new Error(message));
        };
        pending.add(check);
        check();
      });
    },
  };
}
