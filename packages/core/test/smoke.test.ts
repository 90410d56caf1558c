import { createLifecycle } from '@lifespan/core';

describe('lifecycle.registerShutdown(hook)', () => {
  it('runs close hooks in reverse registration order', async () => {
    const calls: string[] = [];
    const lifecycle = createLifecycle({ signals: false });
    lifecycle.registerShutdown(() => void calls.push('db'), { name: 'db' });
    lifecycle.registerShutdown(() => void calls.push('cache'), { name: 'cache' });
    await lifecycle.shutdown();
    expect(calls).toEqual(['cache', 'db']);
  });
});
