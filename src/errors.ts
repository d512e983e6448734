// The one error type walcast throws, and the registry of its codes.

/**
 * Every code walcast can produce, with the HTTP status it maps to. The wire form of a code
 * is its lower-case spelling (`TABLE_NOT_FOUND` → `"table_not_found"`), rendered only by
 * `http/error-handler`. The README's error table is checked against this list by a test.
 */
export const ERROR_CODES = {
  INVALID_CONFIG: 500,
  DATABASE_SETUP: 500,
  BAD_REQUEST: 400,
  INVALID_PARAMETER: 400,
  INVALID_EVENT_ID: 400,
  MALFORMED_JSON: 400,
  PRECONDITION_REQUIRED: 428,
  AUTH_REQUIRED: 401,
  INVALID_TOKEN: 401,
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  POLICY_VIOLATION: 403,
  TABLE_NOT_FOUND: 404,
  ROW_NOT_FOUND: 404,
  NOT_FOUND: 404,
  VERSION_CONFLICT: 409,
  SNAPSHOT_EXPIRED: 410,
  PAYLOAD_TOO_LARGE: 413,
  VALIDATION_FAILED: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  RATE_LIMITED: 429,
  TOO_MANY_STREAMS: 429,
  TOO_MANY_SNAPSHOT_READS: 429,
  SERVER_BUSY: 503,
  AUTH_UNAVAILABLE: 503,
  READ_ONLY_INSTANCE: 503,
  TOO_MANY_SNAPSHOTS: 503,
  INTERNAL: 500,
  REPLICATION_PROTOCOL: 500,
  REPLICATION_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class WalcastError extends Error {
  override readonly name = 'WalcastError';
  readonly code: ErrorCode;
  readonly status: number;

  /** More fields for the JSON body (`column`, `current`, …); never secrets. */
  readonly details: Readonly<Record<string, unknown>>;
  /** Extra response headers (`Retry-After`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown>; headers?: Record<string, string> }) {
    super(message, options);
    this.code = code;
    this.status = ERROR_CODES[code];
    this.details = options?.details ?? {};
    this.headers = options?.headers ?? {};
  }

  /** The `error` field of a JSON error body. */
  get wireCode(): string {
    return this.code.toLowerCase();
  }
}

export function isWalcastError(value: unknown): value is WalcastError {
  return value instanceof WalcastError;
}
