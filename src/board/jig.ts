/**
 * Jigs (hw/jigs/*.json): how a board's pins are wired to each other. The emulated board applies the wires;
 * for a real board the same file tells the user where to put jumper wires for the self-test.
 */
import { HwFileError, readHwJson } from './hw-files.js';

export interface Jig {
  id: string;
  name: string;
  description: string;
  /** Pairs of lines connected by a wire. */
  wires: Array<[number, number]>;
  /** Human wiring steps, where the file gives them. */
  instructions: string[];
  source: string;
}

export class JigError extends HwFileError {
  override name = 'JigError';
}

export function parseJig(json: unknown, source: string, numLines = 30): Jig {
  const fail = (why: string): never => {
    throw new JigError(`${source}: ${why}`);
  };
  if (typeof json !== 'object' || json === null) return fail('must be a JSON object');
  const o = json as Record<string, unknown>;
  if (typeof o['id'] !== 'string' || typeof o['name'] !== 'string') fail('needs string fields id and name');
  if (!Array.isArray(o['wires'])) return fail('wires must be an array of [line, line] pairs');
  const used = new Map<number, number>();
  const wires = (o['wires'] as unknown[]).map((w, i): [number, number] => {
    if (!Array.isArray(w) || w.length !== 2 || !w.every((x) => Number.isInteger(x) && x >= 0 && x < numLines)) {
      return fail(`wires[${i}] must be two line numbers from 0 to ${numLines - 1}`);
    }
    const [a, b] = w as [number, number];
    if (a === b) fail(`wires[${i}] connects line ${a} to itself`);
    for (const line of [a, b]) {
      if (used.has(line)) fail(`line ${line} is in wires[${used.get(line)}] and wires[${i}]; a line may carry one wire`);
      used.set(line, i);
    }
    return [a, b];
  });
  const instructions = Array.isArray(o['instructions']) ? (o['instructions'] as unknown[]).map(String) : [];
  return { id: o['id'] as string, name: o['name'] as string, description: typeof o['description'] === 'string' ? o['description'] : '', wires, instructions, source };
}

export function loadJig(nameOrPath: string): Jig {
  const { json, source } = readHwJson('jigs', nameOrPath);
  return parseJig(json, source);
}

/** The line wired to `line`, if any. */
export function partnerOf(jig: Jig, line: number): number | undefined {
  for (const [a, b] of jig.wires) {
    if (a === line) return b;
    if (b === line) return a;
  }
  return undefined;
}
