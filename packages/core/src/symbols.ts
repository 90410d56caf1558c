// Every private symbol of core, in one place. Module-private ones are unique per copy of core;
// process-wide ones use Symbol.for, so that two copies of core (an ESM and a CJS one, or two
// versions) share what must exist once per process.

/** On a request prototype: the lifecycle whose request members it carries. */
export const kRequestMembers = Symbol('@lifespan/core.requestMembers');

/** On `process`: the one signal coordinator for every lifecycle, whichever copy of core made it. */
export const kCoordinator = Symbol.for('@lifespan/core.signals');

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
