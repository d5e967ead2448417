import type { HttpRequest, InvocationContext } from '@azure/functions';
import { remoteParent, type SpanRef } from '../shared/spans';
import { firstTraceparent } from '../shared/trace-context';

/**
 * The trace an HTTP request continues: its own `traceparent` header (W3C Trace Context), else the one the Functions
 * host started for the invocation (`context.traceContext`, which in Azure already continues the header). An invalid
 * header is ignored, never an error.
 */
export const requestTrace = (req: HttpRequest, context: InvocationContext | undefined): SpanRef | undefined =>
  remoteParent(firstTraceparent(req.headers.get('traceparent'), context?.traceContext?.traceParent));
