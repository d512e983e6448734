// The instance's periodic chores, each on its own timer, stopped together on close.
// A chore that fails is logged and tried again on its next turn: none may end the process.
import type { Logger } from '../log.js';

export interface Chore {
  readonly name: string;
  readonly everyMs: number;
  run(): void | Promise<void>;
}

export interface Maintenance {
  stop(): void;
}

export function startMaintenance(chores: readonly Chore[], log: Logger): Maintenance {
  const timers = chores.map((chore) => {
    let running = false;
    const timer = setInterval(() => {
      // A slow chore (a database that hangs) is never started twice at once.
      if (running) return;
      running = true;
      Promise.resolve()
        .then(() => chore.run())
        .catch((error: unknown) => log.warn({ err: error, chore: chore.name }, 'periodic chore failed; trying again next time'))
        .finally(() => {
          running = false;
        });
    }, chore.everyMs);
    timer.unref();
    return timer;
  });
  return {
    stop() {
      for (const timer of timers) clearInterval(timer);
    },
  };
}
