#!/usr/bin/env python3
"""Generates test/vectors/protocol.json from hw/PROTOCOL.md, independently of the TypeScript and C codecs.

This encoder is deliberately separate from src/link and firmware/src/proto so the vectors check both
against a third reading of the spec. Run `npm run vectors` after changing it, and commit the JSON.

Field names are the ones the TypeScript message model uses; 64-bit values are decimal strings (JSON
numbers cannot hold them); byte strings are lowercase hex.
"""
import json
import struct

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD
VERSION = 1
MAX_PAYLOAD = 256


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def frame(msg_type: int, seq: int, payload: bytes, version: int = VERSION) -> bytes:
    head = bytes([version, msg_type]) + struct.pack("<H", seq) + payload
    return head + struct.pack("<I", crc32c(head))


def slip(raw: bytes) -> bytes:
    out = bytearray([END])
    for b in raw:
        if b == END:
            out += bytes([ESC, ESC_END])
        elif b == ESC:
            out += bytes([ESC, ESC_ESC])
        else:
            out.append(b)
    out.append(END)
    return bytes(out)


vectors = []


def vector(name, direction, type_name, msg_type, seq, payload, fields, note=None):
    raw = frame(msg_type, seq, payload)
    entry = {
        "name": name,
        "direction": direction,
        "type": msg_type,
        "typeName": type_name,
        "seq": seq,
        "payload": payload.hex(),
        "fields": fields,
        "frame": raw.hex(),
        "slip": slip(raw).hex(),
    }
    if note:
        entry["note"] = note
    vectors.append(entry)


H2D, D2H = "host_to_device", "device_to_host"
u8 = lambda v: struct.pack("<B", v)
le16 = lambda v: struct.pack("<H", v)
le32 = lambda v: struct.pack("<I", v)
le64 = lambda v: struct.pack("<Q", v)


def reply_ok(body: bytes) -> bytes:
    return u8(0) + body


# ---- requests -------------------------------------------------------------------------------------
vector("HELLO request", H2D, "HELLO", 0x01, 1, u8(1) + u8(1), {"minVersion": 1, "maxVersion": 1})
vector("PING request, empty", H2D, "PING", 0x02, 2, b"", {"data": ""})
vector("PING request, data", H2D, "PING", 0x02, 3, bytes(range(8)), {"data": bytes(range(8)).hex()})
vector("GET_STATS request", H2D, "GET_STATS", 0x03, 4, b"", {})

line_cfg_fields = {"lines": (1 << 2) | (1 << 3), "direction": 1, "value": 1, "bias": 0, "drive": 1,
                   "edge": 0, "level": 0, "debounceUs": 0}
vector("LINE_CONFIG output open-drain on GP2+GP3", H2D, "LINE_CONFIG", 0x04, 5,
       le32(0x0C) + bytes([1, 1, 0, 1, 0, 0]) + le16(0) + le32(0), line_cfg_fields)
vector("LINE_CONFIG input both edges, pull-up, debounce 1500 us on GP3", H2D, "LINE_CONFIG", 0x04, 6,
       le32(1 << 3) + bytes([2, 0, 1, 0, 3, 0]) + le16(0) + le32(1500),
       {"lines": 8, "direction": 2, "value": 0, "bias": 1, "drive": 0, "edge": 3, "level": 0,
        "debounceUs": 1500})
vector("LINE_CONFIG input level-low on GP21", H2D, "LINE_CONFIG", 0x04, 7,
       le32(1 << 21) + bytes([2, 0, 2, 0, 0, 2]) + le16(0) + le32(0),
       {"lines": 1 << 21, "direction": 2, "value": 0, "bias": 2, "drive": 0, "edge": 0, "level": 2,
        "debounceUs": 0})
vector("LINE_CONFIG off", H2D, "LINE_CONFIG", 0x04, 8,
       le32(1 << 0) + bytes([0, 0, 2, 0, 0, 0]) + le16(0) + le32(0),
       {"lines": 1, "direction": 0, "value": 0, "bias": 2, "drive": 0, "edge": 0, "level": 0,
        "debounceUs": 0})
vector("SET_VALUES GP2 high, GP3 low", H2D, "SET_VALUES", 0x05, 9, le32(0x0C) + le32(0x04),
       {"mask": 0x0C, "values": 0x04})
