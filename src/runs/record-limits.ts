/**
 * How large the free-text parts of a run record may be. A run is one Azure Tables entity (1 MiB, 32K characters
 * per string property; see `tableLimits`), and a process has at most 100 steps: with these bounds even 100 steps
 * that all carry a full error and summary of characters JSON doubles ("\\", "\""), plus the largest event, stay
 * under 1 MiB (741 KB by the documented size formula; test/runs/run-repository.test.ts).
 */
export const recordLimits = {
  stepErrorChars: 1000,
  stepSummaryChars: 500,
  runReasonChars: 2000,
} as const;

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/**
 * `text` cut to at most `max` characters: its start and its end, with a marker in the middle that says how much was
 * cut (an error's end usually holds the service's own message, its start what was called). Never splits a UTF-16
 * surrogate pair. A long message (e.g. a Graph error) must shorten the record, never fail the run.
 */
export function truncated(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = (cut: number) => ` … [${cut} of ${text.length} characters cut] … `;
  // Sized with the longest count it can show, so the real marker never makes the result longer than `max`.
  const room = Math.max(0, max - marker(text.length).length);
  let head = Math.floor(room / 2);
  let tail = text.length - (room - head);
  if (head > 0 && isHighSurrogate(text.charCodeAt(head - 1))) head -= 1;
  if (tail < text.length && isLowSurrogate(text.charCodeAt(tail))) tail += 1;
  return text.slice(0, head) + marker(tail - head) + text.slice(tail);
}
