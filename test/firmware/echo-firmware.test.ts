/**
 * The platform layer (clocks, timer, USB CDC-ACM stack) in rp2040js, through firmware/test/echo:
 * every byte is echoed, 't' is answered with the 8-byte little-endian platform_time_us().
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { EmulatedRp2040 } from '../../src/emulator/emulated-mcu.js';
import { ImageFormatError, uf2ToFlat } from '../../src/emulator/loader.js';
import { WatchdogResetError } from '../../src/emulator/runloop.js';
import { LINE_CODING_115200_8N1 } from '../../src/emulator/usb-host.js';
import { buildFirmwareImage } from './firmware-build.js';

let image: Uint8Array;
let uf2: Uint8Array;

beforeAll(() => {
  image = new Uint8Array(readFileSync(buildFirmwareImage('build/echo.bin')));
  uf2 = new Uint8Array(readFileSync(buildFirmwareImage('build/echo.uf2')));
}, 120_000);

describe('image loader', () => {
  it('loads the UF2 to the same flash contents as the BIN and boots it', () => {
    const flat = uf2ToFlat(uf2);
    // fwtool pads the last 256-byte payload with zeros.
    expect(flat.length).toBe(Math.ceil(image.length / 256) * 256);
    expect(Buffer.from(flat.subarray(0, image.length)).equals(Buffer.from(image))).toBe(true);
    expect(flat.subarray(image.length).every((b) => b === 0)).toBe(true);
    const emu = EmulatedRp2040.fromImage(uf2);
    expect(emu.start().product).toBe('vgpio');
  });

  it('rejects a UF2 for another family and a corrupted block', () => {
    const other = Uint8Array.from(uf2);
    new DataView(other.buffer).setUint32(28, 0x12345678, true);
    expect(() => uf2ToFlat(other)).toThrow(ImageFormatError);
    const broken = Uint8Array.from(uf2);
    broken[511] = 0;
    expect(() => uf2ToFlat(broken)).toThrow(/end magic/);
  });
});

function boot(): EmulatedRp2040 {
  const emu = EmulatedRp2040.fromImage(image);
  emu.start();
  return emu;
}

/** Deterministic pseudo-random bytes without 't' (0x74, the echo firmware's time request). */
function randomBytes(n: number, seed = 12345): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    let b = x >>> 24;
    if (b === 0x74) b = 0x75;
    out[i] = b;
  }
  return out;
}

