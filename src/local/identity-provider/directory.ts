/**
 * The local directory behind the local identity provider: fixed tenants, users and app registrations,
 * so tests and the local instance can name accounts and expect stable ids. Local/test use only.
 */

export interface LocalTenant {
  readonly id: string;
  readonly name: string;
  readonly domain: string;
}

export interface LocalUser {
  readonly username: string;
  readonly name: string;
  readonly objectId: string;
  readonly tenantId: string;
  /** App roles assigned on the admin/API registration (LOCAL_PORTAL_CLIENT_ID): what admin tokens carry. */
  readonly roles: readonly string[];
  /** App roles assigned on the backend's sign-in registration (LOCAL_CLIENT_ID): what its ID tokens carry. */
  readonly signInAppRoles: readonly string[];
}

export const TENANT_A: LocalTenant = { id: 'a0c0a0c0-0000-4000-8000-00000000000a', name: 'Contoso', domain: 'contoso.test' };
export const TENANT_B: LocalTenant = { id: 'b0fab0fa-0000-4000-8000-00000000000b', name: 'Fabrikam', domain: 'fabrikam.test' };
export const LOCAL_TENANTS: readonly LocalTenant[] = [TENANT_A, TENANT_B];

export const ADMIN_ROLE = 'Connections.Admin';
/**
 * The sign-in app's role that marks an account as a designated service account: only accounts with it can become
 * connections (CONNECTION_ACCOUNT_ROLE). Given to the svc-* accounts and no one else.
 */
export const SERVICE_ACCOUNT_ROLE = 'Connections.ServiceAccount';

export const CONTOSO_ADMIN: LocalUser = {
  username: 'admin@contoso.test',
  name: 'Contoso Admin',
  objectId: 'a0000000-0000-4000-8000-000000000001',
  tenantId: TENANT_A.id,
  roles: [ADMIN_ROLE],
  signInAppRoles: [],
};
export const CONTOSO_SVC_WORKPOINT: LocalUser = {
  username: 'svc-workpoint@contoso.test',
  name: 'WorkPoint Service',
  objectId: 'a0000000-0000-4000-8000-000000000002',
  tenantId: TENANT_A.id,
  roles: [],
  signInAppRoles: [SERVICE_ACCOUNT_ROLE],
};
export const CONTOSO_SVC_APPROVALS: LocalUser = {
  username: 'svc-approvals@contoso.test',
  name: 'Approvals Service',
  objectId: 'a0000000-0000-4000-8000-000000000003',
  tenantId: TENANT_A.id,
  roles: [],
  signInAppRoles: [SERVICE_ACCOUNT_ROLE],
};
export const CONTOSO_USER: LocalUser = {
  username: 'user@contoso.test',
  name: 'Contoso User',
  objectId: 'a0000000-0000-4000-8000-000000000004',
  tenantId: TENANT_A.id,
  roles: [],
  signInAppRoles: [],
};
export const FABRIKAM_ADMIN: LocalUser = {
  username: 'admin@fabrikam.test',
  name: 'Fabrikam Admin',
  objectId: 'b0000000-0000-4000-8000-000000000001',
  tenantId: TENANT_B.id,
  roles: [ADMIN_ROLE],
  signInAppRoles: [],
};
export const FABRIKAM_SVC: LocalUser = {
  username: 'svc@fabrikam.test',
  name: 'Fabrikam Service',
  objectId: 'b0000000-0000-4000-8000-000000000002',
  tenantId: TENANT_B.id,
  roles: [],
  signInAppRoles: [SERVICE_ACCOUNT_ROLE],
};

export const LOCAL_USERS: readonly LocalUser[] = [
  CONTOSO_ADMIN,
  CONTOSO_SVC_WORKPOINT,
  CONTOSO_SVC_APPROVALS,
  CONTOSO_USER,
  FABRIKAM_ADMIN,
  FABRIKAM_SVC,
];

/** Usernames compare case-insensitively, as in Entra. */
export function findUser(username: string): LocalUser | undefined {
  const wanted = username.trim().toLowerCase();
  return LOCAL_USERS.find((u) => u.username === wanted);
}

export function findUserByObjectId(objectId: string): LocalUser | undefined {
  return LOCAL_USERS.find((u) => u.objectId === objectId);
}

