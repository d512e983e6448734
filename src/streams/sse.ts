// The Server-Sent Events wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html).
import { WalcastError } from '../errors.js';
import type { WalcastEvent } from '../events/event.js';

export interface SseMessage {
  readonly id?: string;
  readonly event?: string;
  readonly data: string;
}

/** CR, LF or NUL in a field would let a value start a new field (header injection, CWE-93). */
const FIELD_BREAKER = /[\r\n\0]/;

export function formatSse(message: SseMessage): string {
  let frame = '';
  if (message.id !== undefined) frame += `id: ${checkedField('id', message.id)}\n`;
  if (message.event !== undefined) frame += `event: ${checkedField('event', message.event)}\n`;
  for (const line of message.data.split(/\r\n|\r|\n/)) frame += `data: ${line}\n`;
  return `${frame}\n`;
}

function checkedField(name: string, value: string): string {
  if (FIELD_BREAKER.test(value)) throw new WalcastError('INTERNAL', `SSE ${name} must not contain CR, LF or NUL`);
  return value;
}

export function formatSseComment(text: string): string {
  return `: ${text.replace(/[\r\n\0]+/g, ' ')}\n\n`;
}

export function formatSseRetry(milliseconds: number): string {
  return `retry: ${Math.trunc(milliseconds)}\n\n`;
}

const frames = new WeakMap<WalcastEvent, Buffer>();

/** The bytes of an event, built once and shared by every stream that sends it. */
export function encodeEvent(event: WalcastEvent): Buffer {
  let frame = frames.get(event);
  if (!frame) {
    frame = Buffer.from(formatSse({ id: event.id, event: event.type, data: event.json }), 'utf8');
    frames.set(event, frame);
  }
  return frame;
}
