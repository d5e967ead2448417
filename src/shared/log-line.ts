/**
 * One log line: a fixed message and its fields as JSON. Values that callers control (event and message ids, session
 * ids, names, reasons that quote them) go into the fields only, where JSON escapes line breaks and quotes, so no value
 * can end the line and forge another (an event id with a newline could write a fake `[error] keepalive:` line).
 * JSON leaves U+2028/U+2029 as they are, and some log viewers break lines there: they are escaped too.
 */
export function logLine(message: string, fields: Readonly<Record<string, unknown>> = {}): string {
  const json = JSON.stringify(fields, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)) ?? '{}';
  return `${escapeBreaks(message)} ${escapeBreaks(json)}`;
}

const breaks: Record<string, string> = { '\r': '\\r', '\n': '\\n', '\u2028': '\\u2028', '\u2029': '\\u2029' };
/** In JSON only U+2028/U+2029 are left; the message is the app's own text, but a break there is shown, not written. */
const escapeBreaks = (text: string) => text.replace(/[\r\n\u2028\u2029]/g, (c) => breaks[c]!);
