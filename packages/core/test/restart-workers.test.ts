import { restartWorkers } from '@lifespan/core';

// Only the arguments: the rolling restart itself runs real workers in packages/e2e/test/cluster.test.ts.
describe('restartWorkers(options)', () => {
  it.each([null, 5, 'fast', [], () => undefined])('rejects %p as options with ERR_LIFESPAN_INVALID_ARG', async (options) => {
    await expect(restartWorkers(options as never)).rejects.toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options' });
  });

  it('rejects an unknown option with ERR_LIFESPAN_INVALID_ARG naming it', async () => {
    await expect(restartWorkers({ timeoutMs: 1000 } as never)).rejects.toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.timeoutMs' });
  });

  it.each(['readyTimeoutMs', 'exitTimeoutMs'])('rejects options.%s that is not a positive finite number', async (name) => {
    for (const value of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1000', null, 2 ** 31]) {
      await expect(restartWorkers({ [name]: value } as never)).rejects.toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: `options.${name}` });
    }
  });

  it.each([null, 'A=1', ['A=1']])('rejects %p as options.env with ERR_LIFESPAN_INVALID_ARG', async (env) => {
    await expect(restartWorkers({ env } as never)).rejects.toMatchObject({ code: 'ERR_LIFESPAN_INVALID_ARG', argument: 'options.env' });
  });

  it('accepts valid options and, with no workers to replace, resolves to no restarts', async () => {
    await expect(restartWorkers({ readyTimeoutMs: 1000, exitTimeoutMs: 1000, env: { MODE: 'test' } })).resolves.toEqual([]);
  });
});
