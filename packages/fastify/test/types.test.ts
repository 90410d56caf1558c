import Fastify from 'fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { expectTypeOf } from 'expect-type';
import type { Lifecycle, RegisterStartupOptions, StartupHook, Unregister } from '@lifespan/core';
import type { OnShutdown, RegisterShutdown } from '@lifespan/core/http';
import { lifecycle } from '@lifespan/fastify';
import type { LifecyclePluginOptions } from '@lifespan/fastify';

describe('fastify type augmentation', () => {
  it('types the instance members without casts', () => {
    expectTypeOf<FastifyInstance['lifecycle']>().toEqualTypeOf<Lifecycle>();
    expectTypeOf<FastifyInstance['registerShutdown']>().toEqualTypeOf<RegisterShutdown>();
    expectTypeOf<FastifyInstance['registerStartup']>().toEqualTypeOf<(hook: StartupHook, options?: RegisterStartupOptions) => Unregister>();
  });

  it('types the request members without casts', () => {
    expectTypeOf<FastifyRequest['registerShutdown']>().toEqualTypeOf<RegisterShutdown>();
    expectTypeOf<FastifyRequest['onShutdown']>().toEqualTypeOf<OnShutdown>();
    expectTypeOf<FastifyRequest['shutdownSignal']>().toEqualTypeOf<AbortSignal>();
    const app = Fastify();
    app.get('/', async (request) => {
      expectTypeOf(request.registerShutdown(() => undefined, { key: 'k' })).toEqualTypeOf<Unregister>();
      expectTypeOf(request.shutdownSignal).toEqualTypeOf<AbortSignal>();
      return 'ok';
    });
  });

  it('accepts lifecycle options, { lifecycle } and health options', () => {
    // Compiled, never run: the plugin registers with its options and no cast.
    const register = async (app = Fastify()) => {
      await app.register(lifecycle, { drainDelayMs: 5000, health: { readyPath: '/readyz' } });
      await app.register(lifecycle, { lifecycle: app.lifecycle });
    };
    expectTypeOf(register).toBeFunction();
    expectTypeOf<LifecyclePluginOptions['lifecycle']>().toEqualTypeOf<Lifecycle | undefined>();
  });
});
