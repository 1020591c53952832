#!/usr/bin/env node
import { buildProgram } from './program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  // Errors are written for people: the message names the problem and the fix; no stack trace.
  process.stderr.write(`vgpio: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
