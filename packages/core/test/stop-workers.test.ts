import { stopWorkers, stopWorkersOnSignal } from '@lifespan/core';
import { worstExitCode } from '../src/stop-workers';

// Only the arguments and the exit code: stopping real workers runs in packages/e2e/test/cluster-signals.test.ts.
describe('stopWorkers(options), stopWorkersOnSignal(options)', () => {
  it.each([null, 5, 'fast', []])('rejects %p as options with ERR_LIFESPAN_INVALID_ARG', async (options) => {
    await expect(stopWorkers(options as never)).rejects.toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options' });
    expect(() => stopWorkersOnSignal(options as never)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options' }));
  });

  it.each([
    ['exitTimeoutMs', 0],
    ['exitTimeoutMs', 2 ** 31],
    ['signals', ['SIGKILL']],
    ['signals', false],
    ['forceExitCode', 256],
    ['timeoutMs', 1000],
  ])('rejects options.%s = %p with ERR_LIFESPAN_INVALID_ARG naming it', (name, value) => {
    expect(() => stopWorkersOnSignal({ [name]: value } as never)).toThrow(expect.objectContaining({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: `options.${name}` }));
  });

  it('resolves to no stops when there are no workers', async () => {
    await expect(stopWorkers({ exitTimeoutMs: 1000 })).resolves.toEqual([]);
  });
});

describe('worstExitCode(stops)', () => {
  const stop = (exitCode: number | null, signal: string | null = null, killed = false) => ({ exitCode, signal, killed });

  it('is 0 when every worker exited 0, or when there was none', () => {
    expect(worstExitCode([])).toBe(0);
    expect(worstExitCode([stop(0), stop(0)])).toBe(0);
  });

  it('is the highest exit code, a death by signal counting as 128 + its number', () => {
    expect(worstExitCode([stop(0), stop(1), stop(0)])).toBe(1);
    expect(worstExitCode([stop(1), stop(null, 'SIGKILL')])).toBe(137);
    expect(worstExitCode([stop(null, 'SIGTERM')])).toBe(143);
  });

  it('is never 0 for a worker that had to be killed', () => {
    expect(worstExitCode([stop(0, null, true)])).toBe(1);
  });
});
