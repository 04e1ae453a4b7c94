//! The file-system edge: a mount root and plain segments become an open regular file inside
//! that root, or nothing. Blocking; the server calls it on tokio's blocking pool.

use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Component, Path};
use std::time::UNIX_EPOCH;

use crate::decide::{etag, FileMeta};

/// An open file and what the decision needs to know of it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) file: File,
    pub(crate) meta: FileMeta,
}

/// Opens `root/rel...` if, with every symbolic link resolved, it is a regular file inside
/// `root` (itself canonical) whose path below `root` has no hidden component. `Ok(None)`
/// for anything else: missing, a directory, a FIFO or device, a link leading out of the
/// root or to a hidden file, a loop, no permission, a file not readable by others (mode
/// without `o+r`, such as a 0600 key). `rel` holds plain segments (see
/// [`crate::path`]); an empty `rel` is the root, a directory.
///
/// The file opened is checked to be the one that was resolved (same device and inode), so a
/// rename between the check and the open gives a 404, not another file. A writer who can
/// swap a directory of the tree for a link in that window is trusted anyway: the server
/// serves what the tree's owner publishes.
pub(crate) fn open_in(root: &Path, rel: &[String]) -> io::Result<Option<Opened>> {
    if rel.is_empty() {
        return Ok(None);
    }
    let mut path = root.to_path_buf();
    path.extend(rel);
    let Ok(canon) = fs::canonicalize(&path) else {
        return Ok(None);
    };
    let Ok(inner) = canon.strip_prefix(root) else {
        return Ok(None);
    };
    let plain = inner.components().all(|c| match c {
        Component::Normal(s) => !s.as_encoded_bytes().starts_with(b"."),
        _ => false,
    });
    if !plain {
        return Ok(None);
    }
    // stat before open: opening a FIFO would block.
    let Ok(before) = fs::metadata(&canon) else {
        return Ok(None);
    };
    if !before.is_file() || !world_readable(&before) {
        return Ok(None);
    }
    let file = match File::open(&canon) {
        Ok(f) => f,
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let md = file.metadata()?;
    if !md.is_file() || identity(&md) != identity(&before) {
        return Ok(None);
    }
    Ok(Some(Opened {
        meta: meta(&md),
        file,
    }))
}

/// Only files anyone on the machine may read are published: a private key (mode 0600) inside
/// a mounted tree, mounted by mistake, stays private.
#[cfg(unix)]
fn world_readable(md: &Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    md.permissions().mode() & 0o004 != 0
}

#[cfg(not(unix))]
fn world_readable(_: &Metadata) -> bool {
    true
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied | io::ErrorKind::NotADirectory
    )
}

#[cfg(unix)]
fn identity(md: &Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (md.dev(), md.ino())
}

#[cfg(not(unix))]
fn identity(_: &Metadata) -> (u64, u64) {
    (0, 0)
}

fn meta(md: &Metadata) -> FileMeta {
    let (secs, nanos) = match md.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
            Err(before) => (-(before.duration().as_secs() as i64), 0),
        },
        Err(_) => (0, 0),
    };
    let size = md.len();
    FileMeta {
        size,
        modified: secs.max(0) as u64,
        etag: etag(identity(md).1, size, secs, nanos),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(p: &str) -> Vec<String> {
        p.split('/').map(String::from).collect()
    }

    #[test]
    fn opens_files_inside_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("a"), b"hello").unwrap();
        fs::write(root.join("sub/b"), b"x").unwrap();
        fs::write(tmp.path().join("secret"), b"no").unwrap();
        let root = fs::canonicalize(&root).unwrap();

        let a = open_in(&root, &rel("a")).unwrap().unwrap();
        assert_eq!(a.meta.size, 5);
        assert!(a.meta.etag.starts_with('"'));
        assert!(open_in(&root, &rel("sub/b")).unwrap().is_some());
        assert!(open_in(&root, &rel("sub")).unwrap().is_none());
        assert!(open_in(&root, &[]).unwrap().is_none());
        assert!(open_in(&root, &rel("missing")).unwrap().is_none());
        assert!(open_in(&root, &rel("a/b")).unwrap().is_none());

        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink(tmp.path().join("secret"), root.join("out")).unwrap();
            symlink("../secret", root.join("sub/out2")).unwrap();
            symlink(tmp.path(), root.join("outdir")).unwrap();
            symlink("a", root.join("in")).unwrap();
            symlink("sub", root.join("subdir")).unwrap();
            fs::write(root.join(".hidden"), b"h").unwrap();
            symlink(".hidden", root.join("to-hidden")).unwrap();
            symlink("loop", root.join("loop")).unwrap();
            assert!(open_in(&root, &rel("out")).unwrap().is_none());
            assert!(open_in(&root, &rel("sub/out2")).unwrap().is_none());
            assert!(open_in(&root, &rel("outdir/secret")).unwrap().is_none());
            assert!(open_in(&root, &rel("to-hidden")).unwrap().is_none());
            assert!(open_in(&root, &rel("loop")).unwrap().is_none());
            assert_eq!(open_in(&root, &rel("in")).unwrap().unwrap().meta.size, 5);
            // A key file (0600) inside the tree is never served.
            use std::os::unix::fs::PermissionsExt;
            fs::write(root.join("key"), b"PRIVATE+KEY").unwrap();
            fs::set_permissions(root.join("key"), fs::Permissions::from_mode(0o600)).unwrap();
            assert!(open_in(&root, &rel("key")).unwrap().is_none());
            fs::set_permissions(root.join("key"), fs::Permissions::from_mode(0o644)).unwrap();
            assert!(open_in(&root, &rel("key")).unwrap().is_some());
            assert!(open_in(&root, &rel("subdir/b")).unwrap().is_some());
        }
    }

    #[cfg(unix)]
    #[test]
    fn fifo_is_not_opened() {
        let tmp = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(tmp.path()).unwrap();
        let fifo = root.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if made {
            assert!(open_in(&root, &rel("fifo")).unwrap().is_none());
        }
    }
}
