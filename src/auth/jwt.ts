// Bearer tokens → Principal: JWTs verified with jose (HS256 secret or a JWKS URL), the
// tenant read from a configurable claim.
import { errors, jwtVerify, SignJWT, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { WalcastError } from '../errors.js';
import { createRemoteKeySet } from './key-set.js';

export interface Principal {
  readonly tenant: string;
  readonly sub: string;
  /** Milliseconds since the epoch; streams end then (DESIGN §5). */
  readonly expiresAt: number | undefined;
  /** The verified token's claims: row policies read `$sub` and `$claim.NAME` from them (DESIGN §10). */
  readonly claims: Readonly<Record<string, unknown>>;
}

export type VerifyToken = (token: string) => Promise<Principal>;

export interface VerifierOptions {
  readonly secret?: string | undefined;
  readonly jwksUrl?: string | undefined;
  readonly tenantClaim: string;
  /** Required `aud` and `iss`, when set; with a JWKS, at least one of them must be. */
  readonly audience?: string | undefined;
  readonly issuer?: string | undefined;
  /** After a JWKS fetch, how long a token with an unknown `kid` waits for the next (30 s). */
  readonly jwksCooldownMs?: number | undefined;
  /** A JWKS fetch that takes longer fails (5 s). */
  readonly jwksTimeoutMs?: number | undefined;
}

/** Asymmetric algorithms accepted from a JWKS; never `none`, never HS* with a public key. */
const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const CLOCK_TOLERANCE_SECONDS = 5;

const StandardClaims = z.object({ sub: z.string().min(1).max(200), exp: z.number() });
const TenantValue = z.union([z.string().min(1).max(200), z.number().int().transform(String)]);
/**
 * Control and other non-printable characters (and line separators) in a tenant: it is
 * compared, logged and sent back in events, where such characters only ever hide or
 * forge something.
 */
const NON_PRINTABLE = /[\p{C}\p{Zl}\p{Zp}]/u;

export function createTokenVerifier(options: VerifierOptions): VerifyToken {
  let key: Promise<CryptoKey> | JWTVerifyGetKey;
  let algorithms: string[];
  if (options.jwksUrl) {
    // A key set is often shared by many applications of one identity provider: without
    // an audience or issuer to check, their tokens would be ours too.
    if (!options.audience && !options.issuer) {
      throw new WalcastError('INVALID_CONFIG', 'invalid configuration: WALCAST_JWKS_URL needs WALCAST_JWT_AUDIENCE or WALCAST_JWT_ISSUER (or both)');
    }
    // Cached, and refetched when a token names a key it lacks: rotation needs no restart.
    key = createRemoteKeySet({
      url: new URL(options.jwksUrl),
      ...(options.jwksCooldownMs === undefined ? {} : { cooldownMs: options.jwksCooldownMs }),
      ...(options.jwksTimeoutMs === undefined ? {} : { timeoutMs: options.jwksTimeoutMs }),
    });
    algorithms = JWKS_ALGORITHMS;
  } else if (options.secret) {
    // Imported once: given the raw secret, jose imports it again for every token, which
    // was a fifth of the CPU time of opening a stream (bench density profile).
    key = crypto.subtle.importKey('raw', new TextEncoder().encode(options.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    algorithms = ['HS256'];
  } else {
    throw new WalcastError('INVALID_CONFIG', 'no token verification configured: set WALCAST_JWT_SECRET or WALCAST_JWKS_URL');
  }

  return async function verifyToken(token) {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, typeof key === 'function' ? key : await key, {
        algorithms,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        // A token that never expires cannot be taken back: refused.
        requiredClaims: ['exp'],
        ...(options.audience ? { audience: options.audience } : {}),
        ...(options.issuer ? { issuer: options.issuer } : {}),
      }));
    } catch (error) {
      if (error instanceof WalcastError) throw error;
      if (error instanceof errors.JWTExpired) throw new WalcastError('TOKEN_EXPIRED', 'the token has expired');
      if (error instanceof errors.JWTClaimValidationFailed) {
        if (error.reason === 'missing' && error.claim === 'exp')
          throw new WalcastError('INVALID_TOKEN', 'the token has no "exp" claim: only tokens that expire are accepted');
        throw new WalcastError('INVALID_TOKEN', `the token's "${error.claim}" claim is not accepted here`);
      }
      throw new WalcastError('INVALID_TOKEN', 'the token is not valid (bad signature, format or claims)');
    }
    const standard = StandardClaims.safeParse(payload);
    const tenant = TenantValue.safeParse(payload[options.tenantClaim]);
    if (!standard.success || !tenant.success) {
      throw new WalcastError('INVALID_TOKEN', `the token needs a "sub" claim and a "${options.tenantClaim}" claim`);
    }
    if (NON_PRINTABLE.test(tenant.data)) {
      throw new WalcastError('INVALID_TOKEN', `the token's "${options.tenantClaim}" claim contains control or other non-printable characters`);
    }
    const { sub, exp } = standard.data;
    return { tenant: tenant.data, sub, expiresAt: exp * 1000, claims: payload };
  };
}

export interface TokenClaims {
  readonly tenant: string;
  readonly sub: string;
  readonly ttlSeconds: number;
  readonly tenantClaim: string;
}

/** Signs an HS256 token (the CLI's `walcast token` and the dev page). */
export async function signToken(secret: string, claims: TokenClaims): Promise<string> {
  return new SignJWT({ [claims.tenantClaim]: claims.tenant })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlSeconds}s`)
    .sign(new TextEncoder().encode(secret));
}
