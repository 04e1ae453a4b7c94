//! The witness key file: one Ed25519 `cosignature/v1` key and one ML-DSA-44
//! key under the same name, as `PRIVATE+KEY+...` lines, mode 0600.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::Path;

use detente_note::{Cosigner, Verifier as _, ALG_COSIGNATURE_V1, ALG_MLDSA44};

use crate::Error;

const HEADER: &str = "# detente witness keys (secret: keep this file private, mode 0600)\n";

/// Longest witness name: the ML-DSA-44 message encodes it in one length byte.
pub const MAX_NAME_LEN: usize = 255;

/// Makes both keys from fresh OS randomness.
pub(crate) fn generate(name: &str) -> Result<Vec<Cosigner>, Error> {
    if !detente_note::is_valid_name(name) || name.len() > MAX_NAME_LEN {
        return Err(Error::BadName);
    }
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    getrandom::fill(&mut a).map_err(|e| Error::Random(e.to_string()))?;
    getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
    let ed = Cosigner::ed25519_from_seed(name, a);
    let ml = Cosigner::mldsa44_from_seed(name, b);
    a.fill(0);
    b.fill(0);
    Ok(vec![ed.map_err(Error::Key)?, ml.map_err(Error::Key)?])
}

/// Writes the key file durably; refuses to overwrite one.
pub(crate) fn write(path: &Path, keys: &[Cosigner]) -> Result<(), Error> {
    let mut text = String::from(HEADER);
    for k in keys {
        text.push_str(&k.to_private_text());
        text.push('\n');
    }
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| Error::io(path, e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(path, e))?;
    Ok(())
}

/// Reads the key file: refuses one readable by group or others, and wants
/// exactly one key of each type, under the same name.
pub(crate) fn read(path: &Path) -> Result<Vec<Cosigner>, Error> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = f
            .metadata()
            .map_err(|e| Error::io(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::KeyFilePermissions(path.to_owned()));
        }
    }
    let mut text = String::new();
    f.read_to_string(&mut text)
        .map_err(|e| Error::io(path, e))?;
    let mut keys: Vec<Cosigner> = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // The parse error never contains key material.
        keys.push(Cosigner::parse(line).map_err(Error::Key)?);
    }
    let has = |alg| keys.iter().filter(|k| k.alg() == alg).count() == 1;
    if keys.len() != 2 || !has(ALG_COSIGNATURE_V1) || !has(ALG_MLDSA44) {
        return Err(Error::KeyFile(
            "want one Ed25519 (0x04) and one ML-DSA-44 (0x06) key",
        ));
    }
    if keys[0].verifier().name() != keys[1].verifier().name() {
        return Err(Error::KeyFile("keys have different names"));
    }
    Ok(keys)
}
