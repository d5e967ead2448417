import { logLine } from '../../src/shared/log-line';

test('fields are JSON: a value with line breaks or quotes stays on the one line, readable', () => {
  const line = logLine('Dead-lettered a message', { messageId: 'x\n[error] keepalive: forged', reason: 'a "b"\r\nc', n: 2 });
  expect(line).toBe('Dead-lettered a message {"messageId":"x\\n[error] keepalive: forged","reason":"a \\"b\\"\\r\\nc","n":2}');
  expect(line).not.toMatch(/[\r\n]/);
  expect(JSON.parse(line.slice(line.indexOf('{')))).toEqual({ messageId: 'x\n[error] keepalive: forged', reason: 'a "b"\r\nc', n: 2 });
});

test('line and paragraph separators, which JSON leaves as they are, are escaped as well', () => {
  const line = logLine('m', { id: 'a\u2028b\u2029c' });
  expect(line).toBe('m {"id":"a\\u2028b\\u2029c"}');
  expect(JSON.parse(line.slice(2))).toEqual({ id: 'a\u2028b\u2029c' });
});

test('a message never breaks the line either, and no fields give {}', () => {
  expect(logLine('two\nlines')).toBe('two\\nlines {}');
});
