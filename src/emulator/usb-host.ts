/**
 * A USB host for the rp2040js device controller, written on the controller's public hooks instead of
 * the stock `USBCDC` class. It enumerates the way Linux does (SET_ADDRESS, device descriptor 8 then
 * 18 bytes, configuration 9 then full, strings 0..3 with wLength 255, SET_CONFIGURATION(1),
 * SET_LINE_CODING, SET_CONTROL_LINE_STATE with bmRequestType 0x21) and then runs a lossless byte pipe:
 *
 *  - OUT: writes are queued without limit. A bulk OUT arm from the firmware is held while there is
 *    nothing to send (that is what a NAK looks like from the device side) and completed as soon as
 *    data is queued. The host never sends bulk ZLPs.
 *  - IN: every packet is passed to the listeners (ZLPs to packet listeners only).
 *
 * STALL: rp2040js ignores EP_STALL_ARM and the buffer-control STALL bit, so a stalled request would
 * just never finish. We watch the firmware's stores to EP_STALL_ARM and, shortly after one, check that
 * EP_STALL_ARM and the EP0 buffer-control STALL bit (DPRAM 0x80/0x84 bit 11) are both set, which is
 * what makes silicon send STALL. Like the silicon controller, we clear EP_STALL_ARM when a SETUP is
 * sent.
 */
import type { RP2040, RPUSBController } from 'rp2040js';

export interface SetupPacket {
  bmRequestType: number;
  bRequest: number;
  wValue: number;
  wIndex: number;
  wLength: number;
}

export type ControlStatus = 'pending' | 'ok' | 'stall';

export interface ControlResult {
  status: 'ok' | 'stall';
  /** Data stage of a device-to-host request (empty otherwise). */
  data: Uint8Array;
}

export interface DeviceDescriptor {
  bLength: number;
  bcdUSB: number;
  bDeviceClass: number;
  bDeviceSubClass: number;
  bDeviceProtocol: number;
  bMaxPacketSize0: number;
  idVendor: number;
  idProduct: number;
  bcdDevice: number;
  iManufacturer: number;
  iProduct: number;
  iSerialNumber: number;
  bNumConfigurations: number;
}

export interface EndpointInfo {
  address: number;
  attributes: number;
  maxPacketSize: number;
  interval: number;
  interfaceNumber: number;
}

export interface EnumerationResult {
  address: number;
  deviceDescriptorShort: Uint8Array;
  deviceDescriptorRaw: Uint8Array;
  deviceDescriptor: DeviceDescriptor;
  configHeader: Uint8Array;
  configDescriptor: Uint8Array;
  wTotalLength: number;
  endpoints: EndpointInfo[];
  langIds: number[];
  manufacturer: string;
  product: string;
  serial: string;
  bulkIn: number;
  bulkOut: number;
  notification: number;
  /** Simulated microseconds from controller enable to the end of enumeration. */
  enumeratedAtMicros: number;
}

// Register and DPRAM offsets (RP2040 datasheet §4.1.4, §4.1.2.5).
const EP_STALL_ARM = 0x68;
const ADDR_ENDP = 0x00;
const EP0_IN_BUF_CTRL = 0x80;
const EP0_OUT_BUF_CTRL = 0x84;
const BUF_CTRL_STALL = 1 << 11;
const EP0_MPS = 64;

const REQ_GET_DESCRIPTOR = 0x06;
const REQ_SET_ADDRESS = 0x05;
const REQ_SET_CONFIGURATION = 0x09;
const CDC_SET_LINE_CODING = 0x20;
const CDC_GET_LINE_CODING = 0x21;
const CDC_SET_CONTROL_LINE_STATE = 0x22;
const DESC_DEVICE = 1;
const DESC_CONFIG = 2;
const DESC_STRING = 3;
const DESC_INTERFACE = 4;
const DESC_ENDPOINT = 5;
const LANGID_EN_US = 0x0409;
/** Gap between the end of one control transfer and the next SETUP, in simulated ns. */
const HOST_GAP_NS = 20_000;
/** After the firmware stores EP_STALL_ARM, check the complete stall condition this much later. */
const STALL_CHECK_NS = 2_000;

export const DEVICE_ADDRESS = 1;
/** 115200 baud, 1 stop bit, no parity, 8 data bits (CDC PSTN §6.3.11). */
export const LINE_CODING_115200_8N1 = Uint8Array.of(0x00, 0xc2, 0x01, 0x00, 0, 0, 8);

