"""Writes files with other files embedded in them, for the differential test: argv[1] the
output directory, argv[2] a small PE executable. A PNG-like host with two zips (two entries
each) appended, the same with two cabinets, a cabinet inside text, and the executable with
two copies of itself appended. Prints hash signatures (MD5:size:name) of the payloads."""
import hashlib, io, os, sys, zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mkarchives import cab  # noqa: E402

out, exe_path = sys.argv[1], sys.argv[2]
exe = open(exe_path, "rb").read()
png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def payload(tag, n=1500):
    return (b"embedded payload %s " % tag) * (n // 20)


def zbytes(entries, method=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return b.getvalue()


def cbytes(entries, mszip):
    paths = []
    for i, (name, data) in enumerate(entries):
        p = os.path.join(out, f".cabsrc{i}")
        open(p, "wb").write(data)
        paths.append((name, p))
    target = os.path.join(out, ".cab")
    cab(target, paths, mszip)
    b = open(target, "rb").read()
    for _, p in paths:
        os.remove(p)
    os.remove(target)
    return b


p = {f"{a}-{b}": payload(b"EMB-%d-%d" % (a, b)) for a in (1, 2) for b in (1, 2)}
open(f"{out}/zips.png", "wb").write(
    png + zbytes([("a.txt", p["1-1"]), ("b.txt", p["1-2"])]) + b"\0" * 33
    + zbytes([("c.txt", p["2-1"]), ("d.txt", p["2-2"])], zipfile.ZIP_STORED))
open(f"{out}/cabs.png", "wb").write(
    png + cbytes([("a.txt", p["1-1"]), ("b.txt", p["1-2"])], False) + b"\xff" * 17
    + cbytes([("c.txt", p["2-1"]), ("d.txt", p["2-2"])], True))
open(f"{out}/cab-in-text.txt", "wb").write(
    b"some text before\n" * 20 + cbytes([("e.txt", payload(b"EMB-TEXT"))], True) + b"\nafter\n")
open(f"{out}/exes.exe", "wb").write(exe + b"\0" * 100 + exe + b"\0" * 50 + exe)
for name, data in p.items():
    print(f"{hashlib.md5(data).hexdigest()}:{len(data)}:H.{name}")
print(f"{hashlib.md5(exe).hexdigest()}:{len(exe)}:H.exe")
tail = exe + b"\0" * 50 + exe
print(f"{hashlib.md5(tail).hexdigest()}:{len(tail)}:H.exe-tail")
