// Every private symbol of core, in one place (as Fastify's lib/symbols.js): one name per key,
// and a reader of one module can see what else may sit on the same object.

/** On a response: the connection it is answered on (set for tracked requests and probes). */
export const kConnection = Symbol('@lifespan/core.connection');
/** On a request: its RequestScope, created on first use. */
export const kRequestScope = Symbol('@lifespan/core.requestScope');
/** On a response: the in-flight tracker counting it. */
export const kTracked = Symbol('@lifespan/core.tracked');
/** On a request: its response (only Express links `req.res`). */
export const kResponse = Symbol('@lifespan/core.response');
/** On a probe's response answered during the drain: the in-flight tracker to tell when it closes. */
export const kProbe = Symbol('@lifespan/core.probe');
/** On a response seen through the public `'request'` event (Node's own record unreadable): its connection. */
export const kObserved = Symbol('@lifespan/core.observed');
