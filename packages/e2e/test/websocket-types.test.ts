import http from 'node:http';
import { expectTypeOf } from 'expect-type';
import { Server as SocketIoServer } from 'socket.io';
import { createLifecycle } from '@lifespan/core';
import type { Lifecycle } from '@lifespan/core';

describe('lifecycle.webSockets() types (Socket.IO)', () => {
  it("takes Socket.IO's io.engine without casts, not the Socket.IO server itself", () => {
    const lifecycle = createLifecycle({ signals: false });
    const io = new SocketIoServer(http.createServer());
    expectTypeOf(lifecycle.webSockets(io.engine)).toEqualTypeOf<Lifecycle>();
    // @ts-expect-error its clients are on io.engine
    expectTypeOf(lifecycle.webSockets).toBeCallableWith(io);
    void io.close();
  });
});
