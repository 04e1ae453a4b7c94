"""Writes zip files whose members are imploded (method 6), for the differential test:
argv[1] the output directory. PKZIP's implode with fixed-length Shannon-Fano trees (every
length and distance code 6 bits, every literal 8), greedy matching, 4 or 8 KiB windows, with
and without a literal tree. Prints hash signatures (MD5:size:name) of the members."""
import hashlib, struct, sys, zlib

out = sys.argv[1]


class Bits:
    def __init__(self):
        self.b, self.acc, self.n = bytearray(), 0, 0

    def put(self, v, k):  # k bits of v, least significant first
        self.acc |= v << self.n
        self.n += k
        while self.n >= 8:
            self.b.append(self.acc & 0xff)
            self.acc >>= 8
            self.n -= 8

    def code(self, v, k):  # a tree code: its k bits, most significant first
        for i in range(k - 1, -1, -1):
            self.put((v >> i) & 1, 1)

    def done(self):
        if self.n:
            self.b.append(self.acc & 0xff)
        return bytes(self.b)


def implode(data, large, literals):
    trees = b""
    if literals:
        trees += bytes([15] + [0xF7] * 16)  # 256 literals, 8 bits each
    trees += bytes([3] + [0xF5] * 4) * 2  # 64 lengths, 64 distances, 6 bits each
    low = 7 if large else 6
    window = 8192 if large else 4096
    minlen = 3 if literals else 2
    b, i = Bits(), 0
    while i < len(data):
        best, bd = 0, 0
        for d in range(1, min(i, window) + 1, 1 if i < 600 else 7):
            n = 0
            while i + n < len(data) and n < minlen + 63 + 255 and data[i + n - d] == data[i + n]:
                n += 1
            if n > best:
                best, bd = n, d
        if best >= minlen:
            b.put(0, 1)
            dd = bd - 1
            b.put(dd & ((1 << low) - 1), low)
            b.code(63 - (dd >> low), 6)
            ln = best - minlen
            if ln >= 63:
                b.code(63 - 63, 6)
                b.put(ln - 63, 8)
            else:
                b.code(63 - ln, 6)
            i += best
        else:
            b.put(1, 1)
            if literals:
                b.code(255 - data[i], 8)
            else:
                b.put(data[i], 8)
            i += 1
    return trees + b.done()


def zipfile(path, members):
    body, central = bytearray(), bytearray()
    for name, data, flags, comp in members:
        crc = zlib.crc32(data)
        off = len(body)
        n = name.encode()
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 10, flags, 6, 0, 0x21, crc, len(comp), len(data), len(n), 0) + n + comp
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 10, 10, flags, 6, 0, 0x21, crc, len(comp), len(data), len(n), 0, 0, 0, 0, 0, off) + n
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(body), 0)
    open(path, "wb").write(bytes(body + central + eocd))


def payload(marker, n):
    text = b"".join(b"line %d of an imploded member\n" % k for k in range(n // 30 + 1))[:n]
    return text[: n // 2] + marker + text[n // 2 :]


cases = {}
for large in (0, 1):
    for lit in (0, 1):
        tag = f"w{4 << large}k-{'lit' if lit else 'raw'}"
        marker = f"IMPLODE-{tag.upper()}-Q".encode()
        data = payload(marker, 20000)
        flags = (2 if large else 0) | (4 if lit else 0)
        comp = implode(data, large, lit)
        cases[tag] = data
        zipfile(f"{out}/{tag}.zip", [(f"{tag}.txt", data, flags, comp)])
# A member whose stream is damaged after 9 KiB of output (ClamAV scans none of it), and one
# with two members, the second over 20 KiB.
d = payload(b"IMPLODE-DAMAGED-Q", 12000)
c = implode(d, 0, 0)
zipfile(f"{out}/damaged.zip", [("d.txt", d, 0, c[:-400] + bytes([0xff]) * 400)])
big = payload(b"IMPLODE-BIG-Q", 60000)
zipfile(f"{out}/two.zip", [("a.txt", cases["w4k-raw"], 0, implode(cases["w4k-raw"], 0, 0)), ("big.txt", big, 6, implode(big, 1, 1))])
cases["big"] = big
for name, data in cases.items():
    print(f"{hashlib.md5(data).hexdigest()}:{len(data)}:H.{name}")
