// The public API of the `walcast` package (the server). The browser/Node SDK is `walcast/client`.
export { loadConfig, type Config } from './config/config.js';
export { createWalcast, startWalcast, type RunningWalcast, type Walcast, type WalcastOptions } from './walcast.js';
export { createTokenVerifier, signToken, type Principal, type VerifyToken } from './auth/jwt.js';
export { WalcastError, ERROR_CODES, type ErrorCode } from './errors.js';
export { migrate } from './sql/migrate.js';
export type { EventId } from './events/event-id.js';
