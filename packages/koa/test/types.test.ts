import Koa from 'koa';
import type { Context, Request } from 'koa';
import { expectTypeOf } from 'expect-type';
import type { Lifecycle, Unregister } from '@lifespan/core';
import type { OnShutdown, RegisterShutdown } from '@lifespan/core/http';
import { shutdownHooks } from '@lifespan/koa';
import type { ShutdownHooksMiddleware } from '@lifespan/koa';

describe('koa type augmentation', () => {
  it('types the members on ctx and ctx.request without casts', () => {
    expectTypeOf<Context['registerShutdown']>().toEqualTypeOf<RegisterShutdown>();
    expectTypeOf<Context['onShutdown']>().toEqualTypeOf<OnShutdown>();
    expectTypeOf<Context['shutdownSignal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<Context['lifecycle']>().toEqualTypeOf<Lifecycle>();
    expectTypeOf<Request['registerShutdown']>().toEqualTypeOf<RegisterShutdown>();
    expectTypeOf<Request['onShutdown']>().toEqualTypeOf<OnShutdown>();
    expectTypeOf<Request['shutdownSignal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<Request['lifecycle']>().toEqualTypeOf<Lifecycle>();
    const app = new Koa();
    app.use((ctx) => {
      expectTypeOf(ctx.registerShutdown(() => undefined, { key: 'k' })).toEqualTypeOf<Unregister>();
      expectTypeOf(ctx.request.onShutdown(() => undefined)).toEqualTypeOf<Unregister>();
      expectTypeOf(ctx.shutdownSignal).toEqualTypeOf<AbortSignal>();
    });
  });

  it('types shutdownHooks() as middleware with a lifecycle', () => {
    expectTypeOf(shutdownHooks).returns.toEqualTypeOf<ShutdownHooksMiddleware>();
    expectTypeOf<ShutdownHooksMiddleware['lifecycle']>().toEqualTypeOf<Lifecycle>();
  });
});
