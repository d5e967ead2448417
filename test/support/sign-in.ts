/**
 * Drives the local identity provider's sign-in like a browser would, with plain fetch: follows its
 * redirects, posts the username form, and stops at the first redirect leaving the provider (the app's
 * callback with `code`/`state` or `error`), which it returns without requesting.
 */

export interface SignInOptions {
  /** Press "Cancel" instead of "Sign in". */
  cancel?: boolean;
  /** Called with each sign-in page's HTML (to check prefill, escaping). */
  onForm?: (html: string) => void;
  /** The browser's cookies at the provider, kept across sign-ins (its sign-in session); a fresh jar otherwise. */
  jar?: CookieJar;
}

interface StoredCookie {
  name: string;
  value: string;
  path: string;
}

/** Just enough of RFC 6265 for one host: name + path, Path matching, deletion by expiry. */
export class CookieJar {
  private cookies: StoredCookie[] = [];

  store(requestUrl: string, setCookies: string[]): void {
    for (const header of setCookies) {
      const [pair, ...attrs] = header.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = new URL(requestUrl).pathname.replace(/\/[^/]*$/, '') || '/';
      let expired = false;
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        const key = k.toLowerCase();
        if (key === 'path' && v.startsWith('/')) path = v;
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === path));
      if (!expired) this.cookies.push({ name, value, path });
    }
  }

  header(requestUrl: string): string {
    const p = new URL(requestUrl).pathname;
    return this.cookies
      .filter((c) => p === c.path || p.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

/** Decodes what an HTML escaper writes: the named entities for & < > " and numeric references (`&#47;`, `&#x2F;`), as a browser does. */
const unescapeHtml = (s: string): string =>
  s.replace(/&(amp|lt|gt|quot|#\d+|#x[\da-f]+);/gi, (_, e: string) =>
    e.startsWith('#')
      ? String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)))
      : ({ amp: '&', lt: '<', gt: '>', quot: '"' } as Record<string, string>)[e.toLowerCase()]!,
  );

export async function signIn(authorizeUrl: string, username: string, opts: SignInOptions = {}): Promise<{ redirectUrl: string }> {
  const providerOrigin = new URL(authorizeUrl).origin;
  const jar = opts.jar ?? new CookieJar();
  let url = authorizeUrl;
  let form: URLSearchParams | undefined;
  let posted = false;

  for (let hop = 0; hop < 20; hop++) {
    const cookie = jar.header(url);
    const res = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form?.toString(),
    });
    jar.store(url, res.headers.getSetCookie());
    form = undefined;

    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, url).href;
      if (new URL(next).origin !== providerOrigin) {
        await res.body?.cancel();
        return { redirectUrl: next };
      }
      await res.body?.cancel();
      url = next;
      continue;
    }

    const html = await res.text();
    const action = /<form[^>]*\saction="([^"]*)"/i.exec(html)?.[1];
    if (res.status !== 200 || action === undefined) {
      throw new Error(`sign-in: unexpected HTTP ${res.status} from ${url}: ${html.slice(0, 500)}`);
    }
    opts.onForm?.(html);
    if (posted) {
      const error = /<p class="error"[^>]*>([^<]*)<\/p>/.exec(html)?.[1];
      throw new Error(`sign-in refused: ${error ? unescapeHtml(error) : 'the form was shown again'}`);
    }
    posted = true;
    url = new URL(unescapeHtml(action), url).href;
    form = opts.cancel ? new URLSearchParams({ action: 'cancel' }) : new URLSearchParams({ username, action: 'sign-in' });
  }
  throw new Error(`sign-in: too many redirects from ${authorizeUrl}`);
}
