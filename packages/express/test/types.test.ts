import express from 'express';
import type { Request } from 'express';
import { expectTypeOf } from 'expect-type';
import type { Lifecycle, Unregister } from '@lifespan/core';
import type { OnShutdown, RegisterShutdown } from '@lifespan/core/http';
import { shutdownHooks } from '@lifespan/express';
import type { ShutdownHooksMiddleware } from '@lifespan/express';

describe('express type augmentation', () => {
  it('types the request members without casts', () => {
    expectTypeOf<Request['registerShutdown']>().toEqualTypeOf<RegisterShutdown>();
    expectTypeOf<Request['onShutdown']>().toEqualTypeOf<OnShutdown>();
    expectTypeOf<Request['shutdownSignal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf<Request['lifecycle']>().toEqualTypeOf<Lifecycle>();
    const app = express();
    app.get('/', (req, res) => {
      expectTypeOf(req.registerShutdown(() => undefined, { key: 'k' })).toEqualTypeOf<Unregister>();
      expectTypeOf(req.onShutdown((reason) => expectTypeOf(reason).toBeString())).toEqualTypeOf<Unregister>();
      res.end();
    });
  });

  it('types shutdownHooks() as middleware with a lifecycle', () => {
    expectTypeOf(shutdownHooks).returns.toEqualTypeOf<ShutdownHooksMiddleware>();
    expectTypeOf<ShutdownHooksMiddleware['lifecycle']>().toEqualTypeOf<Lifecycle>();
  });
});
