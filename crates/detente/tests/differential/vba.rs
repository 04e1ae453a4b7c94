//! VBA macros in OLE2 documents against clamscan. Documents are written here with cfb: a Word
//! document (`Macros/VBA`) and an Excel one (`_VBA_PROJECT_CUR/VBA`), each with a `dir` stream
//! and module streams compressed by a small MS-OVBA compressor (literals and copy tokens),
//! modules at offset 0 and after a cache, in Windows-1252 with accented letters and with a
//! byte that code page leaves undefined, one module longer than a compression chunk, line
//! continuations and mixed case; a module whose stream is nowhere or in another storage (left
//! out of the listing), and a damaged record (no listing). Signatures look for the normalised source and for the `REM`
//! lines of ClamAV's listing.

use std::io::Write as _;

use super::*;

/// MS-OVBA compression (2.4.1): chunks of up to 4,096 bytes, each a header and flag-led
/// groups of literals and copy tokens (greedy, longest match in the chunk so far).
fn ovba_compress(data: &[u8]) -> Vec<u8> {
    let mut out = vec![1u8];
    for chunk in data.chunks(4096) {
        let mut body = Vec::new();
        let mut i = 0;
        while i < chunk.len() {
            let flag_at = body.len();
            body.push(0u8);
            for bit in 0..8 {
                if i >= chunk.len() {
                    break;
                }
                let bit_count = (usize::BITS - (i.max(1) - 1).leading_zeros()).max(4) as usize;
                let max_len = (1usize << (16 - bit_count)) + 2;
                let max_off = 1usize << bit_count;
                let (mut best_len, mut best_off) = (0, 0);
                for start in i.saturating_sub(max_off)..i {
                    let mut l = 0;
                    while l < max_len && i + l < chunk.len() && chunk[start + l] == chunk[i + l] {
                        l += 1;
                    }
                    if l > best_len {
                        (best_len, best_off) = (l, i - start);
                    }
                }
                if best_len >= 3 {
                    let token = (((best_off - 1) << (16 - bit_count)) | (best_len - 3)) as u16;
                    body.extend_from_slice(&token.to_le_bytes());
                    body[flag_at] |= 1 << bit;
                    i += best_len;
                } else {
                    body.push(chunk[i]);
                    i += 1;
                }
            }
        }
        let header = 0xb000u16 | ((body.len() + 2 - 3) as u16 & 0x0fff);
        out.extend_from_slice(&header.to_le_bytes());
        out.extend_from_slice(&body);
    }
    out
}

fn rec(out: &mut Vec<u8>, id: u16, body: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// A `dir` stream (decompressed) for modules `(name, stream name, offset)`.
fn dir_records(codepage: u16, modules: &[(&str, &str, u32)], damage: bool) -> Vec<u8> {
    let mut d = Vec::new();
    rec(&mut d, 0x0001, &1u32.to_le_bytes());
    rec(&mut d, 0x0002, &0x409u32.to_le_bytes());
    rec(&mut d, 0x0014, &0x409u32.to_le_bytes());
    rec(&mut d, 0x0003, &codepage.to_le_bytes());
    rec(&mut d, 0x0004, b"VBAProject");
    rec(&mut d, 0x0005, b"");
    rec(&mut d, 0x0040, b"");
    rec(&mut d, 0x0006, b"");
    rec(&mut d, 0x003d, b"");
    rec(&mut d, 0x0007, &0u32.to_le_bytes());
    rec(&mut d, 0x0008, &0u32.to_le_bytes());
    // PROJECTVERSION: a size of 4, then 6 bytes.
    d.extend_from_slice(&0x0009u16.to_le_bytes());
    d.extend_from_slice(&4u32.to_le_bytes());
    d.extend_from_slice(&0x5fa1_1234u32.to_le_bytes());
    d.extend_from_slice(&7u16.to_le_bytes());
    rec(&mut d, 0x000c, b"");
    rec(&mut d, 0x003c, b"");
    // A reference, skipped by its size.
    rec(&mut d, 0x0016, b"stdole");
    rec(&mut d, 0x003e, &utf16("stdole"));
    rec(&mut d, 0x000f, &(modules.len() as u16).to_le_bytes());
    rec(&mut d, 0x0013, &0xffffu16.to_le_bytes());
    for (name, stream, offset) in modules {
        rec(&mut d, 0x0019, name.as_bytes());
        rec(&mut d, 0x0047, &utf16(name));
        rec(&mut d, 0x001a, stream.as_bytes());
        rec(&mut d, 0x0032, &utf16(stream));
        rec(&mut d, 0x001c, b"");
        rec(&mut d, 0x0048, b"");
        rec(&mut d, 0x0031, &offset.to_le_bytes());
        rec(&mut d, 0x001e, &0u32.to_le_bytes());
        rec(&mut d, 0x002c, &0xffffu16.to_le_bytes());
        rec(&mut d, 0x0021, b"");
        if damage {
            // MODULEREADONLY with a size that must be 0.
            rec(&mut d, 0x0025, b"xx");
        } else {
            rec(&mut d, 0x0025, b"");
        }
        rec(&mut d, 0x002b, b"");
    }
    d.extend_from_slice(&0x0010u16.to_le_bytes());
    d.extend_from_slice(&0u32.to_le_bytes());
    d
}

struct Project<'a> {
    /// The storage holding the VBA storage (`/Macros` for Word, `/_VBA_PROJECT_CUR` for Excel).
    parent: &'a str,
    codepage: u16,
    /// (module name, stream name, source, bytes before the compressed source)
    modules: Vec<(&'a str, &'a str, Vec<u8>, usize)>,
    /// Modules listed in `dir` but not written.
    missing: Vec<&'a str>,
    /// Streams written elsewhere (in the parent) rather than in the VBA storage.
    elsewhere: Vec<&'a str>,
    damage: bool,
}

