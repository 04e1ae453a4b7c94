//! UPX-packed executables against clamscan. No UPX is packaged here, so the files are packed in
//! this test: an NRV2B, NRV2D and NRV2E compressor (the bit formats UPX's loaders decode) and a
//! PE writer that lays out what ClamAV's unpacker looks for (an empty UPX0 section, the
//! compressed UPX1, a loader at the entry point). Each unpacking path is covered: the original
//! header found through the loader's import pointer, through the fallback scan for that
//! pointer, by a scan for a PE header, a header forged when none is found, a rebuild given up
//! (a section out of bounds), a loader naming the wrong method, a skewed stream, and a damaged
//! stream (not unpacked). The rebuilt files clamscan writes out (`--leave-temps`) give hash
//! signatures: detente reports them only if it rebuilds the same bytes. Markers inside the
//! packed sections are body signatures; clam.exe inside one is found as an executable embedded
//! in the rebuilt file, as in clam-upx.exe.

use std::collections::HashMap;

use super::*;

/// The three methods, in the order of ClamAV's `UPX_NRV2B`, `2D`, `2E`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Nrv {
    B,
    D,
    E,
}

/// UPX's bit stream: 32-bit little-endian words, most significant bit first, each word's slot
/// taken in the byte stream when its first bit is written.
struct BitWriter {
    out: Vec<u8>,
    slot: usize,
    word: u32,
    used: u32,
    started: bool,
}

impl BitWriter {
    fn new() -> Self {
        BitWriter {
            out: Vec::new(),
            slot: 0,
            word: 0,
            used: 0,
            started: false,
        }
    }

    fn bit(&mut self, b: u32) {
        if !self.started || self.used == 32 {
            self.flush();
            self.slot = self.out.len();
            self.out.extend_from_slice(&[0; 4]);
            self.word = 0;
            self.used = 0;
            self.started = true;
        }
        self.word |= (b & 1) << (31 - self.used);
        self.used += 1;
    }

    fn flush(&mut self) {
        if self.started {
            self.out[self.slot..self.slot + 4].copy_from_slice(&self.word.to_le_bytes());
        }
    }

    fn byte(&mut self, b: u8) {
        self.out.push(b);
    }

    /// NRV2B's gamma code of `v >= 2`: each digit after the leading one, then a stop bit.
    fn gamma_b(&mut self, v: u32) {
        let n = 32 - v.leading_zeros();
        for i in (0..n - 1).rev() {
            self.bit((v >> i) & 1);
            self.bit(u32::from(i == 0));
        }
    }

