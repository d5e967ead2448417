import type { TokenCredential } from '@azure/identity';
import type { ConfidentialClientApplication, Configuration } from '@azure/msal-node';
import type { Settings } from '../config/settings';
import { appCredential, type AppCredential } from './app-credentials';

/** `@azure/msal-node`, loaded on first use (docs/performance.md, "SDKs on first use", says why this way). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadSdk = (): typeof import('@azure/msal-node') => require('@azure/msal-node');

/** The credential mode defaults to `secret`, as in the settings. */
export type MsalSettings = Pick<
  Settings,
  'AUTH_AUTHORITY' | 'AUTH_KNOWN_AUTHORITIES' | 'AUTH_CLIENT_ID' | 'AUTH_CLIENT_SECRET' | 'AUTH_REDIRECT_URI' | 'CONNECTION_SCOPES'
> &
  Partial<Pick<Settings, 'AUTH_CLIENT_CREDENTIAL'>>;

/** Declared to Entra on every request: this app answers claims challenges (continuous access evaluation). */
export const CLIENT_CAPABILITIES = ['CP1'] as const;

/**
 * Creates MSAL confidential clients, one per sign-in or per refresh, each with its own in-memory
 * cache (one account each: a connection's cache never mixes with another's). The authority's
 * discovery document is fetched once per process and handed to every instance, which would
 * otherwise fetch it again.
 */
export class MsalClients {
  private metadata?: Promise<string>;

  constructor(
    private readonly settings: MsalSettings,
    /** The app's managed identity: the client assertion of registrations in `managedIdentity` credential mode. */
    readonly identity?: TokenCredential,
  ) {}

  /** The sign-in app's credential (AUTH_CLIENT_CREDENTIAL); settings validation makes sure there is one. */
  private signInCredential(): AppCredential {
    const s = this.settings;
    const credential = appCredential(
      s.AUTH_CLIENT_ID,
      s.AUTH_CLIENT_CREDENTIAL ?? 'secret',
      s.AUTH_CLIENT_SECRET,
      this.identity,
      'AUTH_CLIENT_SECRET',
    );
    if ('problem' in credential) throw new Error(`The sign-in app registration has no credential: ${credential.problem}`);
    return credential;
  }

  get scopes(): string[] {
    return this.settings.CONNECTION_SCOPES;
  }

  get redirectUri(): string {
    return this.settings.AUTH_REDIRECT_URI;
  }

  /** A client of the sign-in app, or of `credential` (the API registration that performs On-Behalf-Of). */
  async create(credential?: AppCredential): Promise<ConfidentialClientApplication> {
    // Loaded on first use: only sign-ins and refreshes need MSAL, and a cold instance should not pay for it at import
    // (npm run bench, cold_import).
    const { ConfidentialClientApplication, LogLevel } = loadSdk();
    const app = credential ?? this.signInCredential();
    const config: Configuration = {
      auth: {
        clientId: app.clientId,
        // MSAL sends client_assertion_type urn:ietf:params:oauth:client-assertion-type:jwt-bearer with the callback's token.
        ...('clientSecret' in app ? { clientSecret: app.clientSecret } : { clientAssertion: app.clientAssertion }),
        authority: this.settings.AUTH_AUTHORITY,
        knownAuthorities: this.settings.AUTH_KNOWN_AUTHORITIES,
        authorityMetadata: await this.authorityMetadata(),
        // Continuous access evaluation: MSAL adds `{"access_token":{"xms_cc":{"values":["CP1"]}}}` to every authorize and
        // token request's `claims` (msal-common RequestParameterBuilder.addClaims), so Entra issues CAE tokens (long-lived,
        // revocable at once by a claims challenge, which graph-client.ts answers). learn.microsoft.com/entra/identity-platform/
        // app-resilience-continuous-access-evaluation and claims-challenge ("client capabilities").
        clientCapabilities: [...CLIENT_CAPABILITIES],
      },
      // PII logging stays off: MSAL would otherwise log account names and token fragments.
      system: { loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error, loggerCallback: () => undefined } },
    };
    return new ConfidentialClientApplication(config);
  }

  private authorityMetadata(): Promise<string> {
    this.metadata ??= (async () => {
      const url = `${this.settings.AUTH_AUTHORITY.replace(/\/$/, '')}/v2.0/.well-known/openid-configuration`;
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`Authority discovery failed with HTTP ${res.status}`);
      return await res.text();
    })();
    this.metadata.catch(() => (this.metadata = undefined));
    return this.metadata;
  }
}
