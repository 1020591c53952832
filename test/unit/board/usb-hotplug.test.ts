import { describe, expect, it } from 'vitest';
import { hotplugWatcherFor, usbHotplugWatcher, type UsbDeviceLike, type UsbLike } from '../../../src/board/usb-hotplug.js';

type Listener = (event: { device: UsbDeviceLike }) => void;

/** Stands in for the `usb` package's WebUSB object: 'connect' and 'disconnect' events carrying a device. */
class FakeUsb implements UsbLike {
  private readonly listeners = { connect: new Set<Listener>(), disconnect: new Set<Listener>() };
  async getDevices(): Promise<unknown[]> { return []; }
  addEventListener(type: 'connect' | 'disconnect', listener: Listener) { this.listeners[type].add(listener); }
  removeEventListener(type: 'connect' | 'disconnect', listener: Listener) { this.listeners[type].delete(listener); }
  fire(type: 'connect' | 'disconnect', device: UsbDeviceLike) {
    for (const l of this.listeners[type]) l({ device });
  }
}

const board = (serialNumber: string | null, vendorId = 0x1209, productId = 0x0001): UsbDeviceLike => ({ vendorId, productId, serialNumber });

describe('USB hotplug watcher', () => {
  it('reports attach and detach of vgpio boards by lower-case serial, ignores other devices, and stops', () => {
    const usb = new FakeUsb();
    const seen: string[] = [];
    const watcher = hotplugWatcherFor(usb);
    watcher.start((change, serial) => seen.push(`${change} ${serial}`));
    usb.fire('connect', board('E66038B7136B4F2A'));
    usb.fire('connect', board('0123', 0x2e8a, 0x0003)); // an RP2040 in BOOTSEL: not a running vgpio board
    usb.fire('connect', board(null)); // no serial readable
    usb.fire('disconnect', board('E66038B7136B4F2A'));
    const unreadable = { vendorId: 0x1209, productId: 0x0001, get serialNumber(): string { throw new Error('gone'); } };
    usb.fire('disconnect', unreadable);
    watcher.stop();
    usb.fire('connect', board('E66038B7136B4F2A'));
    expect(seen).toEqual(['attach e66038b7136b4f2a', 'detach e66038b7136b4f2a']);
  });

  it('without a loadable `usb` package, or where USB cannot be listed, there is no watcher and the reason is logged', async () => {
    const logs: string[] = [];
    expect(await usbHotplugWatcher((m) => logs.push(m), () => Promise.reject(new Error('no prebuilt binary')))).toBeUndefined();
    const unlistable = Object.assign(new FakeUsb(), { getDevices: () => Promise.reject(new Error('/sys/bus/usb/devices/ not found')) });
    expect(await usbHotplugWatcher((m) => logs.push(m), async () => ({ usb: unlistable }))).toBeUndefined();
    expect(logs).toEqual([
      expect.stringMatching(/no USB hotplug notices \(the `usb` package could not be loaded: no prebuilt binary\); a replugged board is found by retrying/),
      expect.stringMatching(/no USB hotplug notices \(cannot enumerate USB devices: \/sys\/bus\/usb\/devices\/ not found\)/),
    ]);
    const usb = new FakeUsb();
    const watcher = await usbHotplugWatcher(() => {}, async () => ({ usb }));
    const seen: string[] = [];
    watcher!.start((change, serial) => seen.push(`${change} ${serial}`));
    usb.fire('connect', board('454D554C41544544'));
    watcher!.stop();
    expect(seen).toEqual(['attach 454d554c41544544']);
  });
});
