/**
 * RP2040 boards in BOOTSEL mode (the bootrom's USB boot device, 2e8a:0003): finding them, and a
 * PicobootTransport over the `usb` package (libusb-free nusb bindings with prebuilt binaries; WebUSB-style
 * API). The package is loaded only when a command needs it, so nothing else pays for the native module.
 */
import { PicobootClient, TransportError, type ControlSetup, type PicobootTransport } from './picoboot.js';

export const BOOTSEL_VID = 0x2e8a;
export const BOOTSEL_PID = 0x0003;

/** A board sitting in the RP2040 bootrom's USB boot mode. */
export interface BootselDevice {
  /** Bus and port path, as in /sys/bus/usb/devices: e.g. "1-2.3". Stable while the board stays plugged in. */
  location: string;
  /** The bootrom's USB serial string, when it has one and it can be read. */
  serial: string | undefined;
  /** Opens the PICOBOOT interface. Throws TransportError('access') when udev rules are missing. */
  open(): Promise<PicobootSession>;
}

export type BootselLister = () => Promise<BootselDevice[]>;

export interface PicobootSession {
  client: PicobootClient;
  close(): Promise<void>;
}

// The parts of the `usb` package's device we use, typed here so the build does not depend on the
// package's global WebUSB typings.
interface UsbTransferResult {
  status: 'ok' | 'stall' | 'babble';
  data?: DataView;
  bytesWritten?: number;
}
type UsbSetup = { requestType: 'vendor'; recipient: 'interface'; request: number; value: number; index: number };
interface UsbEndpointInfo {
  endpointNumber: number;
  direction: 'in' | 'out';
  type: 'bulk' | 'interrupt' | 'isochronous';
}
interface UsbInterfaceInfo {
  interfaceNumber: number;
  alternate: { interfaceClass: number; interfaceSubclass: number; interfaceProtocol: number; endpoints: UsbEndpointInfo[] };
}
interface NodeUsbDevice {
  vendorId: number;
  productId: number;
  bus: string;
  ports: number[];
  readonly serialNumber: string | null;
  readonly configuration: { interfaces: UsbInterfaceInfo[] } | null;
  open(): Promise<void>;
  close(): Promise<void>;
  selectConfiguration(value: number): Promise<void>;
  claimInterface(n: number): Promise<void>;
  releaseInterface(n: number): Promise<void>;
  controlTransferIn(setup: UsbSetup, length: number, timeout?: number): Promise<UsbTransferResult>;
  controlTransferOut(setup: UsbSetup, data?: Uint8Array, timeout?: number): Promise<UsbTransferResult>;
  transferIn(endpoint: number, length: number, timeout?: number): Promise<UsbTransferResult>;
  transferOut(endpoint: number, data: Uint8Array, timeout?: number): Promise<UsbTransferResult>;
  clearHalt(direction: 'in' | 'out', endpoint: number): Promise<void>;
}

const CONTROL_TIMEOUT_MS = 1000;
/** Erasing and writing a 4 KiB sector takes well under a second; this only catches a hung device. */
const BULK_TIMEOUT_MS = 10_000;

