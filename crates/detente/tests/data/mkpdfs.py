"""Writes the PDF documents of the differential test (argument: output directory).

Each document is built by hand, object by object, so that every stream, filter and length
case is exactly as described; offsets in the xref table are real."""
import base64, binascii, hashlib, sys, zlib

out = sys.argv[1]


def rl(data):
    # RunLength: literal runs of at most 128 bytes, then the end-of-data byte.
    b = bytearray()
    for i in range(0, len(data), 100):
        chunk = data[i:i + 100]
        b.append(len(chunk) - 1)
        b += chunk
    b.append(128)
    return bytes(b)


def lzw(data):
    # LZW as PDF writes it (EarlyChange 1, as libtiff: the width grows once code 2^n is
    # assigned, which the decoder, one entry behind, sees one code early), MSB first.
    table = {bytes([i]): i for i in range(256)}
    codes, width, w = [256], 9, b""
    widths = [9]
    nxt = 258
    for c in data:
        wc = w + bytes([c])
        if wc in table:
            w = wc
            continue
        codes.append(table[w]); widths.append(width)
        table[wc] = nxt
        nxt += 1
        if nxt >= (1 << width) and width < 12:
            width += 1
        w = bytes([c])
    codes.append(table[w]); widths.append(width)
    codes.append(257); widths.append(width)
    acc, bits, b = 0, 0, bytearray()
    for c, wd in zip(codes, widths):
        acc = (acc << wd) | c
        bits += wd
        while bits >= 8:
            b.append((acc >> (bits - 8)) & 0xff)
            bits -= 8
    if bits:
        b.append((acc << (8 - bits)) & 0xff)
    return bytes(b)


def payload(marker, n=3000):
    body = (b"pdf payload text " * (n // 17 + 1))[:n]
    mid = n // 2
    return body[:mid] + marker + body[mid:]


def doc(name, objects, trailer=True):
    """objects: list of bytes, each the text between 'N 0 obj' and 'endobj'."""
    b = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offs = []
    for i, o in enumerate(objects, 1):
        offs.append(len(b))
        b += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    if trailer:
        x = len(b)
        b += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        for o in offs:
            b += b"%010d 00000 n \n" % o
        b += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, x)
    open(f"{out}/{name}", "wb").write(b)


def stream(dict_entries, data, length=None, eol=b"\n"):
    n = len(data) if length is None else length
    return b"<< " + dict_entries + b" /Length " + (n if isinstance(n, bytes) else b"%d" % n) + b" >>\nstream" + eol + data + b"\nendstream"


cat = b"<< /Type /Catalog /Pages 2 0 R >>"
pages = b"<< /Type /Pages /Count 0 /Kids [] >>"
hashed = {}


def keep(name, data):
    hashed[name] = data
    return data


docs = {
    "plain.pdf": [cat, pages, stream(b"", payload(b"PDF-PLAIN-M1"))],
    "flate.pdf": [cat, pages, stream(b"/Filter /FlateDecode", zlib.compress(keep("flate", payload(b"PDF-FLATE-M2"))))],
    "ahx-flate.pdf": [cat, pages, stream(b"/Filter [/ASCIIHexDecode /FlateDecode]", binascii.hexlify(zlib.compress(payload(b"PDF-AHX-M3"))) + b">")],
    "a85.pdf": [cat, pages, stream(b"/Filter /ASCII85Decode", base64.a85encode(keep("a85", payload(b"PDF-A85-M4")), adobe=True)[2:])],
    "lzw.pdf": [cat, pages, stream(b"/Filter /LZWDecode", lzw(payload(b"PDF-LZW-M5")))],
    "lzw-embedded.pdf": [cat, pages, stream(b"/Type /EmbeddedFile /Filter /LZWDecode", lzw(keep("lzw", payload(b"PDF-LZWEMB-M6"))))],
    "rl-embedded.pdf": [cat, pages, stream(b"/Type /EmbeddedFile /Filter /RunLengthDecode", rl(payload(b"PDF-RL-M7")))],
    "short-length.pdf": [cat, pages, stream(b"/Filter /FlateDecode", zlib.compress(payload(b"PDF-SHORT-M8")), length=10)],
    "indirect-length.pdf": [cat, pages, stream(b"/Filter /FlateDecode", zlib.compress(payload(b"PDF-INDIRECT-M9")), length=b"4 0 R"), b"%d" % len(zlib.compress(payload(b"PDF-INDIRECT-M9")))],
    "image.pdf": [cat, pages, stream(b"/Type /XObject /Subtype /Image /Width 1 /Height 1", payload(b"PDF-IMAGE-M10"))],
    "unknown-filter.pdf": [cat, pages, stream(b"/Filter [/Foo /FlateDecode]", zlib.compress(payload(b"PDF-UNKNOWN-M11")))],
    "dct.pdf": [cat, pages, stream(b"/Filter /DCTDecode", payload(b"PDF-DCT-M12"))],
    "length1.pdf": [cat, pages, stream(b"/Length1 7 /Filter /FlateDecode", zlib.compress(payload(b"PDF-LENGTH1-M14")))],
    "crlf.pdf": [cat, pages, stream(b"/Filter /FlateDecode", zlib.compress(keep("crlf", payload(b"PDF-CRLF-M15"))), eol=b"\r\n")],
    "two-streams.pdf": [cat, pages, stream(b"/Filter /FlateDecode", zlib.compress(payload(b"PDF-FIRST-M16"))), stream(b"/Filter /FlateDecode", zlib.compress(payload(b"PDF-SECOND-M17", 40000)))],
}
for name, objs in docs.items():
    doc(name, objs)
# Cut short: no endstream, no endobj, no trailer.
full = b"%PDF-1.4\n1 0 obj\n<< /Filter /FlateDecode /Length 9999 >>\nstream\n" + zlib.compress(payload(b"PDF-TRUNC-M13"))
open(f"{out}/truncated.pdf", "wb").write(full)
for name, data in hashed.items():
    print(f"{hashlib.md5(data).hexdigest()}:{len(data)}:H.{name}")
