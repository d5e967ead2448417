const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '/': '&#47;',
  '`': '&#96;',
};

/** Escapes text for HTML element content and quoted attribute values: the app's one HTML escaper. */
export const escapeHtml = (value: unknown): string => String(value ?? '').replace(/[&<>"'/`]/g, (c) => entities[c]);