/** The backend's (confidential) app registration. */
export const LOCAL_CLIENT_ID = 'c0c0c0c0-0000-4000-8000-00000000c11e';

/**
 * The app roles an ID token issued to `clientId` carries: Entra's ID-token `roles` are "the set of roles that were
 * assigned to the user who is logging in" on that application (learn.microsoft.com/entra/identity-platform/
 * id-token-claims-reference), so the sign-in app's tokens carry its own roles and never the admin app's.
 */
export function appRolesFor(user: LocalUser, clientId: string | undefined): readonly string[] {
  if (clientId === LOCAL_CLIENT_ID) return user.signInAppRoles;
  return user.roles;
}
export const LOCAL_CLIENT_SECRET = 'local-only-client-secret-not-a-real-secret';
/**
 * A second valid secret of the same registration: Entra lets an app hold several client secrets at once, which is
 * how a rotation overlaps (add the new one, switch the app, delete the old one).
 */
export const LOCAL_CLIENT_SECRET_NEXT = 'local-only-client-secret-next-not-a-real-secret';
export const LOCAL_CLIENT_SECRETS: readonly string[] = [LOCAL_CLIENT_SECRET, LOCAL_CLIENT_SECRET_NEXT];
/**
 * The admin app registration: a public (PKCE, no secret) client for the browser admin page that also exposes
 * the Connections API (its delegated scope and the admin app role), as docs/deploy.md asks for.
 */
export const LOCAL_PORTAL_CLIENT_ID = 'c0c0c0c0-0000-4000-8000-0000000090a1';
/** Client id of the API's registration: the `aud` of v2.0 admin access tokens (Entra: "always the client ID of the API"). */
export const LOCAL_API_CLIENT_ID = LOCAL_PORTAL_CLIENT_ID;
/**
 * The API registration's client secret: what it authenticates with when it exchanges a user's token for this API for a
 * Graph token (On-Behalf-Of, the app's API_CLIENT_ID/API_CLIENT_SECRET). Entra only exchanges an assertion for the
 * client it was issued to, so the sign-in app (LOCAL_CLIENT_ID) cannot do it here. One Entra registration can hold a
 * SPA redirect URI (the admin page signs in with PKCE and no secret) and client secrets at once; the secret is used
 * for On-Behalf-Of only (the admin page's own token requests stay secret-less).
 */
export const LOCAL_API_CLIENT_SECRET = 'local-only-api-client-secret-not-a-real-secret';

/** Application ID URI of the Connections API: the `aud` of v1.0 admin access tokens requested with it. */
export const LOCAL_API_AUDIENCE = 'api://connections-local';
/** The API's delegated permission (`scp`) the admin page asks for and admin tokens must carry. */
export const LOCAL_API_SCOPE = 'access_as_user';
export const GRAPH_AUDIENCE = 'https://graph.microsoft.com';

/** Delegated Graph permissions "consented" for the app: what a `/.default` request expands to in `scp`. */
export const LOCAL_GRAPH_CONSENTED_SCOPES: readonly string[] = [
  'Files.ReadWrite.All',
  'Sites.ReadWrite.All',
  'User.Read',
  'User.RevokeSessions.All',
];
/** Delegated API permissions exposed by the Connections API registration. */
export const LOCAL_API_CONSENTED_SCOPES: readonly string[] = [LOCAL_API_SCOPE];

/**
 * The vendor's tenant (where the app registrations and the Function's identity live) and the Function's user-assigned
 * managed identity: in `managedIdentity` credential mode its token for api://AzureADTokenExchange is the client
 * assertion of LOCAL_CLIENT_ID and LOCAL_API_CLIENT_ID, each of which lists it as a federated identity credential.
 */
export const LOCAL_VENDOR_TENANT_ID = 'f0f0f0f0-0000-4000-8000-0000000000f0';
export const LOCAL_MANAGED_IDENTITY = {
  /** What AZURE_CLIENT_ID names. */
  clientId: 'c0c0c0c0-0000-4000-8000-0000000000a1',
  /** The federated credential's subject: Entra matches the identity's object (principal) id. */
  objectId: 'f0000000-0000-4000-8000-0000000000a1',
} as const;
export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
