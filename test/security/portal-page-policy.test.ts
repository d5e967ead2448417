/**
 * The Connections page is a static site root (dist/portal) that hosts other than the local server serve as they are
 * (a storage account's static website, App Service, a CDN), without the CSP and frame headers src/local/portal.ts adds
 * (issue 12, risk "The page's CSP and frame protection come only from the local server"). So the page carries its own
 * policy in a `<meta http-equiv="Content-Security-Policy">`, as strict as the header wherever a meta element can be.
 *
 * What a meta policy cannot do, per the CSP spec (w3.org/TR/CSP3, "The `<meta>` element"): `frame-ancestors`,
 * `report-uri` and `sandbox` are ignored there; so framing (clickjacking) stays the host's job: README lists the
 * headers. The same spec: a policy delivered in a meta element applies only to content after it, so it comes first.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { portalContentSecurityPolicy, portalDistDir } from '../../src/local/portal';
import { useTally } from '../support/tally';

const tally = useTally();
const html = readFileSync(path.join(portalDistDir(), 'index.html'), 'utf8');

type Policy = Map<string, string[]>;
const parse = (text: string): Policy =>
  new Map(
    text
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name!.toLowerCase(), sources]),
  );
const metaPolicy = (): Policy | undefined => {
  const m = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"\s*>/i.exec(html);
  return m ? parse(m[1]!.replace(/&#39;|&apos;/g, "'")) : undefined;
};
/** The sources that govern a fetch directive, falling back to default-src as CSP does. */
const sourcesFor = (policy: Policy, directive: string) => policy.get(directive) ?? policy.get('default-src') ?? ['*'];
const allowsOnly = (sources: string[], allowed: string[]) => sources.every((s) => allowed.includes(s));

test('the page carries its own CSP: served without headers, it still refuses injected script, style, plugins, <base> and form posts', () => {
  const policy = metaPolicy();
  expect(policy).toBeDefined();
  const p = policy ?? new Map();
  // What an injection into the page would try, and whether the page's own policy refuses it.
  const attempts: [string, boolean][] = [
    [
      'inline <script> or on* handler',
      !sourcesFor(p, 'script-src').some((s) => ["'unsafe-inline'", "'unsafe-eval'", '*', 'https:', 'http:', 'data:'].includes(s)),
    ],
    ['<script src> from another origin', allowsOnly(sourcesFor(p, 'script-src'), ["'self'"])],
    ['inline <style> or style attribute', allowsOnly(sourcesFor(p, 'style-src'), ["'self'"])],
    ['<object>/<embed> plugin', allowsOnly(sourcesFor(p, 'object-src'), ["'none'"])],
    ['<iframe> of another site inside the page', allowsOnly(sourcesFor(p, 'frame-src'), ["'none'"])],
    ['<base href> re-pointing relative URLs', allowsOnly(p.get('base-uri') ?? ['*'], ["'none'"])],
    ['<form action> posting elsewhere', allowsOnly(p.get('form-action') ?? ['*'], ["'none'"])],
    ['fetch() to a plain-http origin', allowsOnly(sourcesFor(p, 'connect-src'), ["'self'", 'https:'])],
    ['images from another origin (beacons)', allowsOnly(sourcesFor(p, 'img-src'), ["'self'", 'data:'])],
  ];
  expect(attempts.filter(([, refused]) => !refused).map(([what]) => what)).toEqual([]);

  // Ignored in meta (CSP3): stating it there would only mislead; the host sends it (README).
  expect(p.has('frame-ancestors')).toBe(false);
  // Before anything the page loads: a meta policy governs only what comes after it.
  const head = html.slice(0, html.indexOf('</head>'));
  expect(head.indexOf('Content-Security-Policy')).toBeGreaterThan(-1);
  expect(head.indexOf('Content-Security-Policy')).toBeLessThan(Math.min(head.indexOf('<link'), head.indexOf('<script')));
  // The page itself needs nothing the policy refuses.
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/i);

  tally.record({
    kind: 'attack',
    category: 'Connections page served without the local headers (CSP in the page)',
    tried: attempts.length,
    handled: attempts.filter(([, r]) => r).length,
    faultsInjected: 0,
    lost: 0,
  });
});

test("the local server's header stays the stricter one: the same directives, connect-src narrowed to the API and the provider, frames refused", () => {
  const header = parse(
    portalContentSecurityPolicy({
      authority: 'https://login.example/t/v2.0',
      clientId: 'c',
      scope: 's',
      apiBase: 'https://api.example/api',
      redirectUri: 'https://page.example/',
    }),
  );
  const meta = metaPolicy() ?? new Map();
  for (const [directive, sources] of meta) {
    if (directive === 'connect-src') continue;
    expect({ directive, sources: header.get(directive) ?? header.get('default-src') }).toEqual({ directive, sources });
  }
  expect(header.get('connect-src')).toEqual(["'self'", 'https://login.example', 'https://api.example']);
  expect(header.get('frame-ancestors')).toEqual(["'none'"]);
  tally.uncounted();
});
