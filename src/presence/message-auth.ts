// Presence messages travel as logical messages, which every database role may emit
// (pg_logical_emit_message is granted to PUBLIC). Each one walcast sends carries an
// HMAC-SHA256 of its body under walcast.presence_key, which only walcast's owner and its
// server roles can read; a message whose MAC does not verify is dropped. Pure.
//
//   content = <64 hex digits: HMAC(key, "walcast.presence\n" + body)> <body: JSON>
import { createHmac, timingSafeEqual } from 'node:crypto';

const MAC_HEX_LENGTH = 64;
/** Bound on what is worth a MAC computation: a heartbeat is at most a few KiB (2 KiB of state). */
export const MAX_SIGNED_MESSAGE_BYTES = 16 * 1024;
/** Binds the MAC to its purpose: the key signs nothing else the same way. */
const DOMAIN = 'walcast.presence\n';

function mac(key: Buffer, body: string | Buffer): Buffer {
  return createHmac('sha256', key).update(DOMAIN).update(body).digest();
}

export function signMessage(key: Buffer, body: string): string {
  return `${mac(key, body).toString('hex')}${body}`;
}

/** The body of an authentic message, or undefined for anything else. */
export function verifiedBody(key: Buffer, content: Buffer): string | undefined {
  if (content.length <= MAC_HEX_LENGTH || content.length > MAX_SIGNED_MESSAGE_BYTES) return undefined;
  const claimed = Buffer.from(content.subarray(0, MAC_HEX_LENGTH).toString('latin1'), 'hex');
  if (claimed.length !== MAC_HEX_LENGTH / 2) return undefined;
  const body = content.subarray(MAC_HEX_LENGTH);
  return timingSafeEqual(claimed, mac(key, body)) ? body.toString('utf8') : undefined;
}
