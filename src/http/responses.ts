import type { HttpResponseInit } from '@azure/functions';
import { pageSecurityHeaders } from '../shared/html-page';

const apiHeaders = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' } as const;

export const json = (status: number, body: unknown): HttpResponseInit => ({ status, jsonBody: body, headers: apiHeaders });
export const noContent = (): HttpResponseInit => ({ status: 204, headers: apiHeaders });
/** An error answer: the body's shape is `errorBodySchema` (api-schemas.ts), built only by errors.ts. */
export const errorJson = (status: number, error: { code: string; message: string; details?: unknown; usage?: unknown }): HttpResponseInit =>
  json(status, { error });
export const html = (status: number, body: string): HttpResponseInit => ({ status, body, headers: pageSecurityHeaders });
