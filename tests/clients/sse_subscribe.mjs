// Run one operation with graphql-sse (distinct connections mode) and print each message as a
// JSON line: {"next": ...}, {"complete": true} or {"error": ...}; exits after COUNT results.
// Usage: node sse_subscribe.mjs URL KEY QUERY COUNT
import { createClient } from "graphql-sse";

const [url, key, query, count] = process.argv.slice(2);
const client = createClient({
  url,
  singleConnection: false,
  retryAttempts: 0,
  headers: key ? { Authorization: `Bearer ${key}` } : {},
});
let seen = 0;
client.subscribe(
  { query },
  {
    next: (value) => {
      seen += 1;
      console.log(JSON.stringify({ next: value }));
      if (seen >= Number(count)) {
        client.dispose();
        process.exit(0);
      }
    },
    error: (error) => {
      console.log(JSON.stringify({ error: String(error && (error.message ?? error)) }));
      process.exit(0);
    },
    complete: () => {
      console.log(JSON.stringify({ complete: true }));
      process.exit(0);
    },
  },
);
