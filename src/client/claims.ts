// Who a token says the user is (tenant and `sub`), read from the JWT's payload without
// verifying it: the server verifies; the SDK only needs it to key what it keeps per user
// (tabs sharing one stream, stored edits). A token it cannot read keys nothing.

export interface Identity {
  readonly tenant: string;
  readonly sub: string;
}

/** The default of the server's WALCAST_TENANT_CLAIM. */
export const DEFAULT_TENANT_CLAIM = 'tenant_id';

function decodeSegment(segment: string): unknown {
  const base64 = segment
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(segment.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

const claimText = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;

/** Tenant and user of a JWT, or undefined when the token is not a JWT with both claims. */
export function identityOf(token: string, tenantClaim: string = DEFAULT_TENANT_CLAIM): Identity | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  let claims: unknown;
  try {
    claims = decodeSegment(payload);
  } catch {
    return undefined;
  }
  if (typeof claims !== 'object' || claims === null) return undefined;
  const tenant = claimText((claims as Record<string, unknown>)[tenantClaim]);
  const sub = claimText((claims as Record<string, unknown>)['sub']);
  return tenant === undefined || sub === undefined ? undefined : { tenant, sub };
}

/** One string per user, safe inside a storage key or a lock name. */
export function identityKey(identity: Identity): string {
  return `${encodeURIComponent(identity.tenant)}:${encodeURIComponent(identity.sub)}`;
}
