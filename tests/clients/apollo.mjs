// Drive @apollo/client (no React) against the service and print JSON lines: each HTTP exchange
// ({"fetch": {method, status, hasQuery, batch}}) and each operation's result ({"result": ...}).
// Usage: node apollo.mjs apq|apq-get|batch URL KEY QUERY [QUERY...]
import { createHash } from "node:crypto";
import { ApolloClient, InMemoryCache, HttpLink, gql } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";
import { BatchHttpLink } from "@apollo/client/link/batch-http/index.js";

const [mode, uri, key, ...queries] = process.argv.slice(2);
const headers = key ? { Authorization: `Bearer ${key}` } : {};

async function loggingFetch(url, options) {
  const response = await fetch(url, options);
  const body = options.body ? JSON.parse(options.body) : null;
  const sent = Array.isArray(body) ? body : body ? [body] : [];
  const params = new URL(url).searchParams;
  console.log(
    JSON.stringify({
      fetch: {
        method: options.method ?? "GET",
        status: response.status,
        hasQuery: sent.some((o) => typeof o.query === "string") || params.has("query"),
        batch: Array.isArray(body) ? body.length : null,
        etag: response.headers.get("etag"),
      },
    }),
  );
  return response;
}

const sha256 = (text) => createHash("sha256").update(text).digest("hex");
let link;
if (mode === "batch") {
  link = new BatchHttpLink({ uri, headers, fetch: loggingFetch, batchMax: 10, batchInterval: 20 });
} else {
  link = createPersistedQueryLink({ sha256, useGETForHashedQueries: mode === "apq-get" }).concat(
    new HttpLink({ uri, headers, fetch: loggingFetch }),
  );
}
const client = new ApolloClient({ link, cache: new InMemoryCache({ addTypename: false }), defaultOptions: { query: { fetchPolicy: "no-cache" } } });

const runs = queries.map((q) =>
  client.query({ query: gql(q) }).then(
    (r) => ({ result: r.data }),
    (e) => ({ error: e.message }),
  ),
);
for (const outcome of await Promise.all(runs)) console.log(JSON.stringify(outcome));
if (mode !== "batch") {
  // The same operation again: the hash alone now suffices.
  const again = await client.query({ query: gql(queries[0]) });
  console.log(JSON.stringify({ result: again.data }));
}
