//! ClamAV containers at the edge: finding and checking the detached `.sign` beside a `.cvd` or
//! `.cdiff`, and `detente db patch`, which moves a database forward through `.cdiff` patches
//! the way freshclam does. Verification itself is `detente-cvd`'s (sans-IO).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use detente_cvd::{CvdOptions, CLAMAV_ROOT_CA_DER};

/// The functionality level whose `.sign` lines detente reads: ClamAV 1.5 (level 230) added
/// detached PKCS#7 signatures, and detente verifies them as that release does.
const SIGN_FLEVEL: u32 = 230;

/// Where ClamAV looks for the `.sign` of a file: `<name>-<version>.cvd.sign` beside a `.cvd`
/// (name: the file name up to its first `-` or `.`), else `<file>.sign`.
fn sign_path(path: &Path, bytes: &[u8]) -> Option<PathBuf> {
    let fname = path.file_name()?.to_string_lossy().into_owned();
    let dir = path.parent().unwrap_or(Path::new("."));
    if fname.to_ascii_lowercase().ends_with(".cvd") {
        if let Ok(h) = detente_cvd::CvdHeader::parse(bytes) {
            let stem = fname.split(['-', '.']).next().unwrap_or(&fname);
            let p = dir.join(format!("{stem}-{}.cvd.sign", h.version));
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let p = dir.join(format!("{fname}.sign"));
    p.is_file().then_some(p)
}

/// The trust anchors for `.sign` files: Cisco's root, built in, and the certificates
/// (`*.crt`, `*.pem`) in `certs_dir`.
fn anchors(certs_dir: Option<&Path>) -> Result<Vec<Vec<u8>>> {
    let mut out = vec![CLAMAV_ROOT_CA_DER.to_vec()];
    if let Some(d) = certs_dir {
        let mut files: Vec<PathBuf> = fs::read_dir(d)
            .with_context(|| format!("{}: can't list the certificates directory", d.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "crt" || e == "pem"))
            .collect();
        files.sort();
        for f in files {
            let pem = fs::read(&f).with_context(|| format!("{}: can't read", f.display()))?;
            let certs = detente_cvd::pem_certificates(&pem);
            if certs.is_empty() {
                bail!("{}: no PEM certificate in it", f.display());
            }
            out.extend(certs);
        }
    }
    Ok(out)
}

/// Checks the `.sign` beside `path`, if there is one, as ClamAV 1.5 does: a signature that
/// does not verify refuses the file; a missing `.sign`, or one with no line for this level,
/// leaves the built-in RSA signatures to decide. Returns the signer's name when it verified.
pub fn check_sign(path: &Path, bytes: &[u8], certs_dir: Option<&Path>) -> Result<Option<String>> {
    let Some(sp) = sign_path(path, bytes) else {
        return Ok(None);
    };
    let text = fs::read(&sp).with_context(|| format!("{}: can't read", sp.display()))?;
    let anchors = anchors(certs_dir)?;
    let refs: Vec<&[u8]> = anchors.iter().map(Vec::as_slice).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = path.display().to_string();
    match detente_cvd::verify_sign(&name, bytes, &text, &refs, now, SIGN_FLEVEL) {
        Ok(s) => Ok(Some(s.common_names.join(", "))),
        Err(e) if e.allows_legacy_fallback() => Ok(None),
        Err(e) => bail!("{e} ({})", sp.display()),
    }
}

/// Writes `data` to `path` atomically: a temporary file beside it, fsync, rename, fsync of
/// the directory. An existing file is replaced whole or not at all.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("{}: can't create a temporary file", dir.display()))?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("{}: can't write: {}", path.display(), e.error))?;
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// `detente db patch`: verifies `base` and each `.cdiff` (and any `.sign` beside them),
/// applies the patches in order, checks that the result verifies as a `.cld` (its patched
/// `.info` signature and every member's hash), and only then writes `out`.
pub fn patch(
    base: &Path,
    cdiffs: &[PathBuf],
    out: &Path,
    allow_unsigned: bool,
    certs_dir: Option<&Path>,
) -> Result<u8> {
    let opts = CvdOptions {
        allow_unsigned,
        ..CvdOptions::default()
    };
    let bytes = fs::read(base).with_context(|| format!("{}: can't read", base.display()))?;
    check_sign(base, &bytes, certs_dir)?;
    let name = base.display().to_string();
    let v = detente_cvd::verify_cvd(&name, &bytes, &opts).map_err(anyhow::Error::from)?;
    let mut members = v.members;
    for (version, c) in (v.header.version..).zip(cdiffs) {
        let data = fs::read(c).with_context(|| format!("{}: can't read", c.display()))?;
        check_sign(c, &data, certs_dir)?;
        let cname = c.display().to_string();
        // Patches are applied only when their signature verifies, whatever `allow_unsigned`.
        let script = detente_cvd::verify_cdiff(&cname, &data)?;
        if let Some(n) = script.version() {
            if n != version + 1 {
                bail!(
                    "{cname}: patches version {version} to {n}; expected {}",
                    version + 1
                );
            }
        }
        detente_cvd::apply(&script, &mut members).map_err(anyhow::Error::from)?;
    }
    let cld = detente_cvd::build_cld(&members).map_err(anyhow::Error::from)?;
    let out_name = out.display().to_string();
    let check_name = if out_name.to_ascii_lowercase().ends_with(".cld") {
        out_name.clone()
    } else {
        format!("{out_name}.cld")
    };
    let check = detente_cvd::verify_cvd(&check_name, &cld, &opts)
        .with_context(|| format!("{out_name}: the patched database does not verify"))?;
    write_atomic(out, &cld)?;
    println!(
        "{out_name}: version {} ({} signatures, {} members)",
        check.header.version,
        check.header.sigs,
        check.members.len()
    );
    Ok(0)
}
