// A minimal HTTP/1.1 response reader for the raw-socket client: status, `Connection: close`, and
// a body framed by Content-Length, chunked encoding or the end of the connection.

/** Feeds bytes in; calls `onResponse({ status, close })` for each complete response, in order. */
export function responseReader(onResponse) {
  let buffer = Buffer.alloc(0);
  let head;
  const parseHead = (text) => {
    const [statusLine, ...lines] = text.split('\r\n');
    const headers = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return {
      status: Number(statusLine.split(' ')[1]),
      close: (headers.connection ?? '').toLowerCase() === 'close',
      length: headers['content-length'] === undefined ? undefined : Number(headers['content-length']),
      chunked: (headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked'),
    };
  };
  // Bytes of a chunked body, or -1 while it is incomplete.
  const chunkedLength = () => {
    let at = 0;
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', at);
      if (lineEnd < 0) return -1;
      const size = parseInt(buffer.toString('latin1', at, lineEnd), 16);
      at = lineEnd + 2 + size + 2;
      if (at > buffer.length) return -1;
      if (size === 0) return at;
    }
  };
  return {
    push(chunk) {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (head === undefined) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          head = parseHead(buffer.toString('latin1', 0, end));
          buffer = buffer.subarray(end + 4);
        }
        const bodyLength = head.chunked ? chunkedLength() : (head.length ?? (head.close ? -1 : 0));
        if (bodyLength < 0 || buffer.length < bodyLength) return;
        buffer = buffer.subarray(bodyLength);
        const response = head;
        head = undefined;
        onResponse({ status: response.status, close: response.close });
      }
    },
    /** The connection ended: a body framed by the end of the connection is complete now. */
    end() {
      if (head !== undefined && head.length === undefined && !head.chunked && head.close) {
        const response = head;
        head = undefined;
        onResponse({ status: response.status, close: true });
      }
    },
  };
}
