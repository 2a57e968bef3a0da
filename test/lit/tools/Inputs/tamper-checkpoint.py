"""Rewrites a kiln checkpoint's metadata (KEY=VALUE ...) and recomputes
kiln.digest (runtime/SafeTensors.cpp, contentDigest), as deliberate
tampering would: the result passes the digest check, so what it tests is
the loader's semantic checks.

    tamper-checkpoint.py IN OUT KEY=VALUE...
"""
import json
import struct
import sys

FNV_OFFSET, FNV_PRIME, MASK = 1469598103934665603, 1099511628211, (1 << 64) - 1


def digest(metadata, tensors, data):
    h = FNV_OFFSET

    def feed(b):
        nonlocal h
        for byte in b:
            h = ((h ^ byte) * FNV_PRIME) & MASK

    def u64(v):
        feed(struct.pack('<Q', v & MASK))

    def text(s):
        b = s.encode()
        u64(len(b))
        feed(b)

    for key in sorted(metadata):
        if key != 'kiln.digest':
            text(key)
            text(metadata[key])
    for name in sorted(tensors):
        t = tensors[name]
        begin, end = t['data_offsets']
        text(name)
        text(t['dtype'])
        u64(len(t['shape']))
        for d in t['shape']:
            u64(d)
        u64(end - begin)
        feed(data[begin:end])
    return '%016x' % h


def main():
    src, dst, edits = sys.argv[1], sys.argv[2], sys.argv[3:]
    raw = open(src, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    metadata = header.pop('__metadata__')
    for edit in edits:
        key, value = edit.split('=', 1)
        metadata[key] = value
    metadata['kiln.digest'] = digest(metadata, header, data)
    header['__metadata__'] = metadata
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    open(dst, 'wb').write(struct.pack('<Q', len(text)) + text + data)


if __name__ == '__main__':
    main()
