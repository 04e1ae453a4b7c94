#!/usr/bin/env python3
"""Build archives for crates/detente/tests/differential.rs.

Reads a plan from stdin, one archive per line, fields separated by TAB:

    KIND <TAB> OUTPUT <TAB> MEMBER...

where each MEMBER is `ARCNAME=SOURCEPATH` (for single-stream formats such as
gz/bz2/xz/zst exactly one member is given and its ARCNAME is ignored).
Lines are executed in order, so an OUTPUT of one line may be a SOURCEPATH of a
later one (nesting).

KIND is one of:
  zip-stored zip-deflate zip-bzip2 zip-lzma   Python's zipfile
  zip-deflate64 zip-lzma7z                     7z a -tzip -mm=Deflate64 / -mm=LZMA
  zip-zstd                                    hand-written zip, method 93 (zstd CLI)
  tar                                         Python's tarfile (ustar)
  gz bz2 xz                                   Python's gzip/bz2/lzma
  zst                                         zstd CLI
Edge cases (crates/detente/tests/differential.rs, clamav_archive_edge_cases):
  gz-multi bz2-multi xz-multi                 one stream per member, concatenated
  tar-pax tar-gnu                             tar formats (use long member names)
  tar-links                                   members plus a symlink and a hard link entry
  zip-dd                                      deflate members with data descriptors
                                              (written to a non-seekable stream)
  zip64                                       deflate members with forced zip64 headers
  zip-nocd                                    a deflate zip cut before its central directory
  cat                                         the members' bytes concatenated (junk + archive)
  truncate                                    one member, cut to the fraction given as ARCNAME

Everything is deterministic: fixed timestamps, no user/group names.
"""
import bz2
import gzip
import io
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib

DATE = (2020, 1, 2, 3, 4, 6)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def zip_python(out, members, method):
    with zipfile.ZipFile(out, "w") as z:
        for arc, src in members:
            zi = zipfile.ZipInfo(arc, DATE)
            zi.compress_type = method
            zi.external_attr = 0o644 << 16
            z.writestr(zi, read(src))


def p7zip(out, members, switches, ext):
    """An archive made by p7zip's `7z a` with the given switches."""
    with tempfile.TemporaryDirectory() as d:
        names = []
        for arc, src in members:
            dst = os.path.join(d, arc)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
            os.utime(dst, (1577934246, 1577934246))
            names.append(arc)
        tmp_out = os.path.join(d, "__out." + ext)
        subprocess.run(
            ["7z", "a", "-bd", "-bso0", "-bsp0"] + switches + [tmp_out] + names,
            cwd=d,
            check=True,
        )
        shutil.copyfile(tmp_out, out)


def zip_7z(out, members, method):
    p7zip(out, members, ["-tzip", "-mm=" + method], "zip")


def sevenzip(out, members, switches):
    p7zip(out, members, ["-t7z"] + switches, "7z")


def cab(out, members, mszip):
    """A one-folder cabinet (MS-CAB), stored or MSZIP (each 32 KiB block a deflate stream
    after "CK", primed with the previous block as its dictionary)."""
    data = b"".join(read(src) for _, src in members)
    blocks = []
    prev = b""
    for i in range(0, max(len(data), 1), 32768):
        chunk = data[i : i + 32768]
        if mszip:
            c = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=prev) if prev else zlib.compressobj(9, zlib.DEFLATED, -15)
            comp = b"CK" + c.compress(chunk) + c.flush()
        else:
            comp = chunk
        blocks.append((comp, len(chunk)))
        prev = chunk
    files = b""
    off = 0
    for arc, src in members:
        n = len(read(src))
        files += struct.pack("<IIHHHH", n, off, 0, 0x5021, 0x6000, 0x20) + arc.replace("/", "\\").encode() + b"\0"
        off += n
    header_len = 36
    folder_len = 8
    first_file = header_len + folder_len
    first_data = first_file + len(files)
    body = b"".join(struct.pack("<IHH", 0, len(c), u) + c for c, u in blocks)
    total = first_data + len(body)
    header = b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, total, 0, first_file, 0, 3, 1, 1, len(members), 0, 0x1234, 0)
    folder = struct.pack("<IHH", first_data, len(blocks), 1 if mszip else 0)
    with open(out, "wb") as f:
        f.write(header + folder + files + body)


