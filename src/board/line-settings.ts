/**
 * Helpers over the Board API's plain settings objects, shared by LinkBoard (which sends them), the
 * ReconnectingBoard (which replays them) and line requests.
 */
import type { Bit, LineSettings } from './types.js';

/** Line levels given as an object or a Map, as [line, level] pairs. */
export const bitEntries = (values: Readonly<Record<number, Bit>> | ReadonlyMap<number, Bit>): Array<[number, Bit]> =>
  values instanceof Map ? [...values.entries()] : Object.entries(values).map(([k, v]) => [Number(k), v as Bit]);

/** Settings with every default filled in: what configure() sends for them (so equal settings compare equal). */
export function withDefaults(settings: LineSettings): Required<LineSettings> {
  return {
    direction: settings.direction,
    value: settings.value ?? 0,
    bias: settings.bias ?? (settings.direction === 'off' ? 'pull-down' : 'none'),
    drive: settings.drive ?? 'push-pull',
    edge: settings.edge ?? 'none',
    level: settings.level ?? 'none',
    debounceUs: settings.debounceUs ?? 0,
  };
}

/** Lines with equal settings together, one group per distinct settings, in the order first met: one
 *  configure() per group instead of one per line. */
export function groupBySettings<S extends LineSettings>(lines: Iterable<readonly [number, S]>): Array<{ lines: number[]; settings: S }> {
  const groups = new Map<string, { lines: number[]; settings: S }>();
  for (const [line, settings] of lines) {
    const key = JSON.stringify(settings);
    const group = groups.get(key) ?? { lines: [], settings };
    group.lines.push(line);
    groups.set(key, group);
  }
  return [...groups.values()];
}
