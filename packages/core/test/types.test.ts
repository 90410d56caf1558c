import { expectTypeOf } from 'expect-type';
import { WebSocketServer } from 'ws';
import { createLifecycle } from '@lifespan/core';
import type { DrainStats, Lifecycle, ShutdownReport, WebSocketServerLike, WorkResult, WorkStatus } from '@lifespan/core';

describe('@lifespan/core public types', () => {
  it('lifecycle.webSockets() takes a ws WebSocketServer without casts, and chains', () => {
    const lifecycle = createLifecycle({ signals: false });
    expectTypeOf(lifecycle.webSockets).parameter(0).toEqualTypeOf<WebSocketServerLike>();
    expectTypeOf(lifecycle.webSockets(new WebSocketServer({ noServer: true }))).toEqualTypeOf<Lifecycle>();
    // @ts-expect-error a server without clients is not one
    expectTypeOf(lifecycle.webSockets).toBeCallableWith({ handleUpgrade() {} });
    expectTypeOf<DrainStats['webSocketsClosed']>().toEqualTypeOf<number>();
    expectTypeOf<DrainStats['webSocketsTerminated']>().toEqualTypeOf<number>();
  });

  it('lifecycle.track() returns the promise it was given, typed as given; run() the worker\'s result', async () => {
    const lifecycle = createLifecycle({ signals: false });
    const upload = Promise.resolve({ bytes: 3 });
    expectTypeOf(lifecycle.track(upload, 'upload')).toEqualTypeOf<Promise<{ bytes: number }>>();
    expectTypeOf(lifecycle.run('consumer', async (signal) => {
      expectTypeOf(signal).toEqualTypeOf<AbortSignal>();
      return 3;
    })).toEqualTypeOf<Promise<number>>();
    expectTypeOf(lifecycle.run('sync', () => 'done')).toEqualTypeOf<Promise<string>>();
    // @ts-expect-error a value is not a promise
    expectTypeOf(lifecycle.track).toBeCallableWith(42);
    // @ts-expect-error run() needs a name first
    expectTypeOf(lifecycle.run).toBeCallableWith(async () => undefined);
    expectTypeOf<ShutdownReport['work']>().toEqualTypeOf<readonly WorkResult[]>();
    expectTypeOf<WorkResult['status']>().toEqualTypeOf<WorkStatus>();
    expectTypeOf<WorkStatus>().toEqualTypeOf<'ok' | 'error' | 'cut'>();
    await upload;
    await lifecycle.shutdown();
  });
});