export function setupBytes(s: SetupPacket): Uint8Array {
  return Uint8Array.of(
    s.bmRequestType,
    s.bRequest,
    s.wValue & 0xff,
    s.wValue >> 8,
    s.wIndex & 0xff,
    s.wIndex >> 8,
    s.wLength & 0xff,
    s.wLength >> 8,
  );
}

export class ControlTransfer {
  status: ControlStatus = 'pending';
  readonly received: number[] = [];
  phase: 'data-in' | 'data-out' | 'status-in' | 'status-out' | 'done';
  outOffset = 0;
  private readonly callbacks: Array<(t: ControlTransfer) => void> = [];

  constructor(
    readonly setup: SetupPacket,
    readonly out: Uint8Array = new Uint8Array(0),
  ) {
    if (setup.bmRequestType & 0x80) this.phase = 'data-in';
    else if (setup.wLength > 0) this.phase = 'data-out';
    else this.phase = 'status-in';
    if (!(setup.bmRequestType & 0x80) && out.length !== setup.wLength) {
      throw new Error(`OUT data is ${out.length} bytes, wLength says ${setup.wLength}`);
    }
  }

  get done(): boolean {
    return this.status !== 'pending';
  }

  get data(): Uint8Array {
    return Uint8Array.from(this.received);
  }

  then(cb: (t: ControlTransfer) => void): void {
    if (this.done) cb(this);
    else this.callbacks.push(cb);
  }

  finish(status: 'ok' | 'stall'): void {
    if (this.done) return;
    this.status = status;
    this.phase = 'done';
    for (const cb of this.callbacks.splice(0)) cb(this);
  }

  result(): ControlResult {
    if (this.status === 'pending') throw new Error('control transfer still pending');
    return { status: this.status, data: this.data };
  }
}

export function parseDeviceDescriptor(d: Uint8Array): DeviceDescriptor {
  const u16 = (i: number) => d[i]! | (d[i + 1]! << 8);
  return {
    bLength: d[0]!,
    bcdUSB: u16(2),
    bDeviceClass: d[4]!,
    bDeviceSubClass: d[5]!,
    bDeviceProtocol: d[6]!,
    bMaxPacketSize0: d[7]!,
    idVendor: u16(8),
    idProduct: u16(10),
    bcdDevice: u16(12),
    iManufacturer: d[14]!,
    iProduct: d[15]!,
    iSerialNumber: d[16]!,
    bNumConfigurations: d[17]!,
  };
}

export function parseEndpoints(config: Uint8Array): EndpointInfo[] {
  const eps: EndpointInfo[] = [];
  let iface = -1;
  for (let i = 0; i + 1 < config.length; ) {
    const len = config[i]!;
    if (len < 2 || i + len > config.length) throw new Error(`malformed descriptor at offset ${i}`);
    const type = config[i + 1]!;
    if (type === DESC_INTERFACE) iface = config[i + 2]!;
    if (type === DESC_ENDPOINT) {
      eps.push({
        address: config[i + 2]!,
        attributes: config[i + 3]!,
        maxPacketSize: config[i + 4]! | (config[i + 5]! << 8),
        interval: config[i + 6]!,
        interfaceNumber: iface,
      });
    }
    i += len;
  }
  return eps;
}

export function decodeStringDescriptor(d: Uint8Array): string {
  if (d.length < 2 || d[1] !== DESC_STRING || d[0]! > d.length) throw new Error('not a string descriptor');
  return Buffer.from(d.subarray(2, d[0])).toString('utf16le');
}

type EnumState = 'detached' | 'resetting' | 'enumerating' | 'configured' | 'failed';

export class UsbHost {
  state: EnumState = 'detached';
  enumeration: EnumerationResult | null = null;
  failure: Error | null = null;
  /** Things the firmware did that a host would not expect (unsolicited EP0 data, ...). */
  readonly protocolErrors: string[] = [];
  /** Packet statistics for the data endpoints. */
  readonly stats = { outPackets: 0, outBytes: 0, inPackets: 0, inBytes: 0, inZlps: 0, outArms: 0 };

