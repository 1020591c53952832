import { describe, expect, it } from 'vitest';
import { findBoardPath, listSerialBoards } from '../../../src/board/index.js';

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
