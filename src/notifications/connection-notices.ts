import { z } from 'zod';
import { connectionStatusChangedSchema, type ConnectionStatusChanged } from '../connections/connection-lifecycle';
import { applicationCredentialsInvalidSchema, type ApplicationCredentialsInvalid } from '../tokens/application-credentials-alert';

/**
 * Message on queue `connection-events` (contract): a connection's refresh token dies of inactivity on `reauthorizeBy`
 * unless something refreshes it. Sent `daysLeft` 14 and 3 days before (reauthorize-warnings.ts), once per
 * `reauthorizeBy` value: a refresh moves the date, and a later warning is a new message.
 */
export const connectionReauthorizeSoonSchema = z.strictObject({
  type: z.literal('ConnectionReauthorizeSoon'),
  tenantId: z.string(),
  connectionId: z.string(),
  displayName: z.string(),
  username: z.string(),
  reauthorizeBy: z.iso.datetime(),
  daysLeft: z.number().int().min(0),
  at: z.iso.datetime(),
});
export type ConnectionReauthorizeSoon = z.infer<typeof connectionReauthorizeSoonSchema>;

/** Everything the app sends to `connection-events`. */
export const connectionEventSchema = z.discriminatedUnion('type', [
  connectionStatusChangedSchema,
  applicationCredentialsInvalidSchema,
  connectionReauthorizeSoonSchema,
]);
export type ConnectionEvent = ConnectionStatusChanged | ApplicationCredentialsInvalid | ConnectionReauthorizeSoon;

export interface Notice {
  subject: string;
  /** Plain text: names and reasons are never markup. */
  text: string;
}

const pageLine = (pageUrl: string | undefined, connectionId?: string) =>
  pageUrl ? `Open the Connections page: ${pageUrl}${connectionId ? `#connections/${connectionId}` : ''}` : 'Open the Connections page.';

const day = (iso: string) => iso.slice(0, 10);

/** The mail an admin gets: which connection, what happened in words, what to do, and where. */
export function noticeFor(e: ConnectionEvent, pageUrl: string | undefined): Notice {
  switch (e.type) {
    case 'ConnectionStatusChanged': {
      const who = `"${e.displayName}" (${e.username})`;
      if (e.to === 'needs_reauth') {
        return {
          subject: `Connection ${e.displayName} needs to be re-authorized`,
          text: [
            `The connection ${who} stopped working on ${day(e.at)}: Microsoft Entra ID no longer accepts its sign-in.`,
            e.reason ? `Reason: ${e.reason}` : '',
            'Processes that run as this connection fail until it is re-authorized.',
            `What to do: on the Connections page, choose Re-authorize on ${e.displayName} and sign in as ${e.username}.`,
            pageLine(pageUrl, e.connectionId),
          ]
            .filter(Boolean)
            .join('\n\n'),
        };
      }
      if (e.to === 'active') {
        return {
          subject: `Connection ${e.displayName} works again`,
          text: [
            `The connection ${who} was re-authorized on ${day(e.at)} and works again.`,
            'Nothing to do.',
            pageLine(pageUrl, e.connectionId),
          ].join('\n\n'),
        };
      }
      return {
        subject: `Connection ${e.displayName} was deleted`,
        text: [
          `The connection ${who} was deleted on ${day(e.at)}.`,
          'Processes that ran as it fail until they name another connection.',
          pageLine(pageUrl),
        ].join('\n\n'),
      };
    }
    case 'ConnectionReauthorizeSoon': {
      return {
        subject: `Connection ${e.displayName} must be re-authorized by ${day(e.reauthorizeBy)}`,
        text: [
          `The connection "${e.displayName}" (${e.username}) has not been refreshed for a long time: its sign-in expires on ${day(e.reauthorizeBy)} (in ${e.daysLeft} days).`,
          `What to do: on the Connections page, choose Test or Re-authorize on ${e.displayName} before then.`,
          pageLine(pageUrl, e.connectionId),
        ].join('\n\n'),
      };
    }
    case 'ApplicationCredentialsInvalid':
      // The API registration (API_CLIENT_ID) refused: connections are fine, user processes cannot act as their users.
      if (e.setting === 'API_CLIENT_ID')
        return {
          subject: "User processes cannot run: the API app registration's credentials were refused",
          text: [
            `On ${day(e.at)} Microsoft Entra ID refused the credentials of the Connections API app registration (${e.clientId}${e.aadsts ? `, AADSTS${e.aadsts}` : ''}).`,
            'Users cannot start or continue user processes until the operator of this deployment fixes the credential (federated credential or client secret). Connections and system processes are not affected.',
            'What to do: tell the operator of this deployment.',
            pageLine(pageUrl),
          ].join('\n\n'),
        };
      return {
        subject: "Connections cannot refresh: the app registration's credentials were refused",
        text: [
          `On ${day(e.at)} Microsoft Entra ID refused the credentials of the Connections app registration (${e.clientId}${e.aadsts ? `, AADSTS${e.aadsts}` : ''}).`,
          'No connection can get new tokens until the operator of this deployment fixes the credential (client secret or federated credential). Your connections do not need to be re-authorized.',
          'What to do: tell the operator of this deployment.',
          pageLine(pageUrl),
        ].join('\n\n'),
      };
  }
}