  private readonly usb: RPUSBController;
  private current: ControlTransfer | null = null;
  private readonly queue: Array<{ t: ControlTransfer }> = [];
  private ep0OutArmed = false;
  private bulkOutHeld: number | null = null;
  private bulkIn = -1;
  private bulkOut = -1;
  private readonly txQueue: Uint8Array[] = [];
  private txOffset = 0;
  private readonly dataListeners: Array<(data: Uint8Array) => void> = [];
  private readonly packetListeners: Array<(data: Uint8Array) => void> = [];
  private enabledAtNanos = 0;
  private startScheduled = false;

  constructor(readonly mcu: RP2040) {
    this.usb = mcu.usbCtrl;
    const usb = this.usb;
    usb.onUSBEnabled = () => {
      this.enabledAtNanos = mcu.clock.nanos;
      this.state = 'resetting';
      usb.resetDevice();
    };
    usb.onResetReceived = () => {
      if (this.state === 'resetting') {
        this.state = 'enumerating';
        this.enumerate();
      }
    };
    usb.onEndpointWrite = (ep, data) => this.endpointWrite(ep, data);
    usb.onEndpointRead = (ep, len) => this.endpointRead(ep, len);

    // Watch EP_STALL_ARM stores (rp2040js keeps the value but does nothing with it).
    const write = usb.writeUint32.bind(usb);
    usb.writeUint32 = (offset: number, value: number) => {
      write(offset, value);
      if (offset === EP_STALL_ARM && value & 3 && this.current) {
        const t = this.current;
        this.later(STALL_CHECK_NS, () => {
          if (this.current === t && this.ep0Stalled()) this.complete(t, 'stall');
        });
      }
    };
  }

  get configured(): boolean {
    return this.state === 'configured';
  }

  /** Whether the firmware currently has EP0 set up to STALL (both conditions silicon needs). */
  ep0Stalled(): boolean {
    const arm = this.usb.readUint32(EP_STALL_ARM);
    const view = this.mcu.usbDPRAMView;
    const inStall = (arm & 1) !== 0 && (view.getUint32(EP0_IN_BUF_CTRL, true) & BUF_CTRL_STALL) !== 0;
    const outStall = (arm & 2) !== 0 && (view.getUint32(EP0_OUT_BUF_CTRL, true) & BUF_CTRL_STALL) !== 0;
    return inStall || outStall;
  }

  /** The device address the firmware has programmed into ADDR_ENDP. */
  deviceAddress(): number {
    return this.usb.readUint32(ADDR_ENDP) & 0x7f;
  }

  /** Queue a control transfer; transfers run one at a time, in order. */
  control(setup: SetupPacket, out?: Uint8Array): ControlTransfer {
    const t = new ControlTransfer(setup, out);
    this.queue.push({ t });
    this.kick();
    return t;
  }

  /** Queue bytes for bulk OUT (no size limit; delivered as the firmware arms OUT). */
  write(data: Uint8Array): void {
    if (data.length === 0) return;
    this.txQueue.push(Uint8Array.from(data));
    if (this.bulkOutHeld !== null) this.deliverOut();
  }

  /** Bytes queued for bulk OUT that the firmware has not taken yet. */
  get pendingOutBytes(): number {
    return this.txQueue.reduce((n, c) => n + c.length, 0) - this.txOffset;
  }

  /** Whether the firmware currently has bulk OUT armed with nothing to deliver (it is waiting for us). */
  get bulkOutWaiting(): boolean {
    return this.bulkOutHeld !== null;
  }

  onData(cb: (data: Uint8Array) => void): void {
    this.dataListeners.push(cb);
  }

  onPacket(cb: (data: Uint8Array) => void): void {
    this.packetListeners.push(cb);
  }

  // ---- internals --------------------------------------------------------------------------------

  private later(nanos: number, fn: () => void): void {
    this.mcu.clock.createAlarm(fn).schedule(nanos);
  }

  /** Start the next queued transfer after the usual host gap, unless one is running or scheduled. */
  private kick(): void {
    if (this.current || this.startScheduled || this.queue.length === 0) return;
    this.startScheduled = true;
    this.later(HOST_GAP_NS, () => {
      this.startScheduled = false;
      this.startNext();
    });
  }

  private startNext(): void {
    if (this.current) return;
    const next = this.queue.shift();
    if (!next) return;
    const t = next.t;
    this.current = t;
    // A SETUP cancels pending EP0 buffers and, on silicon, clears EP_STALL_ARM.
    this.ep0OutArmed = false;
    this.usb.writeUint32(EP_STALL_ARM, 0);
    this.usb.sendSetupPacket(setupBytes(t.setup));
  }

