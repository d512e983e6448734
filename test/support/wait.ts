// Waiting on a condition with a deadline: never sleep-then-assert.

/** Resolves once `check` holds; fails naming `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A series' value from an instance's /metrics (the sum over its labels); 0 when absent. */
export async function metric(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * Resolves once `check` has held for all of `windowMs`, looked at every `everyMs`; fails at
 * the first look where it does not. For what must not happen: watched throughout, not
 * glanced at once after a sleep.
 */
export async function throughout(what: string, check: () => boolean | Promise<boolean>, windowMs: number, everyMs = 20): Promise<void> {
  const end = Date.now() + windowMs;
  for (;;) {
    if (!(await check())) throw new Error(`no longer ${what}`);
    if (Date.now() >= end) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