def mail(out, members, how):
    """A mail message carrying the members: `mixed` (a multipart with base64 and
    quoted-printable attachments and a nested message/rfc822 holding the last member),
    `uu` (a single part with a uuencoded block after some text)."""
    from email.message import EmailMessage
    from email.policy import SMTP

    if how == "uu":
        import binascii

        data = read(members[0][1])
        lines = [b"begin 644 " + members[0][0].encode()]
        for i in range(0, len(data), 45):
            lines.append(binascii.b2a_uu(data[i : i + 45]).rstrip(b"\n"))
        lines += [b"`", b"end"]
        body = b"\n".join(lines) + b"\n"
        head = b"From: a@example.com\nTo: b@example.com\nSubject: uu\nMIME-Version: 1.0\n"
        head += b"Content-Type: text/plain\n\nSee the file below.\n\n"
        with open(out, "wb") as f:
            f.write(head + body)
        return
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com"
    msg["Subject"] = "attachments"
    msg.set_content("Files attached.\n")
    for i, (arc, src) in enumerate(members[:-1]):
        cte = "quoted-printable" if i % 2 else "base64"
        msg.add_attachment(read(src), maintype="application", subtype="octet-stream", filename=arc, cte=cte)
    inner = EmailMessage(policy=SMTP)
    inner["From"] = "c@example.com"
    inner["Subject"] = "forwarded"
    inner.set_content("Inner.\n")
    arc, src = members[-1]
    inner.add_attachment(read(src), maintype="application", subtype="octet-stream", filename=arc)
    msg.add_attachment(inner)
    with open(out, "wb") as f:
        f.write(msg.as_bytes())


def tnef(out, members):
    """A TNEF file: the version and a message class at message level, then each member as an
    attachment (rendering data, title, data)."""

    def attr(level, kind, tag, data):
        csum = sum(data) & 0xFFFF
        return struct.pack("<BII", level, (kind << 16) | tag, len(data)) + data + struct.pack("<H", csum)

    body = struct.pack("<IH", 0x223E9F78, 0x1234)
    body += attr(1, 0x0008, 0x9006, struct.pack("<I", 0x00010000))
    body += attr(1, 0x0007, 0x8008, b"IPM.Microsoft Mail.Note\0")
    for arc, src in members:
        body += attr(2, 0x0002, 0x9002, b"\xff\xff\xff\xff" + bytes(10))
        body += attr(2, 0x0001, 0x8010, arc.encode() + b"\0")
        body += attr(2, 0x0006, 0x800F, read(src))
    with open(out, "wb") as f:
        f.write(body)


def zstd_compress(data):
    r = subprocess.run(["zstd", "-q", "-c", "-19"], input=data, stdout=subprocess.PIPE, check=True)
    return r.stdout


def zip_zstd(out, members):
    """A minimal zip writer with compression method 93 (zstd)."""
    dos_time = (DATE[3] << 11) | (DATE[4] << 5) | (DATE[5] // 2)
    dos_date = ((DATE[0] - 1980) << 9) | (DATE[1] << 5) | DATE[2]
    body = io.BytesIO()
    central = io.BytesIO()
    for arc, src in members:
        data = read(src)
        comp = zstd_compress(data)
        crc = zlib.crc32(data) & 0xFFFFFFFF
        name = arc.encode()
        off = body.tell()
        body.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 63, 0, 93, dos_time, dos_date,
                               crc, len(comp), len(data), len(name), 0))
        body.write(name)
        body.write(comp)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 63, 63, 0, 93, dos_time,
                                  dos_date, crc, len(comp), len(data), len(name), 0, 0, 0, 0,
                                  0o644 << 16, off))
        central.write(name)
    cd = central.getvalue()
    cd_off = body.tell()
    n = len(members)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(cd), cd_off, 0)
    with open(out, "wb") as f:
        f.write(body.getvalue() + cd + eocd)


def tar(out, members, fmt=tarfile.USTAR_FORMAT, links=False):
    with tarfile.open(out, "w", format=fmt) as t:
        for arc, src in members:
            data = read(src)
            ti = tarfile.TarInfo(arc)
            ti.size = len(data)
            ti.mtime = 1577934246
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
        if links and members:
            first = members[0][0]
            ln = tarfile.TarInfo("link-to-first")
            ln.type = tarfile.SYMTYPE
            ln.linkname = first
            ln.mtime = 1577934246
            t.addfile(ln)
            hl = tarfile.TarInfo("hardlink-to-first")
            hl.type = tarfile.LNKTYPE
            hl.linkname = first
            hl.mtime = 1577934246
            t.addfile(hl)


class Unseekable(io.RawIOBase):
    """A write-only, non-seekable stream: makes zipfile write data descriptors."""

    def __init__(self):
        self.buf = io.BytesIO()

    def writable(self):
        return True

    def seekable(self):
        return False

    def write(self, b):
        return self.buf.write(b)


