import type { HttpResponseInit } from '@azure/functions';
import { pageSecurityHeaders } from '../shared/html-page';

const apiHeaders = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' } as const;

export const json = (status: number, body: unknown): HttpResponseInit => ({ status, jsonBody: body, headers: apiHeaders });
export const noContent = (): HttpResponseInit => ({ status: 204, headers: apiHeaders });
export const errorJson = (status: number, message: string, details?: unknown): HttpResponseInit =>
  json(status, details === undefined ? { error: { message } } : { error: { message, details } });
export const html = (status: number, body: string): HttpResponseInit => ({ status, body, headers: pageSecurityHeaders });
