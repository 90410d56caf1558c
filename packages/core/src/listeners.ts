/** A listener of one event, with the event's arguments. */
export type Listener<Args extends unknown[]> = (...args: Args) => void;

interface Entry {
  readonly fn: unknown;
  readonly once: boolean;
}

/**
 * The lifecycle's event listeners: `on`, `once`, `off` and a `notify` that a throwing listener
 * cannot break. Not an EventEmitter: users subscribe, only the lifecycle emits, and nothing here
 * depends on how Node builds its own emitters.
 */
export class ListenerSet<Events extends { [Event in keyof Events]: unknown[] }> {
  #byEvent: Map<keyof Events, Entry[]> | undefined;

  add<Event extends keyof Events>(event: Event, fn: Listener<Events[Event]>, once: boolean): void {
    const map = (this.#byEvent ??= new Map());
    const entries = map.get(event);
    const entry: Entry = { fn, once };
    if (entries === undefined) map.set(event, [entry]);
    else entries.push(entry);
  }

  /** Removes the most recently added registration of `fn` for `event`, as EventEmitter's `off` does. */
  remove<Event extends keyof Events>(event: Event, fn: Listener<Events[Event]>): void {
    const entries = this.#byEvent?.get(event);
    if (entries === undefined) return;
    const index = entries.map((entry) => entry.fn).lastIndexOf(fn);
    if (index >= 0) entries.splice(index, 1);
  }

  count(event: keyof Events): number {
    return this.#byEvent?.get(event)?.length ?? 0;
  }

  /**
   * Calls the listeners registered when it was called, in order; `once` ones are removed first.
   * A listener that throws goes to `onError` and the others still run.
   */
  notify<Event extends keyof Events>(event: Event, args: Events[Event], self: unknown, onError: (error: unknown) => void): void {
    const entries = this.#byEvent?.get(event);
    if (entries === undefined || entries.length === 0) return;
    const snapshot = entries.slice();
    for (const entry of snapshot) if (entry.once) entries.splice(entries.indexOf(entry), 1);
    for (const entry of snapshot) {
      try {
        Reflect.apply(entry.fn as (...values: unknown[]) => void, self, args);
      } catch (error) {
        onError(error);
      }
    }
  }
}
