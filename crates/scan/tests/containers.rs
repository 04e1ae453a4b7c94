//! Every supported container kind, every supported zip compression method, and nesting to the
//! depth limit: the planted sample is found, with the member path, and the limit is reported.

use std::io::Write;

use detente_engine::{Engine, EngineBuilder, LoadOptions};
use detente_scan::{scan_data, Limit, Limits, Outcome, ScanOptions, Why};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

const SAMPLE: &[u8] = b"\x00\x01 some bytes before planted-sample and after \x02";

fn engine() -> Engine {
    let mut b = EngineBuilder::new(LoadOptions::default());
    b.add_database("t.ndb", b"Planted:0:*:706c616e7465642d73616d706c65\n")
        .unwrap();
    b.build()
}

fn zip_with(method: CompressionMethod, name: &str, data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(
        name,
        SimpleFileOptions::default().compression_method(method),
    )
    .unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap().into_inner()
}

fn tar_with(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bz2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut w =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

fn zst(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn all() -> ScanOptions {
    ScanOptions {
        all_match: true,
        ..ScanOptions::default()
    }
}

#[test]
fn every_zip_method_is_read() {
    let e = engine();
    let mut s = e.scanner();
    for m in [
        CompressionMethod::Stored,
        CompressionMethod::Deflated,
        CompressionMethod::Bzip2,
        CompressionMethod::Zstd,
        CompressionMethod::Xz,
    ] {
        let z = zip_with(m, "dir/x.bin", SAMPLE);
        let r = scan_data(&e, &mut s, &z, "a.zip", "", &all());
        assert!(
            r.found
                .iter()
                .any(|f| f.member.as_deref() == Some("dir/x.bin")),
            "{m:?}: {r:?}"
        );
    }
}

#[test]
fn every_container_kind_nested_sixteen_deep() {
    let e = engine();
    let mut s = e.scanner();
    type Wrap = fn(&[u8]) -> Vec<u8>;
    let wrap: [(&str, Wrap); 6] = [
        ("zip", |d| zip_with(CompressionMethod::Deflated, "m", d)),
        ("tar", |d| tar_with("m", d)),
        ("gz", gz),
        ("bz2", bz2),
        ("xz", xz),
        ("zst", zst),
    ];
    let mut data = SAMPLE.to_vec();
    let mut kinds = Vec::new();
    for i in 0..16 {
        let (k, f) = wrap[i % wrap.len()];
        data = f(&data);
        kinds.push(k);
    }
    let r = scan_data(&e, &mut s, &data, "deep", "", &all());
    // Found at the innermost level (16 containers deep: 15 separators), and also wherever the
    // sample is visible uncompressed on the way (the tar members).
    let deepest = r
        .found
        .iter()
        .filter_map(|f| f.member.as_deref())
        .map(|m| m.matches('!').count())
        .max();
    assert_eq!(deepest, Some(15), "{kinds:?}: {r:?}");
    assert!(r.reasons.is_empty(), "{:?}", r.reasons);
    assert_eq!(r.outcome, Outcome::Found(vec!["Planted".into()]));

    // clamscan's count: the file is level 0, and members are scanned down to level N - 1.
    let shallow = ScanOptions {
        limits: Limits {
            max_recursion: 16,
            ..Limits::default()
        },
        ..all()
    };
    let r = scan_data(&e, &mut s, &data, "deep", "", &shallow);
    let deepest = r
        .found
        .iter()
        .filter_map(|f| f.member.as_deref())
        .map(|m| m.matches('!').count())
        .max();
    assert!(deepest < Some(15), "{r:?}");
    assert_eq!(r.first_limit, Some(Limit::MaxRecursion));
    assert!(r
        .reasons
        .iter()
        .any(|n| n.why == Why::Limit(Limit::MaxRecursion)));
}

#[test]
fn zip_member_over_max_filesize_is_cut_silently() {
    let e = engine();
    let mut s = e.scanner();
    // 200 MiB of zeros compress to ~200 KiB: over --max-filesize, so (as clamscan does) the
    // first 100 MiB are scanned and nothing is alerted.
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(
        "zeros",
        SimpleFileOptions::default().compression_method(CompressionMethod::Deflated),
    )
    .unwrap();
    let block = vec![0u8; 1 << 20];
    for _ in 0..200 {
        w.write_all(&block).unwrap();
    }
    let z = w.finish().unwrap().into_inner();
    let alert = ScanOptions {
        alert_exceeds_max: true,
        ..all()
    };
    let r = scan_data(&e, &mut s, &z, "big.zip", "", &alert);
    assert!(r.found.is_empty(), "{:?}", r.found);
    assert_eq!(r.first_limit, None);
    assert!(
        matches!(&r.outcome, Outcome::Partial(v) if v[0].why == Why::Limit(Limit::MaxFileSize)),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.bytes_scanned, z.len() as u64 + (100 << 20));
    assert!(r.bytes_inflated <= (100 << 20) + 1);

    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..20 {
        w.start_file(format!("f{i}"), SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"x").unwrap();
    }
    let z = w.finish().unwrap().into_inner();
    let few = ScanOptions {
        limits: Limits {
            max_files: 10,
            ..Limits::default()
        },
        ..all()
    };
    let r = scan_data(&e, &mut s, &z, "many.zip", "", &few);
    assert_eq!(r.first_limit, Some(Limit::MaxFiles));
    assert!(
        r.reasons
            .iter()
            .any(|n| n.why == Why::Limit(Limit::MaxFiles)),
        "{:?}",
        r.reasons
    );
}

/// A Mach-O universal binary: `count` architectures, each (offset, size) as given.
fn fat(slices: &[(u32, u32)], count: u32, body: &[u8]) -> Vec<u8> {
    let mut d = b"\xca\xfe\xba\xbe".to_vec();
    d.extend_from_slice(&count.to_be_bytes());
    for (off, size) in slices {
        d.extend_from_slice(&7u32.to_be_bytes());
        d.extend_from_slice(&3u32.to_be_bytes());
        d.extend_from_slice(&off.to_be_bytes());
        d.extend_from_slice(&size.to_be_bytes());
        d.extend_from_slice(&12u32.to_be_bytes());
    }
    d.resize(4096, 0);
    d.extend_from_slice(body);
    d
}

/// Each slice of a universal binary is a file of its own; a slice outside the file is noted
/// as damage (and the file is not called clean), and so are headers cut short.
#[test]
fn macho_universal_binaries_are_scanned_slice_by_slice() {
    let e = engine();
    let mut s = e.scanner();
    let len = SAMPLE.len() as u32;
    let good = fat(&[(4096, len)], 1, SAMPLE);
    let r = scan_data(&e, &mut s, &good, "u.macho", "", &all());
    assert_eq!(r.found.len(), 2, "the file itself and its slice: {r:?}");
    let outside = fat(&[(4096, len), (1 << 20, 16)], 2, SAMPLE);
    let r = scan_data(&e, &mut s, &outside, "u.macho", "", &all());
    assert!(r.reasons.iter().any(|x| x.why == Why::Corrupt), "{r:?}");
    // Architecture headers cut short.
    let mut short = fat(&[], 31, b"");
    short.truncate(16);
    let r = scan_data(&e, &mut s, &short, "u.macho", "", &all());
    assert!(r.reasons.iter().any(|x| x.why == Why::Corrupt), "{r:?}");
    assert_ne!(r.outcome, Outcome::Clean);
}

/// A new-ASCII cpio entry (header, name padded to 4 bytes with the header, data padded).
fn newc(name: &str, data: &[u8]) -> Vec<u8> {
    let mut d = format!(
        "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        1,
        0o100644,
        0,
        0,
        1,
        0,
        data.len(),
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    )
    .into_bytes();
    d.extend_from_slice(name.as_bytes());
    d.push(0);
    while d.len() % 4 != 0 {
        d.push(0);
    }
    d.extend_from_slice(data);
    while d.len() % 4 != 0 {
        d.push(0);
    }
    d
}

/// cpio: members are found by name; an archive cut inside a member is damage (the part that
/// is there is scanned, and the file is not called clean); junk where a header should be
/// ends the walk with a note.
#[test]
fn cpio_members_damage_and_junk() {
    let e = engine();
    let mut s = e.scanner();
    let mut a = newc("dir/one.bin", b"nothing here");
    a.extend(newc("two.bin", SAMPLE));
    a.extend(newc("TRAILER!!!", b""));
    let r = scan_data(&e, &mut s, &a, "a.cpio", "", &all());
    assert!(
        r.found
            .iter()
            .any(|f| f.member.as_deref() == Some("two.bin")),
        "{r:?}"
    );
    let cut = &a[..a.len() - 140];
    let r = scan_data(&e, &mut s, cut, "a.cpio", "", &all());
    assert_ne!(r.outcome, Outcome::Clean, "{r:?}");
    let mut junk = newc("one.bin", b"x");
    junk.extend_from_slice(b"this is no header at all, and it is long enough to read one");
    let r = scan_data(&e, &mut s, &junk, "a.cpio", "", &all());
    assert!(r.reasons.iter().any(|x| x.why == Why::Corrupt), "{r:?}");
}

/// SZDD with literals only (one control byte of ones per eight bytes) and a back reference.
fn szdd(content: &[u8], declared: u32) -> Vec<u8> {
    let mut d = b"SZDD\x88\xf0\x27\x33\x41\x00".to_vec();
    d.extend_from_slice(&declared.to_le_bytes());
    for chunk in content.chunks(8) {
        d.push(0xff);
        d.extend_from_slice(chunk);
    }
    d
}

/// SZDD: the expanded content is scanned; a back reference copies from the window; a size
/// declared over the limits is refused, not expanded.
#[test]
fn szdd_is_expanded_within_limits() {
    let e = engine();
    let mut s = e.scanner();
    let r = scan_data(
        &e,
        &mut s,
        &szdd(SAMPLE, SAMPLE.len() as u32),
        "a.sz_",
        "",
        &all(),
    );
    assert_eq!(r.found.len(), 1, "{r:?}");
    // "ab" then a reference to window position 4080 (where output starts), length 3: "aba".
    let mut refd = b"SZDD\x88\xf0\x27\x33\x41\x00".to_vec();
    refd.extend_from_slice(&5u32.to_le_bytes());
    refd.extend_from_slice(&[0b0000_0011, b'a', b'b', 0xf0, 0xf0]);
    let r = scan_data(&e, &mut s, &refd, "b.sz_", "", &all());
    assert_eq!(r.bytes_scanned, refd.len() as u64 + 5, "{r:?}");
    let opts = ScanOptions {
        all_match: true,
        limits: Limits {
            max_filesize: 1000,
            ..Limits::default()
        },
        ..ScanOptions::default()
    };
    let big = szdd(SAMPLE, 1 << 20);
    let r = scan_data(&e, &mut s, &big, "c.sz_", "", &opts);
    assert!(r.found.is_empty());
    assert_eq!(r.first_limit, Some(Limit::MaxFileSize), "{r:?}");
}

/// A cabinet whose file starts past its folder's data (found by fuzzing: the cab crate indexes
/// past its block list on it): the file is reported damaged, and the scan goes on.
#[test]
fn cabinet_file_past_its_folder_is_damaged_not_a_panic() {
    use base64::Engine as _;
    let cab = base64::engine::general_purpose::STANDARD
        .decode(
            "TVNDRgAAAABtAgAAAAAAACwAAAAAAAAAAwEBAAEAAADSBAAARQAAAAEAAAAgAgCA/AAAAAAAAAAhIQAAAAL+//8B\
             AAAAAAAAAAAAAAAAAAcAAAAAwA==",
        )
        .unwrap();
    // The same with three entries of one name: the crate reads the first of them.
    let dup = base64::engine::general_purpose::STANDARD
        .decode(
            "TVNDRgAAAABtAgAAAAAAACwAAAAAAAAAAwEBAAMAAADSBAAARQAAAAEAAAAgAgAAAAAAAAAAJiY5Px4W/Vtn\
             ZK+0gPwAAAAAAAAAISEAAAAC/v//AQAAAAAAAAAAAAAAAAAHAAAAAMA=",
        )
        .unwrap();
    // A block whose data is shorter than its declared length.
    let short = base64::engine::general_purpose::STANDARD
        .decode(
            "TVNDRgAAAAAIAgAAAAAAACwAAAAAAAAAAwEBAAEAAADSBAAARQAAAAABAADjAAAAAAEAAAAAAAAAAQAAAAAA\
             AAABAABFAAAAAAEAAOMAAAAAAQAAAAAAAAABAAAAAAAAAAEAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAA\
             AAAAAAAAAAB3AAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\
             AAAAAAAALgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAAA//////8BAAAAAAAA\
             AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB3AAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAA\
             AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAALgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\
             AAAAAAABAAAA//////8BAAD//////wAAABz/////AAAA",
        )
        .unwrap();
    let e = engine();
    let mut s = e.scanner();
    for (name, data) in [("past.cab", &cab), ("dup.cab", &dup), ("short.cab", &short)] {
        let r = scan_data(&e, &mut s, data, name, "", &all());
        assert!(
            r.reasons.iter().any(|x| x.why == Why::Corrupt),
            "{name}: {r:?}"
        );
        assert_ne!(r.outcome, Outcome::Clean, "{name}");
    }
}

/// A version-3 compound file built by hand: sector 0 holds the FAT, sectors 1..=`dir_sectors`
/// the directory (`entries`, 128 bytes each), then `data` in a chain of sectors. `fat_patch`
/// overrides FAT entries (to build loops).
fn compound(
    entries: &[Vec<u8>],
    dir_sectors: u32,
    data: &[u8],
    fat_patch: &[(usize, i32)],
) -> Vec<u8> {
    let ss = 512usize;
    let data_sectors = data.len().div_ceil(ss) as u32;
    let mut h = vec![0u8; 512];
    h[..8].copy_from_slice(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1");
    h[24..26].copy_from_slice(&0x3eu16.to_le_bytes());
    h[26..28].copy_from_slice(&3u16.to_le_bytes());
    h[28..30].copy_from_slice(&0xfffeu16.to_le_bytes());
    h[30..32].copy_from_slice(&9u16.to_le_bytes());
    h[32..34].copy_from_slice(&6u16.to_le_bytes());
    h[44..48].copy_from_slice(&1u32.to_le_bytes()); // one FAT sector
    h[48..52].copy_from_slice(&1i32.to_le_bytes()); // directory at sector 1
    h[56..60].copy_from_slice(&4096u32.to_le_bytes());
    h[60..64].copy_from_slice(&(-2i32).to_le_bytes()); // no mini FAT
    h[68..72].copy_from_slice(&(-2i32).to_le_bytes());
    for i in 0..109 {
        let v: i32 = if i == 0 { 0 } else { -1 };
        h[76 + 4 * i..80 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    let mut fat = vec![-1i32; 128];
    fat[0] = -3;
    for s in 1..=dir_sectors {
        fat[s as usize] = if s == dir_sectors { -2 } else { s as i32 + 1 };
    }
    let first = dir_sectors + 1;
    for s in first..first + data_sectors {
        fat[s as usize] = if s + 1 == first + data_sectors {
            -2
        } else {
            s as i32 + 1
        };
    }
    for &(i, v) in fat_patch {
        fat[i] = v;
    }
    let mut out = h;
    for v in fat {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let mut dir = Vec::new();
    for e in entries {
        dir.extend_from_slice(e);
    }
    dir.resize(dir_sectors as usize * ss, 0);
    out.extend_from_slice(&dir);
    let mut d = data.to_vec();
    d.resize(data_sectors as usize * ss, 0);
    out.extend_from_slice(&d);
    out
}

fn entry(name: &str, kind: u8, prev: i32, next: i32, child: i32, start: i32, size: u32) -> Vec<u8> {
    let mut e = vec![0u8; 128];
    let units: Vec<u16> = name.encode_utf16().collect();
    for (i, u) in units.iter().enumerate() {
        e[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
    }
    e[64..66].copy_from_slice(&((2 * units.len() + 2) as u16).to_le_bytes());
    e[66] = kind;
    e[68..72].copy_from_slice(&prev.to_le_bytes());
    e[72..76].copy_from_slice(&next.to_le_bytes());
    e[76..80].copy_from_slice(&child.to_le_bytes());
    e[116..120].copy_from_slice(&start.to_le_bytes());
    e[120..124].copy_from_slice(&size.to_le_bytes());
    e
}

#[test]
fn compound_files_cost_is_bounded_and_loops_end() {
    let e = engine();
    let mut s = e.scanner();
    // 63 streams all pointing at one 50 KiB chain: extracting each would cost 63 times the
    // file. The inflation budget (--max-scansize) bounds the work.
    let mut data = vec![b'x'; 50 * 1024];
    data[40_000..40_000 + 14].copy_from_slice(b"planted-sample");
    let dir_sectors = 16;
    let first = dir_sectors + 1;
    let mut entries = vec![entry("Root Entry", 5, -1, -1, 1, -2, 0)];
    for i in 1..64 {
        let next = if i < 63 { i + 1 } else { -1 };
        entries.push(entry(
            &format!("S{i}"),
            2,
            -1,
            next,
            -1,
            first,
            data.len() as u32,
        ));
    }
    let shared = compound(&entries, dir_sectors as u32, &data, &[]);
    let tight = ScanOptions {
        limits: Limits {
            max_scansize: 300 * 1024,
            ..Limits::default()
        },
        ..all()
    };
    let r = scan_data(&e, &mut s, &shared, "shared.ole", "", &tight);
    assert!(!r.found.is_empty(), "the first streams are scanned: {r:?}");
    assert!(
        r.bytes_inflated >= 50 * 1024,
        "the streams read are counted"
    );
    assert!(
        r.bytes_inflated <= 300 * 1024 + 63 + 50 * 1024,
        "inflated {}",
        r.bytes_inflated
    );
    assert!(matches!(r.outcome, Outcome::Found(_)));

    // A directory whose sibling links loop, and a stream whose chain loops: the walk ends.
    let looped = compound(
        &[
            entry("Root Entry", 5, -1, -1, 1, -2, 0),
            entry("A", 2, 2, -1, -1, first, 1 << 30),
            entry("B", 2, 1, 1, -1, first, 5000),
        ],
        dir_sectors as u32,
        &data[..8192],
        &[((first + 15) as usize, first)],
    );
    let r = scan_data(&e, &mut s, &looped, "looped.ole", "", &all());
    assert!(
        r.bytes_inflated <= 8192 + 5000,
        "inflated {}",
        r.bytes_inflated
    );

    // Storages nested past --max-recursion end the walk with that limit.
    let mut deep = vec![entry("Root Entry", 5, -1, -1, 1, -2, 0)];
    for i in 1..40 {
        deep.push(entry(&format!("D{i}"), 1, -1, -1, i + 1, 0, 0));
    }
    deep.push(entry("WordDocument", 2, -1, -1, -1, first, 100));
    let nested = compound(&deep, 11, &data[..512], &[]);
    let r = scan_data(&e, &mut s, &nested, "deep.ole", "", &all());
    assert_eq!(r.first_limit, Some(Limit::MaxRecursion), "{r:?}");
}

#[test]
fn rar_archives_are_never_reported_clean() {
    let e = engine();
    let mut s = e.scanner();
    for (name, magic) in [
        ("v4.rar", &b"Rar!\x1a\x07\x00"[..]),
        ("v5.rar", &b"Rar!\x1a\x07\x01\x00"[..]),
    ] {
        let mut data = magic.to_vec();
        data.extend_from_slice(&[0x33; 64]);
        let r = scan_data(&e, &mut s, &data, name, "", &all());
        assert!(
            matches!(&r.outcome, Outcome::Partial(v) if v[0].why == Why::Unsupported),
            "{name}: {:?}",
            r.outcome
        );
    }
}

#[test]
fn an_embedded_executable_with_a_section_past_the_end_is_no_panic() {
    // Found by fuzz_archive: a PE embedded in a PE, whose empty section starts past the end
    // of the file (the section's size was computed by subtracting past zero).
    let data = include_bytes!("data/fuzz-pe-section-past-end.bin");
    let e = engine();
    let mut s = e.scanner();
    let r = scan_data(&e, &mut s, data, "fuzz.exe", "", &all());
    assert!(r.found.is_empty(), "{:?}", r.found);
}

#[test]
fn a_file_made_of_magic_bytes_costs_a_bounded_search() {
    // 200,000 zip local-header magics (each a candidate embedded zip) after a text start:
    // the search looks at a bounded number of them and says the rest were not looked at.
    let mut data = b"plain text first\n".to_vec();
    for _ in 0..200_000 {
        data.extend_from_slice(b"PK\x03\x04xx");
    }
    let e = engine();
    let mut s = e.scanner();
    let r = scan_data(&e, &mut s, &data, "magic.txt", "", &all());
    assert!(
        matches!(&r.outcome, Outcome::Partial(v) if v.iter().any(|x| x.why == Why::Unsupported)),
        "{:?}",
        r.outcome
    );
    // A few: no limit, and clean.
    let mut few = b"plain text first\n".to_vec();
    for _ in 0..100 {
        few.extend_from_slice(b"PK\x03\x04xx MSCF\0\0\0\0yy Rar!");
    }
    let r = scan_data(&e, &mut s, &few, "few.txt", "", &all());
    assert_eq!(r.outcome, Outcome::Clean, "{:?}", r.reasons);
}

/// HTML over ClamAV's normalisation limits is never reported clean: over 8 MiB its text
/// without tags is not scanned, over 40 MiB nothing of it is (clamscan's defaults), and the
/// report says so. Under them, a planted sample in the text is found in the normalised text.
#[test]
fn html_over_the_normalisation_limits_is_reported_partly_scanned() {
    let e = engine();
    let mut s = e.scanner();
    let page = |len: usize, text: &[u8]| {
        let mut p = b"<html><body>".to_vec();
        p.extend_from_slice(text);
        p.resize(len, b'x');
        p
    };
    let small = scan_data(
        &e,
        &mut s,
        &page(4096, b"planted-sample "),
        "small.html",
        "",
        &all(),
    );
    assert!(
        small
            .found
            .iter()
            .any(|f| f.member.as_deref() == Some("notags.html")),
        "{small:?}"
    );
    for (len, what) in [(9 << 20, "max-htmlnotags"), (41 << 20, "max-htmlnormalize")] {
        let r = scan_data(
            &e,
            &mut s,
            &page(len, b"nothing planted "),
            "big.html",
            "",
            &all(),
        );
        assert!(
            matches!(&r.outcome, Outcome::Partial(reasons) if reasons.iter().any(|x| x.why == Why::Unsupported && x.detail.contains(what))),
            "{len}: {:?}",
            r.outcome
        );
    }
}
