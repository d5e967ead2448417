import { connectionFunctions } from './http-connections';
import type { FunctionDefinition } from './registry';

export const functionDefinitions: FunctionDefinition[] = [...connectionFunctions];
