// A database pool stand-in: connecting and closing take time, as real ones do, and a query on a
// closed pool fails loudly, so a hook that runs too early shows up.
export function createPool({ connectMs = 50, endMs = 100 } = {}) {
  let state = 'new';
  return {
    get state() {
      return state;
    },
    async connect() {
      await new Promise((resolve) => setTimeout(resolve, connectMs));
      state = 'open';
    },
    async query(sql) {
      if (state !== 'open') throw new Error(`pool is ${state}: cannot run ${sql}`);
      await new Promise((resolve) => setImmediate(resolve));
      return { rows: [{ answer: 42 }] };
    },
    async end() {
      state = 'ending';
      await new Promise((resolve) => setTimeout(resolve, endMs));
      state = 'ended';
    },
  };
}