  private complete(t: ControlTransfer, status: 'ok' | 'stall'): void {
    if (this.current !== t) return;
    this.current = null;
    t.finish(status);
    this.kick();
  }

  private endpointWrite(ep: number, data: Uint8Array): void {
    if (ep === 0) {
      const t = this.current;
      if (t?.phase === 'data-in') {
        t.received.push(...data);
        if (t.received.length >= t.setup.wLength || data.length < EP0_MPS) {
          t.phase = 'status-out';
          if (this.ep0OutArmed) this.sendStatusOut(t);
        }
      } else if (t?.phase === 'status-in' && data.length === 0) {
        this.complete(t, 'ok');
      } else {
        this.protocolErrors.push(
          `unexpected EP0 IN packet of ${data.length} bytes (phase ${t?.phase ?? 'no transfer'})`,
        );
      }
      return;
    }
    if (ep === this.bulkIn) {
      this.stats.inPackets++;
      this.stats.inBytes += data.length;
      if (data.length === 0) this.stats.inZlps++;
      for (const cb of this.packetListeners) cb(data);
      if (data.length) for (const cb of this.dataListeners) cb(data);
      return;
    }
    this.protocolErrors.push(`IN packet on unexpected endpoint ${ep}`);
  }

  private endpointRead(ep: number, len: number): void {
    if (ep === 0) {
      const t = this.current;
      if (t?.phase === 'data-out') {
        const chunk = t.out.subarray(t.outOffset, t.outOffset + Math.min(EP0_MPS, len));
        t.outOffset += chunk.length;
        if (t.outOffset >= t.out.length) t.phase = 'status-in';
        this.usb.endpointReadDone(0, Uint8Array.from(chunk));
      } else if (t?.phase === 'status-out') {
        this.sendStatusOut(t);
      } else {
        this.ep0OutArmed = true; // e.g. armed for the status stage before we saw the last IN packet
      }
      return;
    }
    if (ep === this.bulkOut) {
      this.stats.outArms++;
      this.bulkOutHeld = len; // a re-arm replaces the previous one, like rewriting buffer control
      if (this.pendingOutBytes > 0) this.deliverOut();
      return;
    }
    this.protocolErrors.push(`OUT arm on unexpected endpoint ${ep}`);
  }

  private sendStatusOut(t: ControlTransfer): void {
    this.ep0OutArmed = false;
    this.usb.endpointReadDone(0, new Uint8Array(0));
    // rp2040js delivers the ZLP after readDelayMicroseconds; the transfer is over once it has.
    this.later(this.usb.readDelayMicroseconds * 1000 + 1000, () => this.complete(t, 'ok'));
  }

  private deliverOut(): void {
    const max = Math.min(this.bulkOutHeld ?? 0, 64);
    if (max <= 0) return;
    const chunk = new Uint8Array(max);
    let n = 0;
    while (n < max && this.txQueue.length) {
      const head = this.txQueue[0]!;
      const take = Math.min(max - n, head.length - this.txOffset);
      chunk.set(head.subarray(this.txOffset, this.txOffset + take), n);
      n += take;
      this.txOffset += take;
      if (this.txOffset === head.length) {
        this.txQueue.shift();
        this.txOffset = 0;
      }
    }
    if (n === 0) return;
    this.bulkOutHeld = null;
    this.stats.outPackets++;
    this.stats.outBytes += n;
    this.usb.endpointReadDone(this.bulkOut, chunk.subarray(0, n));
  }

  private fail(message: string): void {
    this.state = 'failed';
    this.failure = new Error(`USB enumeration failed: ${message}`);
  }