fn write_doc(path: &Path, root_stream: &str, p: &Project<'_>) {
    let mut c =
        cfb::CompoundFile::create_with_version(cfb::Version::V3, fs::File::create(path).unwrap())
            .unwrap();
    c.create_stream(root_stream)
        .unwrap()
        .write_all(&[b'w'; 700])
        .unwrap();
    c.create_storage(p.parent).unwrap();
    let vba = format!("{}/VBA", p.parent);
    c.create_storage(&vba).unwrap();
    let mut listed: Vec<(&str, &str, u32)> = Vec::new();
    for (name, stream, source, cache) in &p.modules {
        listed.push((name, stream, *cache as u32));
        let mut data = vec![0x5au8; *cache];
        data.extend(ovba_compress(source));
        let at = if p.elsewhere.contains(name) {
            p.parent
        } else {
            vba.as_str()
        };
        c.create_stream(format!("{at}/{stream}"))
            .unwrap()
            .write_all(&data)
            .unwrap();
    }
    for m in &p.missing {
        listed.push((m, m, 0));
    }
    let dir = ovba_compress(&dir_records(p.codepage, &listed, p.damage));
    c.create_stream(format!("{vba}/dir"))
        .unwrap()
        .write_all(&dir)
        .unwrap();
    c.create_stream(format!("{vba}/_VBA_PROJECT"))
        .unwrap()
        .write_all(&[0xcc, 0x61, 0xff, 0xff, 0x00, 0x00, 0x00])
        .unwrap();
    c.create_stream(format!("{}/PROJECT", p.parent))
        .unwrap()
        .write_all(b"ID=\"{00000000-0000-0000-0000-000000000000}\"\r\nDocument=ThisDocument/&H00000000\r\n")
        .unwrap();
    c.flush().unwrap();
}