/** Sorts a USB library error into the kinds the PICOBOOT client and `vgpio flash` act on. */
function classifyUsbError(error: unknown, doing: string): TransportError {
  if (error instanceof TransportError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const kind = /access|permission|EACCES|EPERM/i.test(message)
    ? 'access'
    : /no ?device|not found|disconnected|ENODEV|ENOENT|no such device/i.test(message)
      ? 'disconnected'
      : /timed? ?out|ETIMEDOUT/i.test(message)
        ? 'timeout'
        : /stall|pipe/i.test(message)
          ? 'stall'
          : 'other';
  return new TransportError(kind, `${doing}: ${message}`);
}

export function usbLocation(bus: string, ports: number[]): string {
  return bus.includes('-') || ports.length === 0 ? bus : `${bus}-${ports.join('.')}`;
}

/** PicobootTransport over one claimed interface of a `usb` package device. */
class UsbPicobootTransport implements PicobootTransport {
  constructor(
    private readonly device: NodeUsbDevice,
    readonly interfaceNumber: number,
    private readonly inEndpoint: number,
    private readonly outEndpoint: number,
  ) {}

  private setup(setup: ControlSetup): UsbSetup {
    if ((setup.requestType & 0x7f) !== 0x41) throw new Error('only vendor requests to the interface are supported');
    return { requestType: 'vendor', recipient: 'interface', request: setup.request, value: setup.value, index: setup.index };
  }

  async controlTransfer(setup: ControlSetup, dataOrLength: Uint8Array | number): Promise<Uint8Array> {
    const doing = `control request 0x${setup.request.toString(16)}`;
    let result: UsbTransferResult;
    try {
      result = setup.requestType & 0x80
        ? await this.device.controlTransferIn(this.setup(setup), dataOrLength as number, CONTROL_TIMEOUT_MS)
        : await this.device.controlTransferOut(this.setup(setup), dataOrLength as Uint8Array, CONTROL_TIMEOUT_MS);
    } catch (error) {
      throw classifyUsbError(error, doing);
    }
    if (result.status !== 'ok') throw new TransportError('stall', `${doing}: ${result.status}`);
    return result.data ? new Uint8Array(result.data.buffer, result.data.byteOffset, result.data.byteLength) : new Uint8Array(0);
  }

  async bulkOut(data: Uint8Array): Promise<void> {
    let result: UsbTransferResult;
    try {
      result = await this.device.transferOut(this.outEndpoint, data, BULK_TIMEOUT_MS);
    } catch (error) {
      throw classifyUsbError(error, `bulk OUT of ${data.length} bytes`);
    }
    if (result.status !== 'ok') throw new TransportError('stall', `bulk OUT: ${result.status}`);
    if (result.bytesWritten !== undefined && result.bytesWritten !== data.length) {
      throw new TransportError('other', `bulk OUT: ${result.bytesWritten} of ${data.length} bytes sent`);
    }
  }

  async bulkIn(length: number): Promise<Uint8Array> {
    let result: UsbTransferResult;
    try {
      result = await this.device.transferIn(this.inEndpoint, length, BULK_TIMEOUT_MS);
    } catch (error) {
      throw classifyUsbError(error, `bulk IN of ${length} bytes`);
    }
    if (result.status !== 'ok') throw new TransportError('stall', `bulk IN: ${result.status}`);
    return result.data ? new Uint8Array(result.data.buffer, result.data.byteOffset, result.data.byteLength) : new Uint8Array(0);
  }

  async clearHalt(direction: 'in' | 'out'): Promise<void> {
    try {
      await this.device.clearHalt(direction, direction === 'in' ? this.inEndpoint : this.outEndpoint);
    } catch (error) {
      throw classifyUsbError(error, `clearing the ${direction.toUpperCase()} endpoint halt`);
    }
  }
}

async function openSession(device: NodeUsbDevice, location: string): Promise<PicobootSession> {
  const where = `the RP2040 boot device at USB ${location} (2e8a:0003)`;
  try {
    await device.open();
  } catch (error) {
    const e = classifyUsbError(error, `opening ${where}`);
    throw e;
  }
  try {
    if (!device.configuration) await device.selectConfiguration(1);
    // Datasheet: find the interface by class (0xff vendor, subclass 0, protocol 0) and its endpoints by
    // direction and type, never by number (the mass-storage interface may be disabled).
    const iface = device.configuration?.interfaces.find(
      (i) => i.alternate.interfaceClass === 0xff && i.alternate.interfaceSubclass === 0 && i.alternate.interfaceProtocol === 0,
    );
    const endpoint = (direction: 'in' | 'out') => iface?.alternate.endpoints.find((e) => e.type === 'bulk' && e.direction === direction)?.endpointNumber;
    const inEp = endpoint('in');
    const outEp = endpoint('out');
    if (!iface || inEp === undefined || outEp === undefined) {
      throw new TransportError('other', `${where} has no PICOBOOT interface (it may have been disabled by the firmware that rebooted it)`);
    }
    await device.claimInterface(iface.interfaceNumber);
    const transport = new UsbPicobootTransport(device, iface.interfaceNumber, inEp, outEp);
    return {
      client: new PicobootClient(transport),
      async close() {
        await device.releaseInterface(iface.interfaceNumber).catch(() => undefined);
        await device.close().catch(() => undefined);
      },
    };
  } catch (error) {
    await device.close().catch(() => undefined);
    throw classifyUsbError(error, `setting up ${where}`);
  }
}

/** Loads the `usb` package, or says why it cannot be used. */
async function loadUsb(): Promise<{ getDevices(): Promise<NodeUsbDevice[]> }> {
  try {
    const module = (await import('usb')) as unknown as { usb: { getDevices(): Promise<NodeUsbDevice[]> } };
    return module.usb;
  } catch (error) {
    throw new Error(`the \`usb\` package could not be loaded (${(error as Error).message}); reinstall vgpio with \`npm ci\``);
  }
}

/** Boards in BOOTSEL mode, found with the `usb` package. Throws when USB cannot be enumerated at all. */
export const listBootselDevices: BootselLister = async () => {
  const usb = await loadUsb();
  let devices: NodeUsbDevice[];
  try {
    devices = await usb.getDevices();
  } catch (error) {
    throw new Error(`cannot enumerate USB devices: ${(error as Error).message}`);
  }
  return devices
    .filter((d) => d.vendorId === BOOTSEL_VID && d.productId === BOOTSEL_PID)
    .map((d) => {
      const location = usbLocation(d.bus, d.ports);
      let serial: string | undefined;
      try {
        serial = d.serialNumber?.toLowerCase() || undefined;
      } catch {
        serial = undefined;
      }
      return { location, serial, open: () => openSession(d, location) };
    })
    .sort((a, b) => a.location.localeCompare(b.location));
};