vector("GET_VALUES GP0..GP29", H2D, "GET_VALUES", 0x06, 10, le32(0x3FFFFFFF), {"mask": 0x3FFFFFFF})
vector("PULSE GP2 high 250 us", H2D, "PULSE", 0x07, 11, u8(2) + u8(1) + le16(0) + le32(250),
       {"line": 2, "level": 1, "durationUs": 250})
vector("FAILSAFE 500 ms, GP2 low, GP3 released", H2D, "FAILSAFE", 0x08, 12,
       le32(500) + le32(1 << 2) + le32(0) + le32(1 << 3),
       {"timeoutMs": 500, "driveMask": 4, "driveValues": 0, "releaseMask": 8})
vector("HEARTBEAT request", H2D, "HEARTBEAT", 0x09, 13, b"", {})
vector("RESET request", H2D, "RESET", 0x0A, 14, b"", {})
vector("REBOOT_TO_BOOTLOADER request", H2D, "REBOOT_TO_BOOTLOADER", 0x0B, 15, le32(1 << 25) + le32(0),
       {"activityLedMask": 1 << 25, "disableInterfaceMask": 0})
vector("GET_LINE_CONFIG GP7", H2D, "GET_LINE_CONFIG", 0x0C, 16, u8(7), {"line": 7})
vector("LEVEL_REARM GP21", H2D, "LEVEL_REARM", 0x0D, 17, le32(1 << 21), {"mask": 1 << 21})
vector("request with seq 0xC0DB (both bytes escaped)", H2D, "HEARTBEAT", 0x09, 0xDBC0, b"", {},
       note="seq bytes are C0 DB little-endian, so both need escaping")
vector("SET_VALUES with END and ESC bytes in the payload", H2D, "SET_VALUES", 0x05, 18,
       le32(0x00C0DBC0) + le32(0x00C0DB00), {"mask": 0x00C0DBC0, "values": 0x00C0DB00},
       note="mask and values contain 0xC0 and 0xDB")
vector("PING request, maximum length 247", H2D, "PING", 0x02, 19, bytes((i * 7) & 0xFF for i in range(247)),
       {"data": bytes((i * 7) & 0xFF for i in range(247)).hex()})

# ---- replies ------------------------------------------------------------------------------------------
serial = bytes.fromhex("e66038b7136b4f2a")
hello_body = (u8(1) + bytes([0, 1, 0]) + le16(256) + u8(8) + u8(30) + le32(0x0FFF)
              + le32((1 << 23) | (1 << 24) | (1 << 29)) + le16(2) + le16(256) + serial + le64(10_147_503))
assert len(hello_body) == 36
vector("HELLO reply", D2H, "HELLO_REPLY", 0x81, 1, reply_ok(hello_body),
       {"status": 0, "protocolVersion": 1, "fwMajor": 0, "fwMinor": 1, "fwPatch": 0, "maxPayload": 256,
        "window": 8, "numLines": 30, "capabilities": 0x0FFF, "reservedLines": (1 << 23) | (1 << 24) | (1 << 29),
        "boardId": 2, "eventCapacity": 256, "serial": serial.hex(), "timeUs": "10147503"})
vector("HELLO reply BAD_VERSION", D2H, "HELLO_REPLY", 0x81, 1, u8(7) + u8(1), {"status": 7, "detail": 1})
vector("PING reply", D2H, "PING_REPLY", 0x82, 3, reply_ok(le64(123_456_789) + bytes(range(8))),
       {"status": 0, "timeUs": "123456789", "data": bytes(range(8)).hex()})
vector("PING reply with a time that contains C0 and DB", D2H, "PING_REPLY", 0x82, 2,
       reply_ok(le64(0x00000001C0DBC0DB)), {"status": 0, "timeUs": str(0x00000001C0DBC0DB), "data": ""})
stats = [1000, 2, 3, 1, 4, 990, 5000, 17, 0]
vector("GET_STATS reply", D2H, "GET_STATS_REPLY", 0x83, 4, reply_ok(b"".join(le32(v) for v in stats)),
       {"status": 0, "rxFrames": 1000, "rxCrcErrors": 2, "rxFramingErrors": 3, "rxBadVersion": 1,
        "rxUnknownType": 4, "txFrames": 990, "eventsSent": 5000, "eventsLost": 17, "txStalls": 0})
