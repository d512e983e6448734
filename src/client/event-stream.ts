// One SSE connection kept open: fetch (so the token travels in a header, and a 401 is
// told apart from a network drop, which EventSource cannot do), parsed with
// eventsource-parser, reopened after any drop with backoff and jitter, resuming where the
// owner says. A connection that brings no byte for `silenceMs` is dropped too: the server
// writes a keepalive comment at least every SSE_KEEPALIVE_MAX_MS, so silence means a dead path
// (a sleeping laptop, a NAT that forgot the connection) that TCP may not notice for minutes.
// Stops for good only on answers that retrying cannot change.
import { createParser } from 'eventsource-parser';
import { HEADER, SSE_KEEPALIVE_MAX_MS } from '../wire/names.js';
import { backoffDelay, DEFAULT_BACKOFF, pause, type BackoffOptions } from './backoff.js';
import { errorOf, networkError, WalcastClientError } from './errors.js';
import { urlOf, type Http } from './http.js';
import type { Position } from './position.js';
import { watchSilence } from './silence.js';

export type StreamStatus = 'connecting' | 'open' | 'reconnecting' | 'stopped';

/** One SSE message (the parser's, restated so the SDK's declarations name no dependency). */
export interface SseMessage {
  readonly event?: string | undefined;
  readonly id?: string | undefined;
  readonly data: string;
}

/** DESIGN §11: silent for twice the keepalive interval (the contract's bound, not the server's setting) is dropped. */
export const DEFAULT_SILENCE_MS = 2 * SSE_KEEPALIVE_MAX_MS;

export interface EventStreamOptions {
  readonly http: Http;
  /** Path and query of the stream, asked again on each connect. */
  readonly path: () => string;
  /** Where to resume on each connect; undefined: from now. */
  readonly resumeFrom: () => Position | undefined;
  /** The stream is open, resumed from `from`. */
  readonly onOpen: (from: Position | undefined) => void;
  readonly onMessage: (message: SseMessage) => void;
  readonly onStatus: (status: StreamStatus, error?: WalcastClientError) => void;
  readonly backoff?: BackoffOptions;
  readonly silenceMs?: number;
}

export class EventStream {
  readonly #abort = new AbortController();
  #attempt = 0;

  constructor(private readonly options: EventStreamOptions) {
    void this.run();
  }

  close(): void {
    this.#abort.abort();
  }

  private async run(): Promise<void> {
    const { options } = this;
    const signal = this.#abort.signal;
    let refreshedFor401 = false;
    const silenceMs = options.silenceMs ?? DEFAULT_SILENCE_MS;
    while (!signal.aborted) {
      options.onStatus(this.#attempt === 0 ? 'connecting' : 'reconnecting');
      // One controller per connection: the watchdog ends this connection, not the stream.
      const connection = new AbortController();
      const abortConnection = () => connection.abort();
      signal.addEventListener('abort', abortConnection);
      // Watched from the request on: it may never be answered.
      const silence = watchSilence(silenceMs, abortConnection);
      try {
        const from = options.resumeFrom();
        const response = await this.connect(from, connection.signal);
        if (response.status === 401 && !refreshedFor401 && options.http.tokens.refreshable) {
          refreshedFor401 = true;
          await response.body?.cancel();
          await options.http.tokens.refresh();
          continue;
        }
        if (!response.ok) throw await errorOf(response);
        refreshedFor401 = false;
        this.#attempt = 0;
        options.onOpen(from);
        options.onStatus('open');
        await this.read(response, silence.heard);
      } catch (caught) {
        if (signal.aborted) break;
        const error = silence.silent
          ? new WalcastClientError(0, 'stream_silent', `the stream sent nothing for ${silenceMs} ms`)
          : caught instanceof WalcastClientError
            ? caught
            : networkError(caught);
        if (!error.retryable) {
          options.onStatus('stopped', error);
          this.#abort.abort();
          return;
        }
        options.onStatus('reconnecting', error);
      } finally {
        silence.stop();
        signal.removeEventListener('abort', abortConnection);
        connection.abort();
      }
      if (signal.aborted) break;
      await pause(backoffDelay(this.#attempt++, options.backoff ?? DEFAULT_BACKOFF), signal);
    }
    options.onStatus('stopped');
  }

  private async connect(from: Position | undefined, signal: AbortSignal): Promise<Response> {
    const { http } = this.options;
    return http.fetch(urlOf(http, this.options.path()), {
      headers: {
        accept: 'text/event-stream',
        [HEADER.authorization]: `Bearer ${await http.tokens.current()}`,
        ...(from === undefined ? {} : { [HEADER.lastEventId]: from }),
      },
      cache: 'no-store',
      signal,
    });
  }

  /** Until the server ends the stream or the connection drops; `watch` is told of each byte. */
  private async read(response: Response, watch: () => void): Promise<void> {
    if (!response.body) return;
    const parser = createParser({ onEvent: (message) => this.options.onMessage(message) });
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    watch();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.#abort.signal.aborted) return;
        watch();
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } finally {
      reader.releaseLock();
    }
  }
}
