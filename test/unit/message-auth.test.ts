// Presence messages are authentic only with walcast.presence_key's MAC over their exact bytes.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_SIGNED_MESSAGE_BYTES, signMessage, verifiedBody } from '../../src/presence/message-auth.js';

const key = randomBytes(32);
const body = JSON.stringify({ op: 'beat', tenant: 'acme', room: 'lobby', user: 'ann', state: { name: 'Ann ✓' } });

describe('presence message authentication', () => {
  it('verifies what it signed, UTF-8 included', () => {
    expect(verifiedBody(key, Buffer.from(signMessage(key, body)))).toBe(body);
  });

  it('refuses another key, a changed byte, a bare body, a bad MAC and an oversized message', () => {
    const signed = Buffer.from(signMessage(key, body));
    expect(verifiedBody(randomBytes(32), signed)).toBeUndefined();
    for (const index of [0, 63, 64, signed.length - 1]) {
      const changed = Buffer.from(signed);
      changed[index] = changed[index]! ^ 1;
      expect(verifiedBody(key, changed), `byte ${index}`).toBeUndefined();
    }
    expect(verifiedBody(key, Buffer.from(body))).toBeUndefined();
    expect(verifiedBody(key, Buffer.from(`${'z'.repeat(64)}${body}`))).toBeUndefined();
    expect(verifiedBody(key, Buffer.from(signMessage(key, '')))).toBeUndefined();
    const large = 'x'.repeat(MAX_SIGNED_MESSAGE_BYTES);
    expect(verifiedBody(key, Buffer.from(signMessage(key, large)))).toBeUndefined();
  });

  it('binds the MAC to presence: a bare HMAC of the body under the same key does not verify', async () => {
    const { createHmac } = await import('node:crypto');
    const bare = `${createHmac('sha256', key).update(body).digest('hex')}${body}`;
    expect(verifiedBody(key, Buffer.from(bare))).toBeUndefined();
  });
});
