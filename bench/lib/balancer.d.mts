// Types of balancer.mjs, for the tests that use it.
export interface Balancer {
  readonly url: string;
  add(port: number): void;
  remove(port: number): void;
  close(): Promise<void>;
}

export function startBalancer(): Promise<Balancer>;
