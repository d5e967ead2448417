/**
 * Call coalescing for token refreshes, per connection and instance (like msal-node's request coalescing): concurrent
 * callers share one refresh instead of each presenting the refresh token.
 *
 * - A plain request joins whatever flight is running.
 * - A forced request (a token obtained after it asked) joins only a forced flight: a plain one may merely adopt an
 *   older token. It queues behind the running flight instead, so refreshes of one connection never overlap here.
 * - A claims request joins only a flight carrying the same claims.
 */
export interface FlightRequest {
  force: boolean;
  claims?: string;
}

interface Flight<T> extends FlightRequest {
  promise: Promise<T>;
}

export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  /** Runs `start` for `key` unless a running flight already answers this request; resolves with that flight's result. */
  run(key: string, request: FlightRequest, start: () => Promise<T>): Promise<T> {
    const running = this.flights.get(key);
    if (running && joins(request, running)) return running.promise;
    const before = running?.promise;
    const promise: Promise<T> = (async () => {
      if (before) await before.catch(() => undefined);
      return start();
    })().finally(() => {
      if (this.flights.get(key)?.promise === promise) this.flights.delete(key);
    });
    this.flights.set(key, { promise, force: request.force, ...(request.claims !== undefined ? { claims: request.claims } : {}) });
    return promise;
  }
}

function joins(request: FlightRequest, running: FlightRequest): boolean {
  if (request.force && !running.force) return false;
  if (request.claims !== undefined && running.claims !== request.claims) return false;
  return true;
}
