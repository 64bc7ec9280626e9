// Subscribe with graphql-ws (as a browser would: the key in connectionParams, no header) and
// print each message as a JSON line: {"next": ...}, {"complete": true} or {"closed": code}.
// Usage: node ws_subscribe.mjs URL KEY QUERY COUNT
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, key, query, count] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  retryAttempts: 0,
  lazy: false,
  connectionParams: key ? { Authorization: `Bearer ${key}` } : {},
  on: {
    connected: () => console.log(JSON.stringify({ connected: true })),
    closed: (event) => {
      console.log(JSON.stringify({ closed: event.code, reason: event.reason }));
      process.exit(0);
    },
  },
});
let seen = 0;
client.subscribe(
  { query },
  {
    next: (value) => {
      console.log(JSON.stringify({ next: value }));
      seen += 1;
      if (seen >= Number(count)) {
        client.dispose();
        process.exit(0);
      }
    },
    error: (error) => {
      const code = error && error.code;
      console.log(JSON.stringify({ error: code ?? String(error) }));
      if (code === undefined) process.exit(0);
    },
    complete: () => console.log(JSON.stringify({ complete: true })),
  },
);
