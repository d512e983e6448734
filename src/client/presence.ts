// Being in a room: a heartbeat now and on an interval (well inside the server's TTL),
// at once when the state changes, and a leave on the way out. Members are followed by a
// subscription with `rooms` (presence events travel on the stream).
import { backoffDelay, DEFAULT_BACKOFF, pause } from './backoff.js';
import { WalcastClientError } from './errors.js';
import { sendJson, type Http } from './http.js';
import { newIdempotencyKey } from './outbox.js';
import type { Row } from './types.js';

export interface PresenceOptions {
  readonly state?: Row;
  /** Default 10 s: three heartbeats per default TTL (30 s), so one lost beat is no leave. */
  readonly intervalMs?: number;
  /** A heartbeat the server refused for good (401, 403, 400): heartbeats stop. */
  readonly onError?: (error: WalcastClientError) => void;
}

const DEFAULT_INTERVAL_MS = 10_000;

export class Presence {
  /** Told apart from the same user's other tabs and devices. */
  readonly connection = newIdempotencyKey().slice(0, 32);
  #state: Row;
  readonly #abort = new AbortController();
  #wake: (() => void) | undefined;

  constructor(
    private readonly http: Http,
    readonly room: string,
    private readonly options: PresenceOptions = {},
  ) {
    this.#state = options.state ?? {};
    void this.beat();
  }

  get state(): Row {
    return this.#state;
  }

  /** Sends the new state now. */
  set(state: Row): void {
    this.#state = state;
    this.#wake?.();
  }

  /** Stops the heartbeats and tells the room at once (not after the TTL). */
  async leave(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    const query = new URLSearchParams({ room: this.room, connection: this.connection });
    await sendJson(this.http, { method: 'DELETE', path: `/v1/presence?${query.toString()}` }).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    const signal = this.#abort.signal;
    let failures = 0;
    while (!signal.aborted) {
      let delay = this.options.intervalMs ?? DEFAULT_INTERVAL_MS;
      try {
        await sendJson(this.http, { method: 'POST', path: '/v1/presence', body: { room: this.room, state: this.#state, connection: this.connection }, signal });
        failures = 0;
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof WalcastClientError && !error.retryable) {
          this.#abort.abort();
          this.options.onError?.(error);
          return;
        }
        delay = Math.min(delay, backoffDelay(failures++, DEFAULT_BACKOFF));
      }
      await this.sleep(delay);
    }
  }

  /** Until the next beat is due, or the state changes. */
  private async sleep(ms: number): Promise<void> {
    const woken = new AbortController();
    this.#wake = () => woken.abort();
    const stop = () => woken.abort();
    this.#abort.signal.addEventListener('abort', stop);
    await pause(ms, woken.signal);
    this.#abort.signal.removeEventListener('abort', stop);
    this.#wake = undefined;
  }
}
