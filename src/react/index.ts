// walcast/react: subscriptions bound to React components with useSyncExternalStore.
// A component re-renders when its table's rows, the subscription's status or a room's
// members change, and only then (each is the same array or value until it changes).
// Edits stay the subscription's methods:
//
//   const todos = useSubscription(walcast, { tables: ['todos'], rooms: ['list'] });
//   const rows = useRows(todos, 'todos');
//   const status = useStatus(todos);
//   const here = usePresence(todos, 'list');
//   <button onClick={() => todos.update('todos', row, { done: true })}>
import { useCallback, useEffect, useState, useSyncExternalStore } from 'react';
import type { AnyTables, Member, NameOf, RowOf, SubscribeOptions, Subscription, SubscriptionStatus, TableRows, WalcastClient } from '../client/index.js';

/** What makes two option objects the same subscription (functions and storage objects aside). */
function optionsKey(options: SubscribeOptions): string {
  return JSON.stringify([options.tables, options.where ?? null, options.rooms ?? [], options.windows ?? null, options.persistEdits?.key ?? null]);
}

interface Held<T extends TableRows, N extends keyof T & string> {
  readonly client: WalcastClient<T>;
  readonly key: string;
  readonly subscription: Subscription<T, N>;
}

/**
 * A subscription for as long as the component is mounted; a new one when the client or
 * its tables, filters, rooms or windows change (the old one is closed).
 */
export function useSubscription<T extends TableRows = AnyTables, N extends keyof T & string = keyof T & string>(
  client: WalcastClient<T>,
  options: SubscribeOptions<N>,
): Subscription<T, N> {
  const key = optionsKey(options as SubscribeOptions);
  const [held, setHeld] = useState<Held<T, N>>(() => ({ client, key, subscription: client.subscribe(options) }));
  let current = held;
  if (held.client !== client || held.key !== key) {
    current = { client, key, subscription: client.subscribe(options) };
    setHeld(current);
  }
  useEffect(() => {
    const { subscription } = current;
    // Closed by this effect's cleanup in a development double mount: open it again.
    if (subscription.status === 'stopped' && subscription.error === undefined) {
      setHeld({ client: current.client, key: current.key, subscription: current.client.subscribe(options) });
      return undefined;
    }
    return () => subscription.close();
    // `options` is represented by `key` (in `current`): a new object with the same content changes nothing.
  }, [current]);
  return current.subscription;
}

const qualified = (table: string) => (table.includes('.') ? table : `public.${table}`);

/** The table's rows as `subscription.rows(table)` shows them, kept current. */
export function useRows<T extends TableRows, N extends keyof T & string, M extends NameOf<T, N>>(
  subscription: Subscription<T, N>,
  table: M,
): readonly RowOf<T, M>[] {
  const subscribe = useCallback(
    (notify: () => void) => subscription.on('rows', (changed) => (changed === qualified(table) ? notify() : undefined)),
    [subscription, table],
  );
  const read = () => subscription.rows(table);
  return useSyncExternalStore(subscribe, read, read);
}

/** `loading`, `live`, `reconnecting` or `stopped` (then `subscription.error` says why). */
export function useStatus<T extends TableRows, N extends keyof T & string>(subscription: Subscription<T, N>): SubscriptionStatus {
  const subscribe = useCallback((notify: () => void) => subscription.on('status', notify), [subscription]);
  const read = () => subscription.status;
  return useSyncExternalStore(subscribe, read, read);
}

/** Who is in `room` (one entry per connection); the subscription must follow the room (`rooms`). */
export function usePresence<T extends TableRows, N extends keyof T & string>(subscription: Subscription<T, N>, room: string): readonly Member[] {
  const subscribe = useCallback(
    (notify: () => void) => subscription.on('presence', (changed) => (changed === room ? notify() : undefined)),
    [subscription, room],
  );
  const read = () => subscription.members(room);
  return useSyncExternalStore(subscribe, read, read);
}
