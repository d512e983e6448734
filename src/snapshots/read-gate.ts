// How many snapshot reads a tenant may run at once (DESIGN §4): past the limit, a 429 with
// Retry-After, so one tenant's readers cannot take every reader's connection. Counted from
// the request's start to its end, waiting for a connection included.
import { WalcastError } from '../errors.js';

export class ReadGate {
  private readonly open = new Map<string, number>();

  constructor(private readonly perTenant: number) {}

  /** Takes a place for `tenant` or refuses; the returned function gives it back (once). */
  enter(tenant: string): () => void {
    const count = this.open.get(tenant) ?? 0;
    if (count >= this.perTenant) {
      throw new WalcastError('TOO_MANY_SNAPSHOT_READS', `at most ${this.perTenant} snapshot reads at once per tenant; retry shortly`, {
        headers: { 'retry-after': '1' },
      });
    }
    this.open.set(tenant, count + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const now = (this.open.get(tenant) ?? 1) - 1;
      if (now === 0) this.open.delete(tenant);
      else this.open.set(tenant, now);
    };
  }
}