describe('USB enumeration (own Linux-like host)', () => {
  it('enumerates with the expected descriptors and strings', () => {
    const emu = EmulatedRp2040.fromImage(image);
    const r = emu.start();
    expect(emu.usb.protocolErrors).toEqual([]);
    expect(r.address).toBe(1);
    expect(r.deviceDescriptorShort).toHaveLength(8);
    expect(Array.from(r.deviceDescriptorShort)).toEqual(Array.from(r.deviceDescriptorRaw.subarray(0, 8)));
    expect(r.deviceDescriptorRaw).toHaveLength(18);
    expect(r.deviceDescriptor).toMatchObject({
      bLength: 18,
      bcdUSB: 0x0200,
      bDeviceClass: 0xef,
      bDeviceSubClass: 0x02,
      bDeviceProtocol: 0x01,
      bMaxPacketSize0: 64,
      idVendor: 0x1209,
      idProduct: 0x0001,
      iManufacturer: 1,
      iProduct: 2,
      iSerialNumber: 3,
      bNumConfigurations: 1,
    });
    expect(r.langIds).toEqual([0x0409]);
    expect(r.manufacturer).toBe('vgpio project');
    expect(r.product).toBe('vgpio');
    // No bootrom in rp2040js -> the firmware's documented fallback id, ASCII "EMULATED" in hex.
    expect(r.serial).toBe('454D554C41544544');
    expect(r.serial).toMatch(/^[0-9A-F]{16}$/);
    expect(r.wTotalLength).toBe(75);
    expect(r.configDescriptor).toHaveLength(75);
    expect(r.configHeader[4]).toBe(2); // bNumInterfaces
    expect(r.endpoints.map((e) => [e.address, e.attributes & 3, e.maxPacketSize, e.interfaceNumber])).toEqual([
      [0x81, 3, 8, 0],
      [0x02, 2, 64, 1],
      [0x82, 2, 64, 1],
    ]);
    expect([r.bulkOut, r.bulkIn, r.notification]).toEqual([0x02, 0x82, 0x81]);
    // IAD right after the configuration header, ACM capabilities 0x02.
    expect(Array.from(r.configDescriptor.subarray(9, 17))).toEqual([8, 0x0b, 0, 2, 2, 2, 0, 0]);
    const acm = r.configDescriptor.findIndex((_, i, d) => d[i] === 4 && d[i + 1] === 0x24 && d[i + 2] === 2);
    expect(r.configDescriptor[acm + 3]).toBe(0x02);
    expect(r.enumeratedAtMicros).toBeLessThan(20_000);
  });

  it('round-trips SET_LINE_CODING / GET_LINE_CODING', () => {
    const emu = boot();
    const get = { bmRequestType: 0xa1, bRequest: 0x21, wValue: 0, wIndex: 0, wLength: 7 };
    expect(Array.from(emu.control(get).data)).toEqual(Array.from(LINE_CODING_115200_8N1));
    const coding = Uint8Array.of(0x40, 0x42, 0x0f, 0x00, 2, 1, 7); // 1 000 000 baud, 2 stop, odd, 7 bits
    const set = emu.control({ bmRequestType: 0x21, bRequest: 0x20, wValue: 0, wIndex: 0, wLength: 7 }, coding);
    expect(set.status).toBe('ok');
    const back = emu.control(get);
    expect(back.status).toBe('ok');
    expect(Array.from(back.data)).toEqual(Array.from(coding));
    expect(emu.usb.protocolErrors).toEqual([]);
  });

  it('accepts SET_CONTROL_LINE_STATE with bmRequestType 0x20 (rp2040js stock host) and 0x21', () => {
    const emu = boot();
    for (const bmRequestType of [0x20, 0x21]) {
      const r = emu.control({ bmRequestType, bRequest: 0x22, wValue: 1, wIndex: 0, wLength: 0 });
      expect(r.status).toBe('ok');
    }
  });

  it('stalls unsupported requests and keeps working afterwards', () => {
    const emu = boot();
    const qualifier = emu.control({ bmRequestType: 0x80, bRequest: 0x06, wValue: 0x0600, wIndex: 0, wLength: 10 });
    expect(qualifier.status).toBe('stall');
    const badString = emu.control({ bmRequestType: 0x80, bRequest: 0x06, wValue: 0x0309, wIndex: 0x0409, wLength: 255 });
    expect(badString.status).toBe('stall');
    const vendor = emu.control({ bmRequestType: 0x40, bRequest: 0x01, wValue: 0, wIndex: 0, wLength: 0 });
    expect(vendor.status).toBe('stall');
    const dev = emu.control({ bmRequestType: 0x80, bRequest: 0x06, wValue: 0x0100, wIndex: 0, wLength: 18 });
    expect(dev.status).toBe('ok');
    expect(dev.data).toHaveLength(18);
    const status = emu.control({ bmRequestType: 0x80, bRequest: 0x00, wValue: 0, wIndex: 0, wLength: 2 });
    expect(Array.from(status.data)).toEqual([0, 0]);
    const config = emu.control({ bmRequestType: 0x80, bRequest: 0x08, wValue: 0, wIndex: 0, wLength: 1 });
    expect(Array.from(config.data)).toEqual([1]);
    emu.write([1, 2, 3]);
    expect(Array.from(emu.read(3))).toEqual([1, 2, 3]);
  });
});

