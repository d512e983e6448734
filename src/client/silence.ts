// Silence as a failure: fetch has no deadline, and a request sent into a dead pooled
// connection, or to a proxy gone silent, would wait for ever. Each byte heard restarts it.

export interface SilenceWatch {
  /** Something arrived: the silence starts again from now. */
  heard(): void;
  /** Whether it went off (and `onSilent` ran). */
  readonly silent: boolean;
  stop(): void;
}

/** Calls `onSilent` once nothing was heard for `ms`, counted from now. */
export function watchSilence(ms: number, onSilent: () => void): SilenceWatch {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let silent = false;
  const heard = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      silent = true;
      onSilent();
    }, ms);
  };
  heard();
  return {
    heard,
    get silent() {
      return silent;
    },
    stop: () => clearTimeout(timer),
  };
}
