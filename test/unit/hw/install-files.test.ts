/**
 * hw/udev/99-vgpio.rules and hw/systemd/vgpio@.service: parsed and checked field by field here; the unit
 * also goes through `systemd-analyze verify` (Debian's systemd package). The rules have no offline
 * validator on Debian bookworm (`udevadm verify` arrived in systemd 253; bookworm has 252).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HW_DIR } from '../../../src/board/hw-files.js';
import { VGPIO_USB_PID, VGPIO_USB_VID } from '../../../src/board/discovery.js';
import { BOOTSEL_PID, BOOTSEL_VID } from '../../../src/board/usb-boot.js';

const rulesPath = join(HW_DIR, 'udev/99-vgpio.rules');
const unitPath = join(HW_DIR, 'systemd/vgpio@.service');
const GROUP = 'plugdev';

interface Term {
  key: string;
  attr?: string;
  op: string;
  value: string;
}

/** udev(7) rule syntax: comma-separated KEY[{attr}]OP"value" terms, one rule per line. */
function parseRules(text: string): Term[][] {
  const rules: Term[][] = [];
  for (const [n, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const terms: Term[] = [];
    const re = /\s*([A-Z_]+)(?:\{([^}]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)/y;
    let m: RegExpExecArray | null;
    let at = 0;
    while (at < line.length && (m = re.exec(line))) {
      terms.push({ key: m[1]!, op: m[3]!, value: m[4]!, ...(m[2] ? { attr: m[2] } : {}) });
      at = re.lastIndex;
    }
    if (at !== line.length) throw new Error(`line ${n + 1}: cannot parse from column ${at + 1}: ${line.slice(at)}`);
    rules.push(terms);
  }
  return rules;
}

const MATCH_KEYS = new Set(['ACTION', 'SUBSYSTEM', 'SUBSYSTEMS', 'KERNEL', 'KERNELS', 'ATTR', 'ATTRS', 'ENV', 'DRIVERS', 'TAG']);
const ASSIGN_KEYS = new Set(['MODE', 'GROUP', 'OWNER', 'SYMLINK', 'TAG', 'ENV', 'RUN']);

/** systemd.unit(5) ini: sections of Key=Value, repeated keys kept in order. */
function parseUnit(text: string): Map<string, Array<[string, string]>> {
  const sections = new Map<string, Array<[string, string]>>();
  let current: Array<[string, string]> | undefined;
  for (const [n, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      sections.set(section[1]!, (current = []));
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`line ${n + 1}: not Key=Value inside a section: ${line}`);
    current.push([kv[1]!, kv[2]!]);
  }
  return sections;
}

const has = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;
const systemdAnalyze = has('systemd-analyze', '--version');

describe('hw/udev/99-vgpio.rules', () => {
  const rules = parseRules(readFileSync(rulesPath, 'utf8'));
  const find = (pred: (r: Term[]) => boolean) => rules.filter(pred);
  const get = (rule: Term[], key: string, attr?: string) => rule.find((t) => t.key === key && t.attr === attr);

  it('is valid udev syntax: known keys, match keys compare, assignment keys assign', () => {
    expect(rules.length).toBeGreaterThanOrEqual(2);
    for (const rule of rules) {
      for (const t of rule) {
        if (t.op === '==' || t.op === '!=') expect(MATCH_KEYS.has(t.key), `${t.key} as a match`).toBe(true);
        else expect(ASSIGN_KEYS.has(t.key), `${t.key} as an assignment`).toBe(true);
        if (t.key === 'ATTR' || t.key === 'ATTRS' || t.key === 'ENV') expect(t.attr).toBeTruthy();
      }
      expect(rule.some((t) => t.op === '==')).toBe(true); // every rule matches something
    }
  });

  it('vgpio boards: the firmware\'s VID:PID and strings, group access, /dev/vgpio/<serial>, a systemd device', () => {
    const [tty, ...more] = find((r) => get(r, 'SUBSYSTEM')?.value === 'tty');
    expect(more).toEqual([]);
    expect(get(tty!, 'ATTRS', 'idVendor')?.value).toBe(VGPIO_USB_VID);
    expect(get(tty!, 'ATTRS', 'idProduct')?.value).toBe(VGPIO_USB_PID);
    const firmwareStrings = readFileSync(new URL('../../../firmware/src/platform/usb_descriptors.c', import.meta.url), 'utf8');
    const manufacturer = get(tty!, 'ATTRS', 'manufacturer')!.value;
    expect(firmwareStrings).toContain(`"${manufacturer}"`);
    expect(manufacturer).toBe('vgpio project');
    expect(get(tty!, 'ATTRS', 'product')?.value).toBe('vgpio');
    expect(get(tty!, 'GROUP')).toMatchObject({ op: '=', value: GROUP });
    expect(get(tty!, 'MODE')?.value).toBe('0660');
    expect(get(tty!, 'SYMLINK')).toMatchObject({ op: '+=', value: 'vgpio/$attr{serial}' });
    expect(get(tty!, 'TAG')).toMatchObject({ op: '+=', value: 'systemd' });
  });

  it('the RP2040 bootrom (BOOTSEL) USB device, so `vgpio flash` works without root', () => {
    const [boot, ...more] = find((r) => get(r, 'SUBSYSTEM')?.value === 'usb');
    expect(more).toEqual([]);
    expect(get(boot!, 'ENV', 'DEVTYPE')?.value).toBe('usb_device');
    expect(get(boot!, 'ATTR', 'idVendor')?.value).toBe(BOOTSEL_VID.toString(16).padStart(4, '0'));
    expect(get(boot!, 'ATTR', 'idProduct')?.value).toBe(BOOTSEL_PID.toString(16).padStart(4, '0'));
    expect(get(boot!, 'GROUP')?.value).toBe(GROUP);
    expect(get(boot!, 'MODE')?.value).toBe('0660');
  });

});

describe('hw/systemd/vgpio@.service', () => {
  const text = readFileSync(unitPath, 'utf8');
  const unit = parseUnit(text);
  const value = (section: string, key: string) => unit.get(section)?.filter(([k]) => k === key).map(([, v]) => v);

  it('runs vgpio serve for the board named by the instance, on /run/vgpio/<instance>.sock', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    const [exec] = value('Service', 'ExecStart')!;
    expect(exec).toMatch(/^vgpio serve --board serial:%i --socket \/run\/vgpio\/%i\.sock( |$)/);
    expect(value('Service', 'RuntimeDirectory')).toEqual(['vgpio']);
    expect(value('Service', 'RuntimeDirectoryPreserve')).toEqual(['yes']); // instances share /run/vgpio
    expect(value('Service', 'Restart')).toEqual(['on-failure']);
    // Started by the board's device unit (from the udev rule's SYMLINK + TAG) whenever the board appears,
    // but not bound to it: serve outlives an unplug and reconnects itself (README "Hotplug").
    expect(value('Install', 'WantedBy')).toEqual(['dev-vgpio-%i.device']);
    expect(value('Unit', 'After')).toEqual(['dev-vgpio-%i.device']);
    expect(value('Unit', 'BindsTo')).toEqual([]);
  });

  it('is hardened: a dynamic user in the udev rules\' group, no capabilities, only its tty', () => {
    expect(value('Service', 'DynamicUser')).toEqual(['yes']);
    expect(value('Service', 'SupplementaryGroups')![0]!.split(' ')).toContain(GROUP);
    expect(value('Service', 'CapabilityBoundingSet')).toEqual(['']);
    expect(value('Service', 'NoNewPrivileges')).toEqual(['yes']);
    expect(value('Service', 'ProtectSystem')).toEqual(['strict']);
    expect(value('Service', 'DevicePolicy')).toEqual(['closed']);
    expect(value('Service', 'DeviceAllow')).toEqual(['char-ttyACM rw']);
    expect(text).not.toMatch(/^MemoryDenyWriteExecute=yes/m); // Node's JIT needs W+X pages
  });

  it.skipIf(!systemdAnalyze)('passes systemd-analyze verify (as an instance, with a stub vgpio executable)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vgpio-unit-'));
    const stub = join(dir, 'vgpio');
    writeFileSync(stub, '#!/bin/sh\nexit 0\n');
    chmodSync(stub, 0o755);
    const instance = join(dir, 'vgpio@E66038B7136B4F2A.service');
    // only ExecStart's program changes: systemd-analyze insists the executable exists on this machine
    writeFileSync(instance, text.replace(/^ExecStart=vgpio /m, `ExecStart=${stub} `));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', instance], { encoding: 'utf8' });
    const problems = (r.stderr + r.stdout).split('\n').filter((l) => l.trim() && !/dev-vgpio-.*\.device/.test(l));
    expect(problems).toEqual([]);
    expect(r.status).toBe(0);
  });
});
