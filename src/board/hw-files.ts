/** Finding vgpio's data files in hw/ (shipped with the package) or at a path the user gives. */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAbsolute, resolve } from 'node:path';

/** hw/ beside src/ and dist/, whichever this module was loaded from. */
export const HW_DIR = fileURLToPath(new URL('../../hw/', import.meta.url));

export class HwFileError extends Error {
  override name = 'HwFileError';
}

/**
 * Reads `hw/<folder>/<name>.json` for a bare name, or the file at `name` when it looks like a path.
 * Returns the parsed JSON and the path it came from (for error messages).
 */
export function readHwJson(folder: 'boards' | 'jigs', name: string): { json: unknown; source: string } {
  const looksLikePath = name.includes('/') || name.endsWith('.json');
  const source = looksLikePath ? (isAbsolute(name) ? name : resolve(name)) : `${HW_DIR}${folder}/${name}.json`;
  if (!existsSync(source)) {
    throw new HwFileError(`no ${folder === 'boards' ? 'board profile' : 'jig'} "${name}" (looked for ${source}); built-in ones are in ${HW_DIR}${folder}/`);
  }
  try {
    return { json: JSON.parse(readFileSync(source, 'utf8')), source };
  } catch (error) {
    throw new HwFileError(`${source}: not valid JSON: ${(error as Error).message}`);
  }
}
