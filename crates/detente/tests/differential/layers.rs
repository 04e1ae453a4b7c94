//! `Container` and `Intermediates` conditions against clamscan: the same sample as a file, in
//! a zip, a gzip, a tar, a zip inside a gzip inside a zip, and an Office Open XML workbook;
//! signatures that ask for each parent type, for the top level only (`CL_TYPE_ANY`), and
//! for chains of layers (with `CL_TYPE_ANY` entries), with decoys.

use super::*;

const MAKE: &str = r#"
import gzip, io, sys, tarfile, zipfile
root = sys.argv[1]
sample = b"\x00\x01 layered-sample-QZX bytes \x02\x03"
def zbytes(entries):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return b.getvalue()
def gz(data):
    return gzip.compress(data, mtime=0)
open(f"{root}/plain.bin", "wb").write(sample)
open(f"{root}/in.zip", "wb").write(zbytes([("s.bin", sample)]))
open(f"{root}/in.gz", "wb").write(gz(sample))
t = io.BytesIO()
with tarfile.open(fileobj=t, mode="w", format=tarfile.USTAR_FORMAT) as tf:
    i = tarfile.TarInfo("s.bin"); i.size = len(sample); i.mtime = 0
    tf.addfile(i, io.BytesIO(sample))
open(f"{root}/in.tar", "wb").write(t.getvalue())
open(f"{root}/nested.zip", "wb").write(zbytes([("inner.gz", gz(zbytes([("s.bin", sample)])))]))
open(f"{root}/zipgz.zip", "wb").write(zbytes([("s.gz", gz(sample))]))
open(f"{root}/book.xlsx", "wb").write(zbytes([
    ("[Content_Types].xml", b'<?xml version="1.0"?><Types/>'),
    ("_rels/.rels", b'<?xml version="1.0"?><Relationships/>'),
    ("xl/workbook.xml", b"<workbook>" + sample + b"</workbook>"),
]))
"#;

#[test]
fn clamav_container_and_intermediates() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("corpus");
    fs::create_dir_all(&root).unwrap();
    let o = Command::new("python3")
        .args(["-c", MAKE])
        .arg(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let k = hex(b"layered-sample-QZX");
    let mut ldb = String::new();
    for (name, cond) in [
        ("c_any", "Container:CL_TYPE_ANY"),
        ("c_zip", "Container:CL_TYPE_ZIP"),
        ("c_gz", "Container:CL_TYPE_GZ"),
        ("c_tar", "Container:CL_TYPE_POSIX_TAR"),
        ("c_oldtar", "Container:CL_TYPE_OLD_TAR"),
        ("c_xl", "Container:CL_TYPE_OOXML_XL"),
        ("c_word", "Container:CL_TYPE_OOXML_WORD"),
        ("i_gz", "Intermediates:CL_TYPE_GZ"),
        ("i_zipgz", "Intermediates:CL_TYPE_ZIP>CL_TYPE_GZ"),
        (
            "i_zipgzzip",
            "Intermediates:CL_TYPE_ZIP>CL_TYPE_GZ>CL_TYPE_ZIP",
        ),
        ("i_anyzip", "Intermediates:CL_TYPE_ANY>CL_TYPE_ZIP"),
        ("i_zipzip", "Intermediates:CL_TYPE_ZIP>CL_TYPE_ZIP"),
        ("i_gzany", "Intermediates:CL_TYPE_GZ>CL_TYPE_ANY"),
    ] {
        writeln!(ldb, "L.{name};Engine:81-255,Target:0,{cond};0;{k}").unwrap();
    }
    let db = tmp.path().join("db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("layers.ldb"), &ldb).unwrap();
    let oracle = compare_with_clamscan(
        "Container and Intermediates",
        &db,
        &root,
        &["--allmatch"],
        &["--allmatch"],
    );
    // Harness: each condition holds somewhere it should, and the decoys nowhere.
    let has = |file: &str, sig: &str| {
        oracle
            .iter()
            .any(|(f, v)| f == file && *v == format!("L.{sig} FOUND"))
    };
    for (file, sig) in [
        ("plain.bin", "c_any"),
        ("in.zip", "c_zip"),
        ("in.gz", "c_gz"),
        ("in.tar", "c_tar"),
        ("book.xlsx", "c_xl"),
        ("zipgz.zip", "i_zipgz"),
        ("nested.zip", "i_zipgzzip"),
    ] {
        assert!(
            has(file, sig),
            "harness: clamscan does not find L.{sig} in {file}"
        );
    }
    for (file, sig) in [
        ("in.zip", "c_word"),
        ("in.tar", "c_zip"),
        ("in.zip", "i_zipzip"),
    ] {
        assert!(!has(file, sig), "harness: clamscan finds L.{sig} in {file}");
    }
}
