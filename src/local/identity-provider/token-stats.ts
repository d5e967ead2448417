/** What the local identity provider's token endpoint was asked, for GET /local/stats (LOCAL ONLY). */
export interface TokenStats {
  total: number;
  byGrantType: Record<string, number>;
  byUsername: Record<string, number>;
  /** HTTP status, or `down` for connections reset by the `down` fault. */
  byStatus: Record<string, number>;
  /** Access-token claims asked for in the `claims` parameter, by name: `xms_cc` (client capabilities), `nbf` (a CAE claims challenge). */
  claims: Record<string, number>;
}

export const emptyTokenStats = (): TokenStats => ({ total: 0, byGrantType: {}, byUsername: {}, byStatus: {}, claims: {} });

/** Counts one answered token request. */
export function countTokenRequest(stats: TokenStats, grantType: string, username: string | undefined, status: number | 'down'): void {
  stats.total += 1;
  stats.byGrantType[grantType] = (stats.byGrantType[grantType] ?? 0) + 1;
  if (username) stats.byUsername[username] = (stats.byUsername[username] ?? 0) + 1;
  stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
}

/** Empties the counts in place (the object is the one /local/stats answers with). */
export function resetTokenStats(stats: TokenStats): void {
  Object.assign(stats, emptyTokenStats());
}
