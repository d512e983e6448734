// One SSE connection kept open: fetch (so the token travels in a header, and a 401 is
// told apart from a network drop, which EventSource cannot do), parsed with
// eventsource-parser, reopened after any drop with backoff and jitter, resuming with
// Last-Event-ID. Stops for good only on answers that retrying cannot change.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { backoffDelay, DEFAULT_BACKOFF, pause, type BackoffOptions } from './backoff.js';
import { errorOf, networkError, WalcastClientError } from './errors.js';
import { urlOf, type Http } from './http.js';

export type StreamStatus = 'connecting' | 'open' | 'reconnecting' | 'stopped';

export interface EventStreamOptions {
  readonly http: Http;
  /** Path and query of the stream, asked again on each connect. */
  readonly path: () => string;
  /** Where to resume on each connect; undefined: from now. */
  readonly resumeFrom: () => string | undefined;
  readonly onOpen: () => void;
  readonly onMessage: (message: EventSourceMessage) => void;
  readonly onStatus: (status: StreamStatus, error?: WalcastClientError) => void;
  readonly backoff?: BackoffOptions;
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
    while (!signal.aborted) {
      options.onStatus(this.#attempt === 0 ? 'connecting' : 'reconnecting');
      try {
        const response = await this.connect(signal);
        if (response.status === 401 && !refreshedFor401 && options.http.tokens.refreshable) {
          refreshedFor401 = true;
          await response.body?.cancel();
          await options.http.tokens.refresh();
          continue;
        }
        if (!response.ok) throw await errorOf(response);
        refreshedFor401 = false;
        this.#attempt = 0;
        options.onOpen();
        options.onStatus('open');
        await this.read(response, signal);
      } catch (caught) {
        if (signal.aborted) break;
        const error = caught instanceof WalcastClientError ? caught : networkError(caught);
        if (!error.retryable) {
          options.onStatus('stopped', error);
          this.#abort.abort();
          return;
        }
        options.onStatus('reconnecting', error);
      }
      if (signal.aborted) break;
      await pause(backoffDelay(this.#attempt++, options.backoff ?? DEFAULT_BACKOFF), signal);
    }
    options.onStatus('stopped');
  }

  private async connect(signal: AbortSignal): Promise<Response> {
    const { http } = this.options;
    const resumeFrom = this.options.resumeFrom();
    return http.fetch(urlOf(http, this.options.path()), {
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${await http.tokens.current()}`,
        ...(resumeFrom === undefined ? {} : { 'last-event-id': resumeFrom }),
      },
      cache: 'no-store',
      signal,
    });
  }

  /** Until the server ends the stream or the connection drops. */
  private async read(response: Response, signal: AbortSignal): Promise<void> {
    if (!response.body) return;
    const parser = createParser({ onEvent: (message) => this.options.onMessage(message) });
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || signal.aborted) return;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } finally {
      reader.releaseLock();
    }
  }
}
