// Failures the SDK reports to the app, with walcast's error code (README "Errors").

export class WalcastClientError extends Error {
  override readonly name = 'WalcastClientError';
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    /** walcast's error code (`version_conflict`, `unauthorized`, …), or `network_error`. */
    readonly code: string,
    message: string,
    /** The JSON body of the answer, when there was one. */
    readonly body?: unknown,
  ) {
    super(message);
  }

  /** Worth trying again later: the network, a busy or restarting server, a rate limit. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** A 409 on an edit: someone changed the row first; `current` is the row as it is now. */
export class WalcastConflictError extends WalcastClientError {
  constructor(
    message: string,
    readonly current: Record<string, unknown> | null,
    body: unknown,
  ) {
    super(409, 'version_conflict', message, body);
  }
}

export function networkError(cause: unknown): WalcastClientError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new WalcastClientError(0, 'network_error', `walcast could not be reached: ${detail}`);
}

/** The error a non-2xx answer stands for, from its `{error, message}` body. */
export async function errorOf(response: Response): Promise<WalcastClientError> {
  const body: unknown = await response.json().catch(() => undefined);
  const fields = (typeof body === 'object' && body !== null ? body : {}) as { error?: unknown; message?: unknown; current?: unknown };
  const code = typeof fields.error === 'string' ? fields.error : `http_${response.status}`;
  const message = typeof fields.message === 'string' ? fields.message : `walcast answered ${response.status}`;
  if (response.status === 409 && code === 'version_conflict') {
    const current = typeof fields.current === 'object' ? (fields.current as Record<string, unknown> | null) : null;
    return new WalcastConflictError(message, current, body);
  }
  return new WalcastClientError(response.status, code, message, body);
}
