"""Writes the RTF documents of the differential test: argv[1] the output directory, argv[2]
an OLE2 compound file to embed. Prints hash signatures (MD5:size:name) of the payloads."""
import binascii, hashlib, sys

out, ole2_path = sys.argv[1], sys.argv[2]
ole2 = open(ole2_path, "rb").read()


def payload(marker, n=2500):
    body = (b"rtf payload bytes " * (n // 18 + 1))[:n]
    return body[: n // 2] + marker + body[n // 2 :]


def package(label, data):
    return (b"\x02\x00" + label + b"\x00C:\\docs\\" + label + b"\x00" + b"\x00\x00\x03\x00"
            + b"\x00\x00\x00\x00" + b"C:\\Temp\\" + label + b"\x00"
            + len(data).to_bytes(4, "little") + data + b"\x00\x00")


def ole1(native, cls=b"Package"):
    cls = cls + b"\x00"
    return (b"\x01\x05\x00\x00\x02\x00\x00\x00" + len(cls).to_bytes(4, "little") + cls
            + b"\x00" * 8 + len(native).to_bytes(4, "little") + native)


def hexlines(b, width=128):
    h = binascii.hexlify(b)
    return b"\r\n".join(h[i : i + width] for i in range(0, len(h), width))


def rtf(objs, tail=b"}\r\n"):
    body = b"{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times;}}\\pard hello \\par\r\n"
    for o in objs:
        body += o
    return body + tail


def obj(data_hex, word=b"\\objdata "):
    return (b"{\\object\\objemb\\objw100\\objh100{\\*\\objclass Package}{\\*" + word
            + b"\r\n" + data_hex + b"\r\n}}\r\n")


hashed = {}
p1 = payload(b"RTF-PKG-R1")
p2 = payload(b"RTF-BIG-R2", 20000)
p3 = payload(b"RTF-SECOND-R3")
p4 = payload(b"RTF-CUT-R4", 6000)
p5 = payload(b"RTF-LONGCLASS-R5")
p6 = payload(b"RTF-NEWLINE-R6")
p7 = payload(b"RTF-SPACED-R7")
hashed.update(pkg=p1, big=p2, second=p3)
docs = {
    "package.rtf": rtf([obj(hexlines(ole1(package(b"a.exe", p1))))]),
    "big.rtf": rtf([obj(hexlines(ole1(package(b"big.bin", p2))))]),
    "ole2.rtf": rtf([obj(hexlines(ole1(ole2, b"Word.Document.8")))]),
    "two.rtf": rtf([obj(hexlines(ole1(package(b"a.exe", p1)) + ole1(package(b"b.exe", p3))))]),
    "longclass.rtf": rtf([obj(hexlines(ole1(package(b"l.bin", p5), b"C" * 80)))]),
    "newline.rtf": rtf([obj(hexlines(ole1(package(b"n.bin", p6))), word=b"\\objdata")]),
    "spaced.rtf": rtf([obj(b" ".join(binascii.hexlify(bytes([c])) for c in ole1(package(b"s.bin", p7))))]),
}
for name, d in docs.items():
    open(f"{out}/{name}", "wb").write(d)
cut = rtf([obj(hexlines(ole1(package(b"cut.bin", p4))))])
open(f"{out}/cut.rtf", "wb").write(cut[: len(cut) // 2])
for name, data in hashed.items():
    print(f"{hashlib.md5(data).hexdigest()}:{len(data)}:H.{name}")
