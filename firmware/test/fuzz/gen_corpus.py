#!/usr/bin/env python3
"""Seed corpus for the firmware fuzz targets, from test/vectors/protocol.json (the byte-exact vectors
the host and the firmware share). Writes test/fuzz/corpus/fw-slip/vec-*.bin (chunk byte + SLIP bytes)
and test/fuzz/corpus/fw-dispatch/vec-*.bin (scripts in fuzz_dispatch.c's operation format).
Usage: python3 firmware/test/fuzz/gen_corpus.py test/vectors/protocol.json test/fuzz/corpus"""
import json
import os
import sys

vectors = json.load(open(sys.argv[1]))
out = sys.argv[2]
slip_dir = os.path.join(out, 'fw-slip')
dispatch_dir = os.path.join(out, 'fw-dispatch')
os.makedirs(slip_dir, exist_ok=True)
os.makedirs(dispatch_dir, exist_ok=True)


def write(directory, name, data):
    with open(os.path.join(directory, name), 'wb') as f:
        f.write(bytes(data))


def raw_ops(data):
    """fuzz_dispatch operation 0 (raw bytes) takes at most 63 bytes at a time."""
    ops = []
    for at in range(0, len(data), 63):
        chunk = data[at:at + 63]
        ops += [0, len(chunk)] + list(chunk)
    return ops


def slug(text):
    return ''.join(c if c.isalnum() else '-' for c in text.lower()).strip('-')[:48]


requests = []
for i, frame in enumerate(vectors['frames']):
    slip = bytes.fromhex(frame['slip'])
    write(slip_dir, f'vec-{i:02d}-{slug(frame["name"])}.bin', [64] + list(slip))
    if frame['direction'] == 'host_to_device':
        payload = bytes.fromhex(frame['payload'])
        # op 2: a valid frame of this exact type byte; seq advance 0; n; payload
        record = [2, frame['type'], 0, len(payload)] + list(payload)
        requests.append(record)
        write(dispatch_dir, f'vec-{i:02d}-{slug(frame["name"])}.bin', record + [6])
for i, bad in enumerate(vectors['invalid']):
    slip = bytes.fromhex(bad['slip'])
    write(slip_dir, f'invalid-{i:02d}-{slug(bad["name"])}.bin', [3] + list(slip))
    write(dispatch_dir, f'invalid-{i:02d}-{slug(bad["name"])}.bin', raw_ops(slip))
for i, stream in enumerate(vectors['streams']):
    data = bytes.fromhex(stream['bytes'])
    write(slip_dir, f'stream-{i:02d}-{slug(stream["name"])}.bin', [5] + list(data))
    write(dispatch_dir, f'stream-{i:02d}-{slug(stream["name"])}.bin', raw_ops(data))
# Every request of the vectors in one session, with time passing and events drained between them.
session = []
for record in requests:
    session += record + [4, 0x40, 0x00, 6]
write(dispatch_dir, 'session-all-requests.bin', session)