#[test]
fn clamav_vba_macros() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let mut rng = Rng::new(0x564241);
    let auto = b"Attribute VB_Name = \"Module1\"\r\nSub AutoOpen()\r\n    Dim S As String\r\n    S = \"Powershell -NoP -W Hidden\"   &   _\r\n        \" -Enc VBA-MARKER-ONE\"\r\n    Shell S, vbHide\r\nEnd Sub\r\n".to_vec();
    let mut long = b"Sub Long()\r\n".to_vec();
    for i in 0..400 {
        long.extend_from_slice(format!("    X{i} = \"{}\"\r\n", rng.alnum(12)).as_bytes());
    }
    long.extend_from_slice(
        b"    CreateObject(\"WScript.Shell\").Run \"VBA-MARKER-LONG\"\r\nEnd Sub\r\n",
    );
    let accented =
        b"Sub Caf\xe9()\r\n    MsgBox \"Ca\xe7a VBA-MARKER-CP1252 \x80\"\r\nEnd Sub\r\n".to_vec();
    let undefined = b"Sub U()\r\n    X = \"\x81 VBA-MARKER-UNDEFINED\"\r\nEnd Sub\r\n".to_vec();
    let this_doc = b"Attribute VB_Name = \"ThisDocument\"\r\nPrivate Sub Document_Open()\r\n    Module1.AutoOpen\r\nEnd Sub\r\n".to_vec();
    let docs: Vec<(&str, &str, Project<'_>)> = vec![
        (
            "word.doc",
            "/WordDocument",
            Project {
                parent: "/Macros",
                codepage: 1252,
                modules: vec![
                    ("ThisDocument", "ThisDocument", this_doc.clone(), 0),
                    ("Module1", "Module1", auto.clone(), 0),
                ],
                missing: vec![],
                elsewhere: vec![],
                damage: false,
            },
        ),
        (
            "excel.xls",
            "/Workbook",
            Project {
                parent: "/_VBA_PROJECT_CUR",
                codepage: 1252,
                modules: vec![
                    ("Module1", "Module1", auto.clone(), 333),
                    ("Long", "Long", long, 17),
                    ("Accented", "Accented", accented, 0),
                ],
                missing: vec![],
                elsewhere: vec![],
                damage: false,
            },
        ),
        (
            "undefined.doc",
            "/WordDocument",
            Project {
                parent: "/Macros",
                codepage: 1252,
                modules: vec![("U", "U", undefined, 0)],
                missing: vec![],
                elsewhere: vec![],
                damage: false,
            },
        ),
        (
            "utf8.doc",
            "/WordDocument",
            Project {
                parent: "/Macros",
                codepage: 65001,
                modules: vec![("Module1", "Module1", auto.clone(), 0)],
                missing: vec![],
                elsewhere: vec![],
                damage: false,
            },
        ),
        (
            "missing.doc",
            "/WordDocument",
            Project {
                parent: "/Macros",
                codepage: 1252,
                modules: vec![("Module1", "Module1", auto.clone(), 0)],
                missing: vec!["Module9"],
                elsewhere: vec![],
                damage: false,
            },
        ),
        (
            "elsewhere.doc",
            "/WordDocument",
            Project {
                parent: "/Macros",
                codepage: 1252,
                modules: vec![
                    ("Module1", "Module1", auto.clone(), 0),
                    ("ThisDocument", "ThisDocument", this_doc, 0),
                ],
                missing: vec![],
                elsewhere: vec!["Module1"],
                damage: false,
            },
        ),
        (
            "damaged.doc",
            "/WordDocument",
            Project {
                parent: "/Macros",
                codepage: 1252,
                modules: vec![("Module1", "Module1", auto, 0)],
                missing: vec![],
                elsewhere: vec![],
                damage: true,
            },
        ),
    ];
    for (name, stream, p) in &docs {
        write_doc(&root.join(name), stream, p);
    }
    let mut ndb = String::new();
    for (sig, text) in [
        // The normalised source: lower case outside strings, blanks collapsed, the line
        // continuation joined.
        ("V.auto", &b"sub autoopen()\r\n dim s as string\r\n s = \"Powershell -NoP -W Hidden\" & \" -Enc VBA-MARKER-ONE\""[..]),
        ("V.long", b"\"VBA-MARKER-LONG\"\r\nend sub"),
        ("V.cp1252", "sub café()\r\n msgbox \"Caça VBA-MARKER-CP1252 €\"".as_bytes()),
        ("V.undefined", b"<Error decoding module data>"),
        ("V.rem", b"REM MODULENAME: Module1\nREM MODULENAMEUNICODE: Module1\nREM MODULESTREAMNAME: Module1\nREM MODULESTREAMNAMEUNICODE: Module1\nREM MODULEDOCSTRING: \nREM MODULEDOCSTRINGUNICODE: \nREM MODULEOFFSET: 0x0000014d\nREM MODULEHELPCONTEXT: 0x00000000\nREM MODULECOOKIE: 0xffff\nREM MODULETYPE: Procedural\nREM MODULEREADONLY\nREM ####"),
        ("V.head", b"REM VBA project extracted from Microsoft Office document\n\nREM PROJECTSYSKIND: Windows 32 bit\nREM PROJECTLCID: 0x00000409\nREM PROJECTLCIDINVOKE: 0x00000409\nREM PROJECTCODEPAGE: 0x04e4\nREM PROJECTNAME: VBAProject\nREM PROJECTDOCSTRING: \nREM PROJECTDOCSTRINGUNICODE: \nREM PROJECTHELPFILEPATH: \nREM PROJECTHELPFILEPATH2: \nREM PROJECTHELPCONTEXT: 0x0000\nREM PROJECTLIBFLAGS: 0x0000\nREM PROJECTVERSION: 1604391476.7\nREM PROJECTMODULES: 2\nREM PROJECTCOOKIE: 0xffff"),
        ("V.raw", b"Sub AutoOpen()"),
    ] {
        writeln!(ndb, "{sig}:0:*:{}", hex(text)).unwrap();
    }
    // The same as OLE2 (target 2): ClamAV scans the listing as a script, target 0 only.
    writeln!(ndb, "V.t2:2:*:{}", hex(b"sub autoopen()")).unwrap();
    let ldb = format!(
        "V.lsig;Engine:81-255,Container:CL_TYPE_MSOLE2,Target:0;0&1;{};{}\n",
        hex(b"shell s, vbhide"),
        hex(b"REM MODULETYPE: Procedural")
    );
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("t.ndb"), &ndb).unwrap();
    fs::write(db.join("t.ldb"), &ldb).unwrap();
    let oracle = compare_with_clamscan("VBA", &db, &root, &["--allmatch"], &["--allmatch"]);
    expect_oracle(
        &oracle,
        true,
        &[
            ("word.doc", "V.auto"),
            ("word.doc", "V.lsig"),
            ("excel.xls", "V.long"),
            ("excel.xls", "V.cp1252"),
            ("excel.xls", "V.rem"),
            ("word.doc", "V.head"),
            ("undefined.doc", "V.undefined"),
            ("utf8.doc", "V.auto"),
            ("elsewhere.doc", "V.head"),
            ("missing.doc", "V.auto"),
        ],
    );
    expect_oracle(
        &oracle,
        false,
        &[
            ("damaged.doc", "V.auto"),
            ("elsewhere.doc", "V.auto"),
            ("word.doc", "V.t2"),
        ],
    );
    for args in [
        &[][..],
        &["--allmatch", "--max-filesize=2000"],
        &["--allmatch", "--max-files=4"],
    ] {
        compare_with_clamscan(&format!("VBA {args:?}"), &db, &root, args, args);
    }
}