  /** Linux-like enumeration; each step starts when the previous transfer has finished. */
  private enumerate(): void {
    const getDescriptor = (type: number, index: number, wIndex: number, wLength: number) =>
      this.control({ bmRequestType: 0x80, bRequest: REQ_GET_DESCRIPTOR, wValue: (type << 8) | index, wIndex, wLength });
    const need = (t: ControlTransfer, what: string, next: (t: ControlTransfer) => void) =>
      t.then((done) => {
        if (done.status !== 'ok') return this.fail(`${what} stalled`);
        try {
          next(done);
        } catch (e) {
          this.fail(`${what}: ${(e as Error).message}`);
        }
      });

    const r: Partial<EnumerationResult> = {};
    need(this.control({ bmRequestType: 0x00, bRequest: REQ_SET_ADDRESS, wValue: DEVICE_ADDRESS, wIndex: 0, wLength: 0 }), 'SET_ADDRESS', () => {
      r.address = this.deviceAddress();
      need(getDescriptor(DESC_DEVICE, 0, 0, 8), 'GET_DESCRIPTOR(device, 8)', (t8) => {
        r.deviceDescriptorShort = t8.data;
        need(getDescriptor(DESC_DEVICE, 0, 0, 18), 'GET_DESCRIPTOR(device, 18)', (t18) => {
          r.deviceDescriptorRaw = t18.data;
          r.deviceDescriptor = parseDeviceDescriptor(t18.data);
          need(getDescriptor(DESC_CONFIG, 0, 0, 9), 'GET_DESCRIPTOR(config, 9)', (c9) => {
            r.configHeader = c9.data;
            r.wTotalLength = c9.data[2]! | (c9.data[3]! << 8);
            need(getDescriptor(DESC_CONFIG, 0, 0, r.wTotalLength), 'GET_DESCRIPTOR(config, full)', (cf) => {
              r.configDescriptor = cf.data;
              r.endpoints = parseEndpoints(cf.data);
              need(getDescriptor(DESC_STRING, 0, 0, 255), 'GET_DESCRIPTOR(string 0)', (s0) => {
                r.langIds = [];
                for (let i = 2; i + 1 < s0.data.length; i += 2) r.langIds.push(s0.data[i]! | (s0.data[i + 1]! << 8));
                const dd = r.deviceDescriptor!;
                need(getDescriptor(DESC_STRING, dd.iManufacturer, LANGID_EN_US, 255), 'string iManufacturer', (s1) => {
                  r.manufacturer = decodeStringDescriptor(s1.data);
                  need(getDescriptor(DESC_STRING, dd.iProduct, LANGID_EN_US, 255), 'string iProduct', (s2) => {
                    r.product = decodeStringDescriptor(s2.data);
                    need(getDescriptor(DESC_STRING, dd.iSerialNumber, LANGID_EN_US, 255), 'string iSerialNumber', (s3) => {
                      r.serial = decodeStringDescriptor(s3.data);
                      this.configure(r);
                    });
                  });
                });
              });
            });
          });
        });
      });
    });
  }

  private configure(r: Partial<EnumerationResult>): void {
    const eps = r.endpoints ?? [];
    const bulk = eps.filter((e) => (e.attributes & 3) === 2);
    const inEp = bulk.find((e) => e.address & 0x80);
    const outEp = bulk.find((e) => !(e.address & 0x80));
    const notif = eps.find((e) => (e.attributes & 3) === 3);
    if (!inEp || !outEp) return this.fail('no bulk IN/OUT endpoint pair in the configuration');
    r.bulkIn = inEp.address;
    r.bulkOut = outEp.address;
    r.notification = notif?.address ?? -1;
    this.bulkIn = inEp.address & 0x0f;
    this.bulkOut = outEp.address & 0x0f;
    const commIf = notif?.interfaceNumber ?? 0;
    const steps = [
      this.control({ bmRequestType: 0x00, bRequest: REQ_SET_CONFIGURATION, wValue: 1, wIndex: 0, wLength: 0 }),
      this.control(
        { bmRequestType: 0x21, bRequest: CDC_SET_LINE_CODING, wValue: 0, wIndex: commIf, wLength: 7 },
        LINE_CODING_115200_8N1,
      ),
      this.control({ bmRequestType: 0x21, bRequest: CDC_SET_CONTROL_LINE_STATE, wValue: 3, wIndex: commIf, wLength: 0 }),
    ];
    const names = ['SET_CONFIGURATION(1)', 'SET_LINE_CODING', 'SET_CONTROL_LINE_STATE'];
    steps.forEach((t, i) => t.then((done) => {
      if (done.status !== 'ok') return this.fail(`${names[i]} stalled`);
      if (i === steps.length - 1 && this.state === 'enumerating') {
        r.enumeratedAtMicros = (this.mcu.clock.nanos - this.enabledAtNanos) / 1000;
        this.enumeration = r as EnumerationResult;
        this.state = 'configured';
      }
    }));
  }
}

export { CDC_GET_LINE_CODING, CDC_SET_LINE_CODING, CDC_SET_CONTROL_LINE_STATE, REQ_GET_DESCRIPTOR };
