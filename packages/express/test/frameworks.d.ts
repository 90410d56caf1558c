// The Express 4 alias installed for the conformance suite has no types of its own.
declare module 'express4' {
  import express = require('express');
  export = express;
}
