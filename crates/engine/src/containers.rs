//! `.cvd`/`.cld` containers, verified by `detente-cvd` before their members load.

use super::*;

impl EngineBuilder {
    /// Loads a `.cvd`/`.cld` after verifying it as ClamAV does (`detente-cvd`): the header
    /// signature over the body's MD5, the `.info` member list under its own signature, and
    /// every member's size and SHA-256, unpacked within bounds. A tampered or unsigned
    /// container is refused unless [`LoadOptions::allow_unsigned`] is set (user builds).
    pub(crate) fn add_container(&mut self, name: &str, bytes: &[u8]) -> Result<(), LoadError> {
        let opts = detente_cvd::CvdOptions {
            allow_unsigned: self.opts.allow_unsigned,
            ..detente_cvd::CvdOptions::default()
        };
        let verified =
            detente_cvd::verify_cvd(name, bytes, &opts).map_err(|e| LoadError::File {
                database: name.to_string(),
                message: e.kind.to_string(),
            })?;
        for (member, data) in &verified.members {
            if *member == verified.info_name || member == "COPYING" {
                continue;
            }
            if matches!(DbKind::from_file_name(member), Some(DbKind::Container)) {
                return Err(LoadError::File {
                    database: name.to_string(),
                    message: format!("{member}: nested container"),
                });
            }
            self.add_database(&format!("{name}/{member}"), data)?;
        }
        Ok(())
    }
}
