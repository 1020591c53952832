/**
 * USB attach/detach notices for vgpio boards, from the `usb` package (3.x: WebUSB-style 'connect' and
 * 'disconnect' events; the serial number comes from the OS's cached descriptors, no device open needed).
 * Deliberately tiny: it only turns those events into HotplugWatcher calls. It cannot be exercised
 * without a real board; ReconnectingBoard's tests use a fake watcher.
 */
import { VGPIO_USB_PID, VGPIO_USB_VID } from './discovery.js';
import type { HotplugWatcher } from './reconnecting-board.js';

export interface UsbLike {
  getDevices(): Promise<unknown[]>;
  addEventListener(type: 'connect' | 'disconnect', listener: (event: { device: UsbDeviceLike }) => void): void;
  removeEventListener(type: 'connect' | 'disconnect', listener: (event: { device: UsbDeviceLike }) => void): void;
}
export interface UsbDeviceLike {
  vendorId: number;
  productId: number;
  readonly serialNumber: string | null;
}

/** The watcher, or undefined (with the reason logged) when USB hotplug is not available here. */
export async function usbHotplugWatcher(
  log: (message: string) => void = () => {},
  load: () => Promise<{ usb: UsbLike }> = async () => (await import('usb')) as unknown as { usb: UsbLike },
): Promise<HotplugWatcher | undefined> {
  let usb: UsbLike;
  try {
    usb = (await load()).usb;
  } catch (error) {
    log(`board: no USB hotplug notices (the \`usb\` package could not be loaded: ${(error as Error).message}); a replugged board is found by retrying`);
    return undefined;
  }
  try {
    // The package starts its hotplug thread with a device scan whose failure it does not catch (an
    // unhandled rejection, fatal to the daemon, e.g. where /sys/bus/usb is missing): scan first.
    await usb.getDevices();
  } catch (error) {
    log(`board: no USB hotplug notices (cannot enumerate USB devices: ${(error as Error).message}); a replugged board is found by retrying`);
    return undefined;
  }
  return hotplugWatcherFor(usb);
}

/** The watcher over a `usb`-package-like event source: vgpio boards only (VID:PID), by serial number. */
export function hotplugWatcherFor(usb: UsbLike): HotplugWatcher {
  const ours = (d: UsbDeviceLike) => d.vendorId === parseInt(VGPIO_USB_VID, 16) && d.productId === parseInt(VGPIO_USB_PID, 16);
  let listeners: Array<['connect' | 'disconnect', (event: { device: UsbDeviceLike }) => void]> = [];
  return {
    start(listener) {
      const on = (change: 'attach' | 'detach') => (event: { device: UsbDeviceLike }) => {
        let serial: string | null = null;
        try {
          serial = ours(event.device) ? event.device.serialNumber : null;
        } catch {
          serial = null; // descriptors unreadable: the retry loop still finds the board
        }
        if (serial) listener(change, serial.toLowerCase());
      };
      listeners = [['connect', on('attach')], ['disconnect', on('detach')]];
      for (const [type, l] of listeners) usb.addEventListener(type, l);
    },
    stop() {
      for (const [type, l] of listeners) usb.removeEventListener(type, l);
      listeners = [];
    },
  };
}