    /// NRV2D/2E's offset code of `v >= 2`. Their loader reads a digit and a stop bit; when it
    /// does not stop, `(v - 1) * 2` plus one more digit, and on. Built backwards from `v`.
    fn gamma_d(&mut self, v: u32) {
        let mut rev = vec![(v & 1, None)];
        let mut a = v >> 1;
        while a != 1 {
            let x = (a >> 1) + 1;
            rev.push((x & 1, Some(a & 1)));
            a = x >> 1;
        }
        for (d, more) in rev.into_iter().rev() {
            self.bit(d);
            match more {
                Some(d2) => {
                    self.bit(0);
                    self.bit(d2);
                }
                None => self.bit(1),
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.flush();
        self.out
    }
}

/// The rest of a length code, after its first bit.
type LengthTail = Box<dyn Fn(&mut BitWriter)>;

/// Compresses `data` greedily with matches found through a hash of three bytes.
fn nrv_compress(m: Nrv, data: &[u8]) -> Vec<u8> {
    let mut w = BitWriter::new();
    let mut heads: HashMap<[u8; 3], Vec<usize>> = HashMap::new();
    let mut i = 0;
    let mut last_dist = 0usize;
    let far = if m == Nrv::B { 0xd00 } else { 0x500 };
    while i < data.len() {
        let mut best = (0usize, 0usize);
        if i + 3 <= data.len() {
            let key = [data[i], data[i + 1], data[i + 2]];
            if let Some(list) = heads.get(&key) {
                for &p in list.iter().rev().take(24) {
                    let mut l = 0;
                    while i + l < data.len() && data[p + l] == data[i + l] && l < 4000 {
                        l += 1;
                    }
                    if l > best.0 {
                        best = (l, i - p);
                    }
                }
            }
        }
        let (len, dist) = best;
        let min = 3 + usize::from(dist > far);
        if len >= min {
            w.bit(0);
            let extra = usize::from(dist > far);
            let reuse = dist == last_dist;
            // The length code: NRV2B/2D take `len - 1 - extra`, NRV2E `len - 2 - extra`.
            match m {
                Nrv::B => {
                    if reuse {
                        w.gamma_b(2);
                    } else {
                        let x = (dist - 1) as u32;
                        w.gamma_b((x >> 8) + 3);
                        w.byte(x as u8);
                    }
                    let v = (len - 1 - extra) as u32;
                    if v < 4 {
                        w.bit(v >> 1);
                        w.bit(v & 1);
                    } else {
                        w.bit(0);
                        w.bit(0);
                        w.gamma_b(v - 2);
                    }
                }
                Nrv::D | Nrv::E => {
                    // The first length bit, which a new offset carries in its low bit.
                    let (first, rest): (u32, LengthTail) = if m == Nrv::D {
                        let v = (len - 1 - extra) as u32;
                        if v < 4 {
                            (v >> 1, Box::new(move |w: &mut BitWriter| w.bit(v & 1)))
                        } else {
                            (
                                0,
                                Box::new(move |w: &mut BitWriter| {
                                    w.bit(0);
                                    w.gamma_b(v - 2);
                                }),
                            )
                        }
                    } else {
                        let v = (len - 2 - extra) as u32;
                        if v <= 1 {
                            (1, Box::new(move |w: &mut BitWriter| w.bit(v)))
                        } else if v <= 3 {
                            (
                                0,
                                Box::new(move |w: &mut BitWriter| {
                                    w.bit(1);
                                    w.bit(v - 2);
                                }),
                            )
                        } else {
                            (
                                0,
                                Box::new(move |w: &mut BitWriter| {
                                    w.bit(0);
                                    w.gamma_b(v - 2);
                                }),
                            )
                        }
                    };
                    if reuse {
                        w.gamma_d(2);
                        w.bit(first);
                    } else {
                        let x = (2 * (dist - 1) + (1 - first as usize)) as u32;
                        w.gamma_d((x >> 8) + 3);
                        w.byte(x as u8);
                    }
                    rest(&mut w);
                }
            }
            for k in i..i + len {
                if k + 3 <= data.len() {
                    heads
                        .entry([data[k], data[k + 1], data[k + 2]])
                        .or_default()
                        .push(k);
                }
            }
            last_dist = dist;
            i += len;
        } else {
            w.bit(1);
            w.byte(data[i]);
            if i + 3 <= data.len() {
                heads
                    .entry([data[i], data[i + 1], data[i + 2]])
                    .or_default()
                    .push(i);
            }
            i += 1;
        }
    }
    // The end mark: an offset code of 0x1000002 and 0xff.
    w.bit(0);
    match m {
        Nrv::B => w.gamma_b(0x100_0002),
        _ => w.gamma_d(0x100_0002),
    }
    w.byte(0xff);
    w.finish()
}

const BASE: u32 = 0x40_0000;
const UPX0: u32 = 0x1000;

fn put32(d: &mut [u8], at: usize, v: u32) {
    d[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// A PE header (signature, file header, PE32 optional header) with these sections
/// (`(name, rva, vsize, raw, rsize)`), at `at` in `d`.
fn pe_header(d: &mut [u8], at: usize, ep: u32, sections: &[(&[u8], u32, u32, u32, u32)]) {
    d[at..at + 4].copy_from_slice(b"PE\0\0");
    d[at + 4..at + 6].copy_from_slice(&0x14cu16.to_le_bytes());
    d[at + 6..at + 8].copy_from_slice(&(sections.len() as u16).to_le_bytes());
    d[at + 20..at + 22].copy_from_slice(&0xe0u16.to_le_bytes());
    d[at + 22..at + 24].copy_from_slice(&0x10fu16.to_le_bytes());
    let o = at + 24;
    d[o..o + 2].copy_from_slice(&0x10bu16.to_le_bytes());
    put32(d, o + 16, ep);
    put32(d, o + 28, BASE);
    put32(d, o + 32, 0x1000);
    put32(d, o + 36, 0x200);
    d[o + 40..o + 42].copy_from_slice(&4u16.to_le_bytes());
    d[o + 48..o + 50].copy_from_slice(&4u16.to_le_bytes());
    let end = sections.iter().map(|s| s.1 + s.2).max().unwrap_or(0x1000);
    put32(d, o + 56, end);
    put32(d, o + 60, 0x400);
    d[o + 68..o + 70].copy_from_slice(&2u16.to_le_bytes());
    put32(d, o + 72, 0x10_0000);
    put32(d, o + 76, 0x1000);
    put32(d, o + 80, 0x10_0000);
    put32(d, o + 84, 0x1000);
    put32(d, o + 92, 16);
    let t = o + 0xe0;
    for (k, (name, rva, vsz, raw, rsz)) in sections.iter().enumerate() {
        let s = t + 40 * k;
        d[s..s + name.len()].copy_from_slice(name);
        put32(d, s + 8, *vsz);
        put32(d, s + 12, *rva);
        put32(d, s + 16, *rsz);
        put32(d, s + 20, *raw);
        put32(d, s + 36, 0xe000_0060);
    }
}

/// How the loader and the packed image are laid out.
#[derive(Clone, Copy)]
struct Layout {
    method: Nrv,
    /// The method the loader's code names (ClamAV's preferred decompressor).
    loader: Option<Nrv>,
    /// Where the original header is found: 0 via the loader's import pointer at ClamAV's
    /// magic offset, 1 via the fallback scan for that pointer, 2 by a scan for a PE header
    /// (no pointer), 3 no header at all (forged).
    header: u8,
    /// A section of the original header out of the unpacked image.
    out_of_bounds: bool,
    /// Bytes of padding before the compressed stream, named by the loader's `mov esi`.
    skew: u32,
    /// The stream cut short.
    damaged: bool,
}

const LOADER_SIZE: usize = 0x200;

/// A packed executable whose unpacked image (at RVA [`UPX0`]) holds `sections` (each placed
/// at the next 4 KiB boundary), followed by the original header.
fn packed(l: Layout, sections: &[&[u8]]) -> Vec<u8> {
    let mut image = Vec::new();
    let mut table: Vec<(&[u8], u32, u32, u32, u32)> = Vec::new();
    for (k, s) in sections.iter().enumerate() {
        let rva = UPX0 + image.len() as u32;
        let vsz = (s.len() as u32).div_ceil(0x1000) * 0x1000;
        table.push((
            [&b".text\0\0\0"[..], b".data\0\0\0", b".rsrc\0\0\0"][k % 3],
            rva,
            vsz,
            0,
            0,
        ));
        image.extend_from_slice(s);
        image.resize(image.len().div_ceil(0x1000) * 0x1000, 0);
    }
    if l.out_of_bounds {
        table[0].2 += 0x10_0000;
    }
    let imports = image.len() as u32;
    if l.header != 3 {
        image.extend_from_slice(&[0; 4]);
        let at = image.len();
        image.resize(at + 0xf8 + 40 * table.len(), 0);
        pe_header(&mut image, at, UPX0, &table);
        image.extend_from_slice(&[0; 64]);
    }
    let mut stream = nrv_compress(l.method, &image);
    if l.damaged {
        stream.truncate(stream.len() / 2);
    }
    let vsz0 = (image.len() as u32).div_ceil(0x1000) * 0x1000;
    let mut upx1 = vec![0x90u8; l.skew as usize];
    upx1.extend_from_slice(&stream);
    upx1.resize(upx1.len().div_ceil(16) * 16, 0);
    let stub = upx1.len();
    let mut loader = vec![0u8; LOADER_SIZE];
    let upx1_rva = UPX0 + vsz0;
    loader[0] = 0x60;
    loader[1] = 0xbe;
    put32(&mut loader, 2, BASE + upx1_rva + l.skew);
    let (pattern, magic): (&[u8], u32) = match l.loader {
        Some(Nrv::B) => (
            b"\x11\xdb\x11\xc9\x01\xdb\x75\x07\x8b\x1e\x83\xee\xfc",
            0x108,
        ),
        Some(Nrv::D) => (
            b"\x83\xf0\xff\x74\x78\xd1\xf8\x89\xc5\xeb\x0b\x01\xdb",
            0x11c,
        ),
        Some(Nrv::E) => (
            b"\xeb\x52\x31\xc9\x83\xe8\x03\x72\x11\xc1\xe0\x08\x8a",
            0x128,
        ),
        None => (
            b"\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90\x90",
            0x108,
        ),
    };
    loader[0x69..0x69 + 13].copy_from_slice(pattern);
    match l.header {
        0 => {
            let m = magic as usize - 2;
            loader[m] = 0x8d;
            loader[m + 1] = 0xbe;
            put32(&mut loader, m + 2, imports);
        }
        1 => {
            loader[0x170] = 0x8d;
            loader[0x171] = 0xbe;
            put32(&mut loader, 0x172, imports);
            loader[0x176] = 0x8b;
            loader[0x177] = 0x07;
        }
        _ => {}
    }
    upx1.extend_from_slice(&loader);
    let rsz1 = (upx1.len() as u32).div_ceil(0x200) * 0x200;
    upx1.resize(rsz1 as usize, 0);
    let vsz1 = rsz1.div_ceil(0x1000) * 0x1000;
    let mut out = vec![0u8; 0x400];
    out[0] = b'M';
    out[1] = b'Z';
    put32(&mut out, 0x3c, 0x80);
    let ep = upx1_rva + stub as u32;
    pe_header(
        &mut out,
        0x80,
        ep,
        &[
            (b"UPX0\0\0\0\0", UPX0, vsz0, 0x400, 0),
            (b"UPX1\0\0\0\0", upx1_rva, vsz1, 0x400, rsz1),
        ],
    );
    out.extend_from_slice(&upx1);
    out
}

fn rebuilt_hashes(tmp: &Path, root: &Path, db: &Path) -> String {
    let temps = tmp.join("clamtemps");
    fs::create_dir_all(&temps).unwrap();
    let o = run(Command::new("clamscan")
        .args(["--allmatch", "--no-summary", "-r", "--leave-temps"])
        .arg(format!("--tempdir={}", temps.display()))
        .arg("-d")
        .arg(db)
        .arg(root));
    assert!(
        o.code == 0 || o.code == 1,
        "clamscan failed{}",
        describe(&o)
    );
    let mut hdb = String::new();
    let mut seen = std::collections::BTreeSet::new();
    for e in files_under(&temps) {
        let d = fs::read(&e).unwrap();
        if d.starts_with(b"MZ") && find(&d, b"This file was created by ClamAV").is_some() {
            let md5 = digest("md5sum", &e);
            if seen.insert(md5.clone()) {
                writeln!(hdb, "{md5}:{}:Rebuilt.{}", d.len(), seen.len() - 1).unwrap();
            }
        }
    }
    hdb
}

#[test]
fn clamav_upx_packed_executables() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let mut rng = Rng::new(0x555058);
    let clam = fs::read(Path::new(TESTFILES).join("clam.exe")).unwrap();
    let mut text = Vec::new();
    for _ in 0..3000 {
        text.extend_from_slice(
            [
                &b"push ebp "[..],
                b"mov ebp, esp ",
                b"UPX-MARKER-CODE-Q ",
                b"ret ",
            ][rng.below(4)],
        );
    }
    // clam.exe ends the section, and so the rebuilt file: found there as an embedded
    // executable, it is scanned to the end of the file.
    let mut data = rng.bytes(3 * 4096 - clam.len());
    data.extend_from_slice(&clam);
    let small = b"a small section, UPX-MARKER-SMALL-Q".to_vec();
    let base = Layout {
        method: Nrv::B,
        loader: Some(Nrv::B),
        header: 0,
        out_of_bounds: false,
        skew: 0,
        damaged: false,
    };
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for m in [Nrv::B, Nrv::D, Nrv::E] {
        // Each method's images differ, so that each rebuilt file has a hash of its own.
        let mut small = small.clone();
        small.extend_from_slice(format!(" packed with {m:?}").as_bytes());
        for header in 0..4u8 {
            let l = Layout {
                method: m,
                loader: Some(m),
                header,
                ..base
            };
            // Without a header (3), no executable inside either: ClamAV forges one.
            let sections: Vec<&[u8]> = if header == 3 {
                vec![&text, &small]
            } else {
                vec![&text, &small, &data]
            };
            files.push((format!("{m:?}-h{header}.exe"), packed(l, &sections)));
        }
        files.push((
            format!("{m:?}-oob.exe"),
            packed(
                Layout {
                    method: m,
                    loader: Some(m),
                    out_of_bounds: true,
                    ..base
                },
                &[&text, &small],
            ),
        ));
        files.push((
            format!("{m:?}-skew.exe"),
            packed(
                Layout {
                    method: m,
                    loader: Some(m),
                    skew: 0x40,
                    ..base
                },
                &[&small, &data],
            ),
        ));
        files.push((
            format!("{m:?}-damaged.exe"),
            packed(
                Layout {
                    method: m,
                    loader: Some(m),
                    damaged: true,
                    ..base
                },
                &[&text, &data],
            ),
        ));
    }
    files.push((
        "wrong-loader.exe".into(),
        packed(
            Layout {
                method: Nrv::E,
                loader: Some(Nrv::B),
                ..base
            },
            &[&text, &small],
        ),
    ));
    files.push((
        "no-loader.exe".into(),
        packed(
            Layout {
                method: Nrv::D,
                loader: None,
                ..base
            },
            &[&small, &data],
        ),
    ));
    for (name, d) in &files {
        fs::write(root.join(name), d).unwrap();
    }
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    let ndb = ["UPX-MARKER-CODE-Q", "UPX-MARKER-SMALL-Q"]
        .iter()
        .map(|m| format!("T.{m}:0:*:{}\n", hex(m.as_bytes())))
        .collect::<String>();
    fs::write(db.join("t.ndb"), &ndb).unwrap();
    let clam_md5 = digest("md5sum", &Path::new(TESTFILES).join("clam.exe"));
    fs::write(
        db.join("clam.hdb"),
        format!("{clam_md5}:{}:ClamExe\n", clam.len()),
    )
    .unwrap();
    let hdb = rebuilt_hashes(tmp.path(), &root, &db);
    assert!(
        hdb.lines().count() >= 10,
        "harness: clamscan rebuilt only {} distinct files:\n{hdb}",
        hdb.lines().count()
    );
    fs::write(db.join("rebuilt.hdb"), &hdb).unwrap();
    let oracle = compare_with_clamscan("UPX", &db, &root, &["--allmatch"], &["--allmatch"]);
    expect_oracle(
        &oracle,
        true,
        &[
            ("B-h0.exe", "ClamExe"),
            ("D-h2.exe", "ClamExe"),
            ("E-h1.exe", "ClamExe"),
            ("E-skew.exe", "ClamExe"),
            ("no-loader.exe", "ClamExe"),
        ],
    );
    let rebuilt = oracle
        .iter()
        .filter(|(_, v)| v.starts_with("Rebuilt."))
        .count();
    assert!(
        rebuilt >= 17,
        "harness: clamscan finds a rebuilt file's hash in only {rebuilt} files"
    );
    expect_oracle(
        &oracle,
        false,
        &[("B-damaged.exe", "ClamExe"), ("E-damaged.exe", "ClamExe")],
    );
    compare_with_clamscan("UPX, first match", &db, &root, &[], &[]);
    // Under the limits: the unpacked image is over --max-scansize.
    compare_with_clamscan(
        "UPX, limits",
        &db,
        &root,
        &["--allmatch", "--max-scansize=40000"],
        &["--allmatch", "--max-scansize=40000"],
    );
    // ClamAV's own packed test file.
    let r = detente(
        &["--no-summary"],
        &db.join("clam.hdb"),
        &Path::new(TESTFILES).join("clam-upx.exe"),
    );
    assert_eq!(r.code, 1, "clam-upx.exe{}", describe(&r));
}