vector("LINE_CONFIG reply OK", D2H, "LINE_CONFIG_REPLY", 0x84, 5, u8(0), {"status": 0})
vector("LINE_CONFIG reply RESERVED_LINE GP23", D2H, "LINE_CONFIG_REPLY", 0x84, 6, u8(3) + u8(23),
       {"status": 3, "detail": 23})
vector("LINE_CONFIG reply BAD_REQUEST field", D2H, "LINE_CONFIG_REPLY", 0x84, 7, u8(1) + u8(0xFF),
       {"status": 1, "detail": 255})
vector("SET_VALUES reply WRONG_DIRECTION GP3", D2H, "SET_VALUES_REPLY", 0x85, 9, u8(6) + u8(3),
       {"status": 6, "detail": 3})
vector("GET_VALUES reply", D2H, "GET_VALUES_REPLY", 0x86, 10, reply_ok(le32(0x00200004) + le64(5_000_001)),
       {"status": 0, "values": 0x00200004, "timeUs": "5000001"})
vector("PULSE reply", D2H, "PULSE_REPLY", 0x87, 11, reply_ok(le64(7_000_000)),
       {"status": 0, "startUs": "7000000"})
vector("PULSE reply BUSY", D2H, "PULSE_REPLY", 0x87, 11, u8(5) + u8(2), {"status": 5, "detail": 2})
vector("FAILSAFE reply", D2H, "FAILSAFE_REPLY", 0x88, 12, u8(0), {"status": 0})
vector("HEARTBEAT reply", D2H, "HEARTBEAT_REPLY", 0x89, 13, u8(0), {"status": 0})
vector("RESET reply", D2H, "RESET_REPLY", 0x8A, 14, u8(0), {"status": 0})
vector("REBOOT_TO_BOOTLOADER reply", D2H, "REBOOT_TO_BOOTLOADER_REPLY", 0x8B, 15, u8(0), {"status": 0})
vector("GET_LINE_CONFIG reply", D2H, "GET_LINE_CONFIG_REPLY", 0x8C, 16,
       reply_ok(le32(1 << 7) + bytes([2, 0, 1, 0, 3, 0]) + le16(0) + le32(200) + u8(1) + u8(0) + le16(42)),
       {"status": 0, "lines": 1 << 7, "direction": 2, "value": 0, "bias": 1, "drive": 0, "edge": 3, "level": 0,
        "debounceUs": 200, "pinLevel": 1, "flags": 0, "nextLineSeq": 42})
vector("LEVEL_REARM reply", D2H, "LEVEL_REARM_REPLY", 0x8D, 17, u8(0), {"status": 0})
vector("unknown request type 0x3E answered UNSUPPORTED", D2H, "UNKNOWN_REPLY", 0xBE, 20, u8(4) + u8(0xFF),
       {"status": 4, "detail": 255})

# ---- events -------------------------------------------------------------------------------------------
base = 1_000_000
edges = [(3, 1, 1, 0), (3, 2, 2, 250), (4, 1, 9, 251), (3, 1, 3, 500)]
vector("EDGES event, four records", D2H, "EDGES", 0x40, 0,
       le64(base) + b"".join(u8(l) + u8(k) + le16(s) + le32(d) for l, k, s, d in edges),
       {"baseUs": str(base), "edges": [{"line": l, "kind": k, "lineSeq": s, "timeUs": str(base + d)}
                                       for l, k, s, d in edges]})
full = [(i % 30, 1 + (i % 2), i + 1, i * 3) for i in range(31)]
vector("EDGES event, 31 records (maximum payload 256)", D2H, "EDGES", 0x40, 1,
       le64(0xC0DB) + b"".join(u8(l) + u8(k) + le16(s) + le32(d) for l, k, s, d in full),
       {"baseUs": str(0xC0DB), "edges": [{"line": l, "kind": k, "lineSeq": s, "timeUs": str(0xC0DB + d)}
                                          for l, k, s, d in full]})
