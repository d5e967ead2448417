import { z } from 'zod';
import { defineAction, type PlaceholderContexts } from './action';

const address = z.email().max(320);

/**
 * The body is HTML unless the step says `Text` (or nothing): then event values in it are escaped and only the
 * template's own markup is markup, so event data cannot put a link or form into mail sent as the service account.
 * A placeholder `contentType` is refused when the process is saved; should one reach here, the body counts as HTML.
 */
export const bodyIsHtml = (inputs: unknown): boolean => {
  const contentType = typeof inputs === 'object' && inputs !== null ? (inputs as { contentType?: unknown }).contentType : undefined;
  return contentType !== undefined && contentType !== 'Text';
};

export const sendMail = defineAction({
  name: 'sendMail',
  description: 'Sends an email from the executing account (Graph /me/sendMail).',
  inputs: z.object({
    // A single address is accepted too: a whole-string placeholder like {{event.data.requester}} yields one.
    to: z.union([address.transform((a) => [a]), z.array(address).min(1).max(100)]),
    subject: z.string().min(1).max(255),
    body: z.string().max(1_000_000),
    contentType: z.enum(['Text', 'HTML']).default('Text'),
  }),
  placeholderContexts: (inputs): PlaceholderContexts => (bodyIsHtml(inputs) ? { body: 'html' } : {}),
  async execute(invocation, { to, subject, body, contentType }) {
    await invocation.graph.sendMail({ to, subject, body, contentType });
    return { summary: `Sent ${JSON.stringify(subject)} to ${to.length} recipient${to.length === 1 ? '' : 's'}`, output: { to } };
  },
});