fn atom(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&0x000fu16.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut w = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

/// PowerPoint's compressed embedded objects (`ExOleObjStgCompressed` records) against
/// clamscan: two objects among other records, a damaged one (what inflates is kept), and a
/// stream whose last record runs past its end (nothing of that stream is scanned).
#[test]
fn clamav_ppt_objects() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let mut rng = Rng::new(0x505054);
    let one = format!("first PPT object PPT-OBJECT-ONE {}", rng.alnum(3000)).into_bytes();
    let two = format!("second PPT object PPT-OBJECT-TWO {}", rng.alnum(20000)).into_bytes();
    let obj = |data: &[u8]| {
        let mut b = (data.len() as u32).to_le_bytes().to_vec();
        b.extend(zlib(data));
        b
    };
    let mut good = Vec::new();
    atom(&mut good, 0x03e8, &[1u8; 40]);
    atom(&mut good, 0x1011, &obj(&one));
    atom(&mut good, 0x0fba, b"text atom");
    atom(&mut good, 0x1011, &obj(&two));
    let mut damaged = Vec::new();
    let mut z = obj(&two);
    let n = z.len();
    z.truncate(n / 2);
    atom(&mut damaged, 0x1011, &obj(&one));
    atom(&mut damaged, 0x1011, &z);
    let mut past = Vec::new();
    atom(&mut past, 0x1011, &obj(&one));
    past.extend_from_slice(&0x000fu16.to_le_bytes());
    past.extend_from_slice(&0x1011u16.to_le_bytes());
    past.extend_from_slice(&5000u32.to_le_bytes());
    past.extend_from_slice(&[0u8; 100]);
    for (name, stream) in [
        ("good.ppt", &good),
        ("damaged.ppt", &damaged),
        ("past.ppt", &past),
    ] {
        let mut c = cfb::CompoundFile::create_with_version(
            cfb::Version::V3,
            fs::File::create(root.join(name)).unwrap(),
        )
        .unwrap();
        c.create_stream("/PowerPoint Document")
            .unwrap()
            .write_all(stream)
            .unwrap();
        c.create_stream("/Current User")
            .unwrap()
            .write_all(&[0u8; 40])
            .unwrap();
        c.flush().unwrap();
    }
    let mut hdb = String::new();
    for (name, d) in [("one", &one), ("two", &two)] {
        let p = tmp.path().join(name);
        fs::write(&p, d).unwrap();
        writeln!(hdb, "{}:{}:H.{name}", digest("md5sum", &p), d.len()).unwrap();
    }
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("t.hdb"), &hdb).unwrap();
    fs::write(
        db.join("t.ndb"),
        format!(
            "P.one:0:*:{}\nP.two:0:*:{}\n",
            hex(b"PPT-OBJECT-ONE"),
            hex(b"PPT-OBJECT-TWO")
        ),
    )
    .unwrap();
    let oracle = compare_with_clamscan("PPT", &db, &root, &["--allmatch"], &["--allmatch"]);
    expect_oracle(
        &oracle,
        true,
        &[
            ("good.ppt", "H.one"),
            ("good.ppt", "H.two"),
            ("damaged.ppt", "H.one"),
            ("damaged.ppt", "P.two"),
        ],
    );
    expect_oracle(
        &oracle,
        false,
        &[("past.ppt", "H.one"), ("damaged.ppt", "H.two")],
    );
    // Only with `--allmatch`: ClamAV scans a stream's objects in its temporary directory's
    // order, which decides which is reported first without it.
    let args = ["--allmatch", "--max-filesize=10000"];
    compare_with_clamscan(&format!("PPT {args:?}"), &db, &root, &args, &args);
}
