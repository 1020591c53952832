import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBoardPath, listSerialBoards, sysfsPorts } from '../../../src/board/index.js';

const port = (path: string, serial: string, extra: Record<string, string> = {}) => ({
  path, serialNumber: serial, vendorId: '1209', productId: '0001', manufacturer: 'vgpio project',
  pnpId: `usb-vgpio_project_vgpio_${serial}-if00`, locationId: undefined, ...extra,
});
const lister = (...ports: ReturnType<typeof port>[]) => async () => ports;

describe('board discovery', () => {
  it('lists vgpio ports only: the test PID alone is not enough', async () => {
    const boards = await listSerialBoards(lister(
      port('/dev/ttyACM1', 'E66038B7136B4F2A'),
      port('/dev/ttyACM0', '0000000000000001', { manufacturer: 'someone else', pnpId: 'usb-other_thing-if00' }),
      port('/dev/ttyUSB0', 'X', { vendorId: '0403', productId: '6001' }),
    ));
    expect(boards).toEqual([{ path: '/dev/ttyACM1', serial: 'e66038b7136b4f2a', manufacturer: 'vgpio project' }]);
  });

  it('resolves auto, serial:... and plain paths', async () => {
    const one = lister(port('/dev/ttyACM0', 'AB'));
    expect(await findBoardPath('auto', one)).toBe('/dev/ttyACM0');
    expect(await findBoardPath('auto', lister())).toBeUndefined();
    expect(await findBoardPath('serial:ab', one)).toBe('/dev/ttyACM0');
    expect(await findBoardPath('/dev/pts/7', one)).toBe('/dev/pts/7');
  });

  it('explains what is attached when the choice does not match', async () => {
    const two = lister(port('/dev/ttyACM0', 'AA'), port('/dev/ttyACM1', 'BB'));
    await expect(findBoardPath('auto', two)).rejects.toThrow(/2 vgpio boards are attached \(aa on \/dev\/ttyACM0, bb on \/dev\/ttyACM1\); choose one with --board serial:SERIALNO/);
    await expect(findBoardPath('serial:cc', two)).rejects.toThrow(/no vgpio board with serial number cc is attached \(attached: aa on \/dev\/ttyACM0, bb on \/dev\/ttyACM1\)/);
  });
});

describe('sysfs port listing (no udevadm)', () => {
  it('reads ttyACM ports and their USB device attributes', async () => {
    const root = mkdtempSync(join(tmpdir(), 'vgpio-sysfs-'));
    try {
      const usb = join(root, 'devices', 'usb1', '1-1');
      const iface = join(usb, '1-1:1.0');
      mkdirSync(iface, { recursive: true });
      for (const [name, value] of Object.entries({ idVendor: '1209', idProduct: '0001', manufacturer: 'vgpio project', product: 'vgpio', serial: 'E66038B7136B4F2A' })) {
        writeFileSync(join(usb, name), `${value}\n`);
      }
      const tty = join(root, 'class', 'tty');
      mkdirSync(join(tty, 'ttyACM0'), { recursive: true });
      symlinkSync(iface, join(tty, 'ttyACM0', 'device'));
      mkdirSync(join(tty, 'ttyS0'), { recursive: true }); // not a USB CDC port: ignored
      const ports = await sysfsPorts(tty);
      expect(ports).toHaveLength(1);
      expect(await listSerialBoards(async () => ports)).toEqual([{ path: '/dev/ttyACM0', serial: 'e66038b7136b4f2a', manufacturer: 'vgpio project' }]);
      expect(await sysfsPorts(join(root, 'nowhere'))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
