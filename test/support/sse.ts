// A real EventSource (the `eventsource` package) that records what a browser would see.
import { EventSource } from 'eventsource';

export interface ReceivedMessage {
  readonly type: string;
  readonly id: string;
  readonly data: Record<string, unknown>;
  /** The `data:` text as sent. */
  readonly raw: string;
}

const EVENT_TYPES = ['change', 'truncate', 'invalidate', 'reset', 'auth_expired', 'presence'];

export class SseClient {
  readonly received: ReceivedMessage[] = [];
  private read = 0;
  private wake: (() => void) | undefined;
  private opened = 0;

  private constructor(private readonly source: EventSource) {
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (event) => {
        this.received.push({ type, id: event.lastEventId, data: JSON.parse(event.data) as Record<string, unknown>, raw: event.data });
        this.wake?.();
      });
    }
    source.addEventListener('open', () => {
      this.opened++;
      this.wake?.();
    });
  }

  /** Opens a stream and waits until the server has accepted it. */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    const source = new EventSource(url, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...headers } }),
    });
    const client = new SseClient(source);
    await client.until(() => client.opened > 0, 5_000, 'stream did not open');
    return client;
  }

  /** Times the stream has (re)connected. */
  get connections(): number {
    return this.opened;
  }

  /** The next message not yet returned, waiting up to `timeout` ms. */
  async next(timeout = 5_000): Promise<ReceivedMessage> {
    await this.until(() => this.read < this.received.length, timeout, 'no message arrived');
    return this.received[this.read++]!;
  }

  /** The next `count` messages. */
  async take(count: number, timeout = 5_000): Promise<ReceivedMessage[]> {
    const messages: ReceivedMessage[] = [];
    for (let i = 0; i < count; i++) messages.push(await this.next(timeout));
    return messages;
  }

  /** Waits until the predicate holds, re-checked whenever something arrives. */
  async until(predicate: () => boolean, timeout: number, what: string): Promise<void> {
    const deadline = Date.now() + timeout;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what} within ${timeout} ms (received: ${JSON.stringify(this.received.slice(this.read))})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Messages received but not yet returned by next(). */
  unread(): ReceivedMessage[] {
    return this.received.slice(this.read);
  }

  close(): void {
    this.source.close();
  }
}
