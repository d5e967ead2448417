import { createHash } from 'node:crypto';

import { escapeHtml } from './escape-html';

// The Close button needs a script; a hash in the CSP allows exactly this one and nothing injected.
const closeScript = "document.getElementById('close').addEventListener('click',function(){window.close()});";
const closeScriptHash = createHash('sha256').update(closeScript).digest('base64');

export const pageSecurityHeaders = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy': `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${closeScriptHash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
} as const;

/** A small self-contained page with a Close button; `bodyHtml` must already be escaped. */
export function renderPage(title: string, bodyHtml: string, tone: 'success' | 'error'): string {
  const accent = tone === 'success' ? '#107c10' : '#a4262c';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:"Segoe UI",system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f5f5f5;color:#201f1e}
main{background:#fff;max-width:34rem;padding:2rem 2.5rem;border-radius:8px;box-shadow:0 2px 8px rgba(0,0,0,.12);border-top:4px solid ${accent}}
h1{font-size:1.4rem;margin-top:0}button{font:inherit;padding:.45rem 1.4rem;border-radius:4px;border:1px solid #8a8886;background:#fff;cursor:pointer}
button:focus{outline:2px solid #0078d4;outline-offset:2px}</style></head>
<body><main role="${tone === 'error' ? 'alert' : 'status'}"><h1>${escapeHtml(title)}</h1>${bodyHtml}
<p><button id="close" type="button">Close</button></p></main><script>${closeScript}</script></body></html>`;
}
