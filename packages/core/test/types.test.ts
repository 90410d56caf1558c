import { expectTypeOf } from 'expect-type';
import { WebSocketServer } from 'ws';
import { createLifecycle } from '@lifespan/core';
import type { DrainStats, Lifecycle, WebSocketServerLike } from '@lifespan/core';

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
});
