#!/usr/bin/env -S node --max-semi-space-size=2
// The V8 flag caps each young-generation semi-space at 2 MiB (default: grows to 16). Per-request garbage
// dies young either way; the small nursery stays in cache and keeps the daemon's peak RSS about 25 MiB
// lower under load, with fewer CPU microseconds per request, not more (README "Performance").
// `npm start` passes the same flags; bench/ reads them from this line.
import { buildProgram } from './program.js';
import { BenchError, BenchExit } from './common.js';
import { HwFileError } from '../board/hw-files.js';
import { NoBoardError } from '../board/discovery.js';
import { PortOpenError } from '../board/open.js';
import { ImageError } from '../board/flash-image.js';
import { ImageFormatError } from '../emulator/image-error.js';
import { EmulatorFaultError } from '../emulator/board.js';

/** The bench commands' exit codes, for every command: 2 bad input, 3 no usable board, 1 anything else. */
function exitCodeOf(error: unknown): number {
  if (error instanceof BenchError) return error.exitCode;
  if (error instanceof HwFileError || error instanceof ImageError || error instanceof ImageFormatError) return BenchExit.USAGE;
  if (error instanceof EmulatorFaultError && error.kind === 'ImageFormatError') return BenchExit.USAGE; // --image
  if (error instanceof NoBoardError || error instanceof PortOpenError) return BenchExit.NO_BOARD;
  return BenchExit.UNEXPECTED;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  // Errors are written for people: the message names the problem and the fix; no stack trace.
  process.stderr.write(`vgpio: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = exitCodeOf(error);
}
