// Express 5 assumes node:http's request and response: it gives each the prototype of its
// own request and response, which extend IncomingMessage and ServerResponse. HTTP/2's
// compatibility objects are other classes, and lose their own getters that way (a POST's
// body never arrives). An app meant for them gets express's methods on top of theirs.
import { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Express } from 'express';

/** Makes `app` serve node:http2's compatibility requests (and only those). */
export function servingHttp2(app: Express): Express {
  graft(app.request, Http2ServerRequest.prototype);
  graft(app.response, Http2ServerResponse.prototype);
  return app;
}

/** `perApp` → express's shared methods → `base`, instead of → … → node:http's class. */
function graft(perApp: object, base: object): void {
  const shared = Object.getPrototypeOf(perApp) as object;
  const bridge = Object.create(base) as object;
  for (const key of Reflect.ownKeys(shared)) Object.defineProperty(bridge, key, Object.getOwnPropertyDescriptor(shared, key)!);
  Object.setPrototypeOf(perApp, bridge);
}