def zip_dd(out, members):
    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, src in members:
            zi = zipfile.ZipInfo(arc, DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            with z.open(zi, "w") as f:
                f.write(read(src))
    with open(out, "wb") as f:
        f.write(sink.buf.getvalue())


def zip64(out, members):
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, src in members:
            zi = zipfile.ZipInfo(arc, DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            with z.open(zi, "w", force_zip64=True) as f:
                f.write(read(src))


def zip_nocd(out, members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, src in members:
            zi = zipfile.ZipInfo(arc, DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, read(src))
    data = buf.getvalue()
    # end of central directory record (no comment): the central directory's offset at +16
    cd_offset = struct.unpack("<I", data[-22 + 16 : -22 + 20])[0]
    with open(out, "wb") as f:
        f.write(data[:cd_offset])


def single(members):
    if len(members) != 1:
        raise SystemExit("single-stream format needs exactly one member")
    return read(members[0][1])


def main():
    for lineno, line in enumerate(sys.stdin, 1):
        line = line.rstrip("\n")
        if not line:
            continue
        kind, out, *rest = line.split("\t")
        members = []
        for m in rest:
            arc, _, src = m.partition("=")
            members.append((arc, src))
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        if kind == "zip-stored":
            zip_python(out, members, zipfile.ZIP_STORED)
        elif kind == "zip-deflate":
            zip_python(out, members, zipfile.ZIP_DEFLATED)
        elif kind == "zip-bzip2":
            zip_python(out, members, zipfile.ZIP_BZIP2)
        elif kind == "zip-lzma":
            zip_python(out, members, zipfile.ZIP_LZMA)
        elif kind == "zip-deflate64":
            zip_7z(out, members, "Deflate64")
        elif kind == "zip-lzma7z":
            zip_7z(out, members, "LZMA")
        elif kind == "7z":
            sevenzip(out, members, ["-ms=off", "-m0=LZMA"])
        elif kind == "7z-solid":
            sevenzip(out, members, ["-ms=on", "-m0=LZMA2"])
        elif kind == "7z-bcj-ppmd":
            sevenzip(out, members, ["-ms=on", "-m0=BCJ", "-m1=PPMd"])
        elif kind == "7z-bzip2":
            sevenzip(out, members, ["-ms=off", "-m0=BZip2"])
        elif kind == "tnef":
            tnef(out, members)
        elif kind == "mail-mixed":
            mail(out, members, "mixed")
        elif kind == "mail-uu":
            mail(out, members, "uu")
        elif kind == "cab-stored":
            cab(out, members, False)
        elif kind == "cab-mszip":
            cab(out, members, True)
        elif kind == "zip-zstd":
            zip_zstd(out, members)
        elif kind == "tar":
            tar(out, members)
        elif kind == "gz":
            with open(out, "wb") as f:
                f.write(gzip.compress(single(members), mtime=0))
        elif kind == "bz2":
            with open(out, "wb") as f:
                f.write(bz2.compress(single(members)))
        elif kind == "xz":
            with open(out, "wb") as f:
                f.write(lzma.compress(single(members), format=lzma.FORMAT_XZ))
        elif kind == "zst":
            with open(out, "wb") as f:
                f.write(zstd_compress(single(members)))
        elif kind == "gz-multi":
            with open(out, "wb") as f:
                for _, src in members:
                    f.write(gzip.compress(read(src), mtime=0))
        elif kind == "bz2-multi":
            with open(out, "wb") as f:
                for _, src in members:
                    f.write(bz2.compress(read(src)))
        elif kind == "xz-multi":
            with open(out, "wb") as f:
                for _, src in members:
                    f.write(lzma.compress(read(src), format=lzma.FORMAT_XZ))
        elif kind == "tar-pax":
            tar(out, members, tarfile.PAX_FORMAT)
        elif kind == "tar-gnu":
            tar(out, members, tarfile.GNU_FORMAT)
        elif kind == "tar-links":
            tar(out, members, links=True)
        elif kind == "zip-dd":
            zip_dd(out, members)
        elif kind == "zip64":
            zip64(out, members)
        elif kind == "zip-nocd":
            zip_nocd(out, members)
        elif kind == "cat":
            with open(out, "wb") as f:
                for _, src in members:
                    f.write(read(src))
        elif kind == "truncate":
            frac = float(members[0][0])
            data = read(members[0][1])
            with open(out, "wb") as f:
                f.write(data[: int(len(data) * frac)])
        else:
            raise SystemExit(f"line {lineno}: unknown kind {kind!r}")


if __name__ == "__main__":
    main()