describe('CDC byte pipe', () => {
  it('echoes 5000 random bytes written in chunks larger than 512, byte-exact', () => {
    const emu = boot();
    const data = randomBytes(5000);
    // All at once: the host queue holds it, the firmware NAKs (leaves OUT unarmed) when its ring is full.
    for (let off = 0; off < data.length; off += 700) emu.write(data.subarray(off, off + 700));
    const cyclesBefore = emu.loop.cycles;
    const echoed = emu.read(5000, 200e6);
    expect(Buffer.from(echoed).equals(Buffer.from(data))).toBe(true);
    expect(emu.usb.pendingOutBytes).toBe(0);
    emu.run(1e6);
    expect(emu.available).toBe(0); // nothing extra
    expect(emu.usb.stats.outBytes).toBe(5000);
    expect(emu.usb.protocolErrors).toEqual([]);
    const perByte = (emu.loop.cycles - cyclesBefore) / 5000;
    console.log(`echo: ${perByte.toFixed(1)} CPU cycles per echoed byte (OUT ISR + main loop + IN ISR)`);
  });

  it('sends a ZLP after a final full 64-byte packet, and none after a short one', () => {
    const emu = boot();
    const packets: number[] = [];
    emu.usb.onPacket((p) => packets.push(p.length));
    emu.write(randomBytes(64, 7));
    emu.read(64);
    emu.run(200_000);
    expect(packets).toEqual([64, 0]);
    packets.length = 0;
    emu.write(randomBytes(63, 8));
    emu.read(63);
    emu.run(200_000);
    expect(packets).toEqual([63]);
  });

  it('timer counts microseconds of simulated time', () => {
    const emu = boot();
    const readTimer = (): bigint => {
      emu.write([0x74]);
      return Buffer.from(emu.read(8)).readBigUInt64LE(0);
    };
    const t1 = readTimer();
    const sim1 = emu.micros;
    expect(Math.abs(Number(t1) - sim1)).toBeLessThan(100);
    emu.run(25e6); // 25 ms simulated, longer than the idle SysTick period
    const t2 = readTimer();
    const sim2 = emu.micros;
    expect(Number(t2 - t1)).toBeGreaterThan((sim2 - sim1) - 100);
    expect(Number(t2 - t1)).toBeLessThan((sim2 - sim1) + 100);
    expect(Number(t2 - t1)).toBeGreaterThan(25_000);
  });

  it('keeps the watchdog fed while idle (no reset over 1.5 s simulated)', () => {
    const emu = boot();
    emu.run(1.5e9);
    emu.write([9]);
    expect(Array.from(emu.read(1))).toEqual([9]);
  });

  it('harness: a starved watchdog surfaces as WatchdogResetError', () => {
    const emu = boot();
    emu.mcu.writeUint32(0xe000e010, 0); // SYST_CSR = 0: no idle wake-up, so nobody feeds the watchdog
    expect(() => emu.run(1.5e9)).toThrow(WatchdogResetError);
  });
});

describe('cycle budget', () => {
  it('USB ISR cost per 64-byte packet stays small', () => {
    const emu = boot();
    const core = emu.mcu.core;
    const exec = core.executeInstruction.bind(core);
    const USB_EXCEPTION = 16 + 5;
    let isrCycles = 0;
    let entries = 0;
    let inIsr = false;
    core.executeInstruction = () => {
      const c = exec();
      if (core.IPSR === USB_EXCEPTION) {
        isrCycles += c;
        if (!inIsr) entries++;
        inIsr = true;
      } else {
        inIsr = false;
      }
      return c;
    };
    emu.write(new Uint8Array(6400).fill(0x41));
    emu.read(6400, 500e6);
    const { outPackets, inPackets } = emu.usb.stats;
    const perPacket = isrCycles / (outPackets + inPackets);
    console.log(
      `USB ISR: ${isrCycles} cycles, ${entries} entries, ${outPackets} OUT + ${inPackets} IN packets ` +
        `(incl. ZLPs) -> ${perPacket.toFixed(0)} cycles per packet`,
    );
    expect(perPacket).toBeLessThan(400);
  });
});
