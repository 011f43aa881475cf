// A store (or any object) whose named calls can be made to wait at a gate the test opens: a race between
// two handlers is forced, not hoped for. `pauseAt('putIf', (key, result) => …)` stops the first call that
// matches before it runs; `reached` says it got there, `release()` lets it go on.
export interface Gate {
  /** The call is waiting at the gate. */
  reached: Promise<void>;
  release(): void;
}

export function pausing<T extends object>(
  inner: T,
): { store: T; pauseAt(method: string, when?: (...args: never[]) => boolean): Gate } {
  const gates: {
    method: string;
    when: (...args: unknown[]) => boolean;
    open: Promise<void>;
    arrive(): void;
  }[] = [];
  const store = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const call = (args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(target, args);
      return (...args: unknown[]) => {
        const i = gates.findIndex((g) => g.method === String(property) && g.when(...args));
        if (i < 0) return call(args);
        const [g] = gates.splice(i, 1);
        g!.arrive();
        return g!.open.then(() => call(args));
      };
    },
  });
  return {
    store,
    pauseAt(method, when = () => true) {
      let arrive!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((r) => (arrive = r));
      const open = new Promise<void>((r) => (release = r));
      gates.push({ method, when: when as (...args: unknown[]) => boolean, open, arrive });
      return { reached, release };
    },
  };
}
