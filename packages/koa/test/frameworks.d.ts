// The Koa 2 alias installed for the conformance suite has no types of its own.
declare module 'koa2' {
  import Koa = require('koa');
  export = Koa;
}
