#!/usr/bin/env python3
"""A minimal protocol v1 device on a pseudo-terminal, for testing the real serialport path.

Prints the pty path on its first line, then answers HELLO and PING the way v1 firmware does and refuses
everything else with UNSUPPORTED. Exits when the host closes the port or after 30 s. Standard library only.
"""
import os, pty, select, struct, sys, time, tty

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def send(fd, msg_type, seq, payload):
    raw = bytes([1, msg_type]) + struct.pack("<H", seq) + payload
    raw += struct.pack("<I", crc32c(raw))
    out = bytearray([END])
    for b in raw:
        out += bytes([ESC, ESC_END]) if b == END else bytes([ESC, ESC_ESC]) if b == ESC else bytes([b])
    out.append(END)
    os.write(fd, bytes(out))


master, slave = pty.openpty()
tty.setraw(slave)
print(os.ttyname(slave), flush=True)
start = time.monotonic()
packet, escaped, opened = bytearray(), False, False
while time.monotonic() - start < 30:
    ready, _, _ = select.select([master], [], [], 0.1)
    if not ready:
        continue
    try:
        data = os.read(master, 4096)
    except OSError:  # the host closed the port
        if opened:
            break
        continue
    opened = True
    for b in data:
        if escaped:
            packet.append(END if b == ESC_END else ESC if b == ESC_ESC else b)
            escaped = False
        elif b == ESC:
            escaped = True
        elif b != END:
            packet.append(b)
        elif packet:
            frame, packet = bytes(packet), bytearray()
            if len(frame) < 8 or crc32c(frame[:-4]) != struct.unpack("<I", frame[-4:])[0]:
                continue
            msg_type, seq, payload = frame[1], struct.unpack("<H", frame[2:4])[0], frame[4:-4]
            now = int((time.monotonic() - start) * 1e6)
            if msg_type == 0x01:
                body = (bytes([1, 0, 1, 0]) + struct.pack("<HBBIIHH", 256, 8, 30, 0x0FFF, (1 << 23) | (1 << 24) | (1 << 29), 2, 256)
                        + bytes.fromhex("0123456789abcdef") + struct.pack("<Q", now))
                send(master, 0x81, seq, b"\x00" + body)
            elif msg_type == 0x02:
                send(master, 0x82, seq, b"\x00" + struct.pack("<Q", now) + payload)
            else:
                send(master, msg_type | 0x80, seq, bytes([4, 0xFF]))
