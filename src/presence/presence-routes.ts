// POST/DELETE/GET /v1/presence: heartbeats go into the WAL as non-transactional logical
// messages, so every instance (this one too) learns of them from its own stream; no
// instance needs to know the others, and no broker besides Postgres is involved.
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { VerifyToken } from '../auth/jwt.js';
import { principalOf, requireAuth } from '../auth/require-auth.js';
import { WalcastError } from '../errors.js';
import { QUERY } from '../wire/names.js';
import type { RateLimiter } from '../http/rate-limit.js';
import { parseBody, parseQuery } from '../http/validate.js';
import { RoomName, type Member, type PresenceMessage } from './rooms.js';

const MAX_STATE_BYTES = 2_048;
const BODY_LIMIT = '16kb';

const Heartbeat = z.object({
  room: RoomName,
  state: z.record(z.string(), z.unknown()).default({}),
  /** One member per browser tab: the SDK sends a random ID per connection. */
  connection: z.string().min(1).max(64).default('default'),
});

const RoomQuery = z.object({
  [QUERY.room]: RoomName,
  connection: z.string().min(1).max(64).default('default'),
  [QUERY.accessToken]: z.string().optional(),
});

export interface PresenceRouteDeps {
  readonly verifyToken: VerifyToken;
  readonly ttlMs: number;
  readonly limiter: RateLimiter;
  /** Emits a presence message into the WAL. */
  readonly emit: (message: PresenceMessage) => Promise<void>;
  readonly members: (tenant: string, room: string) => Member[];
  /** The key rooms know the caller's tenant by. */
  readonly presenceTenant: (claim: string) => string;
  /** This instance reads from a physical standby: heartbeats go to the primary's instances. */
  readonly readOnly: boolean;
}

export function presenceRoutes(deps: PresenceRouteDeps): Router {
  const router = Router();
  const auth = requireAuth(deps.verifyToken);
  const writable = (_request: Request, _response: Response, next: () => void) => {
    if (deps.readOnly) throw new WalcastError('READ_ONLY_INSTANCE', 'this instance reads from a standby: send heartbeats to an instance on the primary');
    next();
  };

  router.post('/v1/presence', auth, writable, express.json({ limit: BODY_LIMIT }), async function heartbeat(request: Request, response: Response) {
    const principal = principalOf(response);
    deps.limiter.take(`${principal.tenant}\u0000${principal.sub}`);
    const body = parseBody(Heartbeat, request);
    if (JSON.stringify(body.state).length > MAX_STATE_BYTES) {
      throw new WalcastError('PAYLOAD_TOO_LARGE', `state is at most ${MAX_STATE_BYTES} bytes of JSON`);
    }
    await deps.emit({
      op: 'beat',
      tenant: deps.presenceTenant(principal.tenant),
      room: body.room,
      user: principal.sub,
      connection: body.connection,
      state: body.state,
      at: Date.now(),
      ttlMs: deps.ttlMs,
    });
    response.json({ room: body.room, connection: body.connection, ttlSeconds: deps.ttlMs / 1000 });
  });

  router.delete('/v1/presence', auth, writable, async function leave(request: Request, response: Response) {
    const principal = principalOf(response);
    deps.limiter.take(`${principal.tenant}\u0000${principal.sub}`);
    const query = parseQuery(RoomQuery, request);
    await deps.emit({
      op: 'leave',
      tenant: deps.presenceTenant(principal.tenant),
      room: query[QUERY.room],
      user: principal.sub,
      connection: query.connection,
      state: {},
      at: Date.now(),
      ttlMs: deps.ttlMs,
    });
    response.status(204).end();
  });

  router.get('/v1/presence', auth, function list(request: Request, response: Response) {
    const principal = principalOf(response);
    const room = parseQuery(RoomQuery, request)[QUERY.room];
    response.json({ room, members: deps.members(deps.presenceTenant(principal.tenant), room) });
  });

  return router;
}
