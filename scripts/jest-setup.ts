// Lifespan never writes to the console unless given a logger: any console output in a test is a bug.
const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
const written: string[] = [];
const originals = new Map<string, (...args: unknown[]) => void>();

beforeEach(() => {
  written.length = 0;
  for (const method of methods) {
    originals.set(method, console[method] as (...args: unknown[]) => void);
    (console as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      written.push(`console.${method}: ${args.map(String).join(' ')}`);
    };
  }
});

afterEach(() => {
  for (const method of methods) (console as unknown as Record<string, unknown>)[method] = originals.get(method);
  if (written.length > 0) {
    const lines = written.splice(0);
    throw new Error(`The test wrote to the console:\n${lines.join('\n')}`);
  }
});
