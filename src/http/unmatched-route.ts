import type { HttpResponseInit } from '@azure/functions';
import { errorJson } from './responses';

/** A route template under /api (`connections/{id}`) as a pattern of the path after `/api/`; `{*rest}` takes the rest. */
export function routePattern(route: string): RegExp {
  const body = route
    .split('/')
    .map((s) => {
      if (/^\{\*\w+\}$/.test(s)) return '(.*)';
      if (/^\{\w+(?::[^}]*)?\??\}$/.test(s)) return '([^/]+)';
      return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${body}/?$`, 'i');
}

/** Whether a route template is a catch-all (`{*rest}`): it answers what no other route takes. */
export const isCatchAll = (route: string) => /\{\*\w+\}/.test(route);

/**
 * The answer to a request no route takes, in the one error body: `405` with `Allow` when the path is a route's but the
 * method is not one it takes, else `404`. `path` is the part after `/api/`.
 */
export function unmatchedRouteAnswer(
  path: string,
  method: string,
  routes: readonly { route: string; methods: readonly string[] }[],
): HttpResponseInit {
  const allowed = [...new Set(routes.filter((r) => !isCatchAll(r.route) && routePattern(r.route).test(path)).flatMap((r) => r.methods))];
  if (allowed.length && !allowed.includes(method.toUpperCase())) {
    const answer = errorJson(405, {
      code: 'method_not_allowed',
      message: `${method.toUpperCase()} is not allowed on /api/${path}; it takes ${allowed.join(', ')}.`,
    });
    return { ...answer, headers: { ...answer.headers, Allow: allowed.join(', ') } };
  }
  return errorJson(404, {
    code: 'not_found',
    message: `There is no API route /api/${path}. The routes are listed in /api/openapi.json.`,
  });
}
