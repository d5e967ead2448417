import type { Connection, ConnectionsApi } from '../api';

/** How often the list is re-read while a sign-in tab is open, and for how long at most (a sign-in state lives 10 minutes). */
const WATCH_INTERVAL_MS = 2000;
const WATCH_LIMIT_MS = 10 * 60_000;

/**
 * The sign-in tab ends on the API's own page, which cannot talk to this one (another origin in Azure, no opener):
 * the page learns of the success from the API. While the tab is open the list is read every few seconds; once it
 * shows the outcome (or the tab closes) the list is shown and the watch stops. One watch at a time.
 */
export class SignInWatcher {
  private current: { stop(): void } | undefined;

  constructor(
    private readonly api: ConnectionsApi,
    private readonly alive: () => boolean,
    private readonly reload: () => Promise<void>,
  ) {}

  watch(tab: Window | null, done: (list: Connection[]) => Connection | undefined, onDone: (c: Connection) => void): void {
    this.current?.stop();
    const startedAt = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      if (timer) clearTimeout(timer);
      if (this.current === handle) this.current = undefined;
    };
    const handle = { stop };
    this.current = handle;
    const tick = async () => {
      if (!this.alive() || Date.now() - startedAt > WATCH_LIMIT_MS) return stop();
      const closed = !tab || tab.closed;
      try {
        const list = await this.api.listConnections();
        if (this.current !== handle) return;
        const finished = done(list);
        if (finished || closed) {
          stop();
          await this.reload();
          if (finished) onDone(finished);
          return;
        }
      } catch {
        // A failed read while waiting says nothing about the sign-in; the next tick or Refresh tries again.
      }
      if (this.current === handle) timer = setTimeout(() => void tick(), WATCH_INTERVAL_MS);
    };
    timer = setTimeout(() => void tick(), WATCH_INTERVAL_MS);
  }
}