vector("OVERFLOW event", D2H, "OVERFLOW", 0x41, 2, le32(17) + le32(0x18) + le64(2_000_000) + le64(2_000_900),
       {"lost": 17, "lines": 0x18, "firstUs": "2000000", "lastUs": "2000900"})
vector("LEVEL event", D2H, "LEVEL", 0x42, 3, le64(3_000_000) + le32(1 << 21) + le32(0),
       {"timeUs": "3000000", "lines": 1 << 21, "values": 0})
vector("PULSE_DONE event", D2H, "PULSE_DONE", 0x43, 4, u8(2) + u8(1) + u8(0) + u8(0) + le64(7_000_000) + le64(7_000_250),
       {"line": 2, "level": 1, "outcome": 0, "startUs": "7000000", "endUs": "7000250"})
vector("FAILSAFE_TRIPPED event", D2H, "FAILSAFE_TRIPPED", 0x44, 5,
       le64(9_000_000) + le32(4) + le32(0) + le32(8) + le32(503),
       {"timeUs": "9000000", "driveMask": 4, "driveValues": 0, "releaseMask": 8, "silenceMs": 503})
vector("VERSION_MISMATCH event", D2H, "VERSION_MISMATCH", 0xFF, 0x0202, u8(1) + u8(1),
       {"minVersion": 1, "maxVersion": 1})

# ---- invalid input: what a receiver must reject, and how it counts it ------------------------------
invalid = []
good = frame(0x09, 21, b"")
bad_crc = bytearray(good)
bad_crc[-1] ^= 0x01
invalid.append({"name": "bad CRC (last byte flipped)", "slip": slip(bytes(bad_crc)).hex(), "expect": "crc_error"})
bad_body = bytearray(frame(0x05, 22, le32(1) + le32(1)))
bad_body[5] ^= 0x80
invalid.append({"name": "bad CRC (payload bit flipped)", "slip": slip(bytes(bad_body)).hex(), "expect": "crc_error"})
invalid.append({"name": "short frame (7 bytes)", "slip": slip(good[:7]).hex(), "expect": "framing_error"})
over = frame(0x02, 23, bytes(MAX_PAYLOAD + 1))
invalid.append({"name": "oversized frame (payload 257)", "slip": slip(over).hex(), "expect": "framing_error"})
invalid.append({"name": "version 2 frame", "slip": slip(frame(0x01, 24, u8(2) + u8(2), version=2)).hex(),
                "expect": "bad_version"})
invalid.append({"name": "unknown event type 0x7E from the device", "slip": slip(frame(0x7E, 25, b"")).hex(),
                "expect": "unknown_type"})
invalid.append({"name": "invalid escape (DB 00)", "slip": (bytes([END]) + good[:4] + bytes([ESC, 0x00]) + good[4:] + bytes([END])).hex(),
                "expect": "crc_error_or_framing_error"})

# ---- streams: several frames with noise between them ------------------------------------------------
f1 = frame(0x89, 30, u8(0))
f2 = frame(0x86, 31, reply_ok(le32(0xC0) + le64(0xDB)))
streams = [{
    "name": "garbage, empty frames and two good frames",
    "bytes": (bytes([0x12, 0x34, 0xDB]) + slip(f1) + bytes([END, END, 0xFF]) + slip(f2)).hex(),
    "frames": [f1.hex(), f2.hex()],
    "note": "the garbage before the first END and 'FF' before the second frame become invalid frames and "
            "are discarded; the leading END of each frame resynchronises",
}]

doc = {
    "description": "Byte-exact vectors for hw/PROTOCOL.md v1, generated by test/vectors/generate.py",
    "protocolVersion": VERSION,
    "maxPayload": MAX_PAYLOAD,
    "maxFrame": MAX_PAYLOAD + 8,
    "slip": {"END": END, "ESC": ESC, "ESC_END": ESC_END, "ESC_ESC": ESC_ESC},
    "crc": {"name": "CRC-32C", "poly": "1edc6f41", "reflectedPoly": "82f63b78", "init": "ffffffff",
            "xorOut": "ffffffff", "reflected": True, "checkInput": "123456789".encode().hex(), "check": "e3069283"},
    "frames": vectors,
    "invalid": invalid,
    "streams": streams,
}
print(json.dumps(doc, indent=1))
