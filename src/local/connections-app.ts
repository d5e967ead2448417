/**
 * LOCAL ONLY. The app the local instance hosts: the one function list functions/index.ts registers with Azure.
 * The only module under src/local that imports functions/; the local host and bus take it as a parameter.
 */
import { functionDefinitions } from '../../functions/definitions';
import { serviceBusConnection } from '../../functions/registry';
import type { LocalApp } from './local-functions';

export const connectionsApp: LocalApp = { functions: functionDefinitions, serviceBusConnection };
