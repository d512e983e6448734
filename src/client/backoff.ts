// Reconnect delays: exponential with full jitter, so a restarted server is not met by
// every client at the same instant.

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 15_000 };

/** The delay before attempt `attempt` (0-based): uniform in [0, min(max, initial·2^attempt)]. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(random() * ceiling);
}

type OnlineTarget = { addEventListener(type: 'online', listener: () => void): void; removeEventListener(type: 'online', listener: () => void): void };

/** Browsers say when the network is back; waiting ends early then. Node has no such event. */
function onlineTarget(): OnlineTarget | undefined {
  const target = globalThis as unknown as Partial<OnlineTarget> & { navigator?: { onLine?: boolean } };
  return typeof target.addEventListener === 'function' && target.navigator !== undefined ? (target as OnlineTarget) : undefined;
}

/** Waits `ms`, or less if the browser comes back online or `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const target = onlineTarget();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      target?.removeEventListener('online', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
    target?.addEventListener('online', done);
  });
}
