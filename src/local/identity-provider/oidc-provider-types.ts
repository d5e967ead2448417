/**
 * The parts of oidc-provider this stand-in uses, typed here because the package ships no types, and its loader.
 * LOCAL ONLY.
 *
 * `any` stays where oidc-provider hands out its own untyped models (grants, token entities, payloads): this file is
 * the one place that admits it, so the rest of the stand-in names what it reads.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- describes an untyped third-party package (see above) */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A stored oidc-provider model (grant, session, token), as the storage adapter receives it. */
export type OidcPayload = Record<string, any>;

export interface KoaContext {
  path: string;
  method: string;
  status: number;
  body: any;
  respond?: boolean;
  req: IncomingMessage;
  set(field: string, value: string): void;
  oidc?: {
    params?: Record<string, unknown>;
    body?: Record<string, unknown>;
    entities: Record<string, any>;
  };
}

export interface InteractionDetails {
  uid: string;
  prompt: { name: string; details: Record<string, any> };
  params: Record<string, any>;
  session?: { accountId: string };
  grantId?: string;
}

export interface Provider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(fn: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  on(event: string, listener: (...args: any[]) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: object,
    opts?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  Grant: any;
  Client: { prototype: { clientId: string; compareClientSecret(actual: string): Promise<boolean> | boolean } };
  RefreshToken: { find(value: string, opts?: { ignoreExpiration?: boolean }): Promise<{ accountId?: string; iat?: number } | undefined> };
}

export interface OidcModule {
  default: new (issuer: string, configuration: Record<string, unknown>) => Provider;
  errors: { InvalidTarget: new (description?: string) => Error };
}

/** Load the ESM-only package from CommonJS; a variable specifier keeps tsc from resolving its (absent) types. */
export async function loadOidcProvider(): Promise<OidcModule> {
  const specifier: string = 'oidc-provider';
  return (await import(specifier)) as OidcModule;
}
