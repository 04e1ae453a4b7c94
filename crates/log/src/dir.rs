//! [`Storage`] on a local directory: temp file, fsync, rename, fsync dir.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::Storage;

/// A log stored in a local directory, one file per object.
///
/// `put` writes a temporary file in the target directory, fsyncs it, renames
/// it over the target (atomic on POSIX file systems) and fsyncs the
/// directory so the rename itself is durable; directories it creates are
/// fsynced into their parents too. Leftover `.tmp-*` files from a crash are
/// harmless and can be deleted.
#[derive(Debug)]
pub struct DirStorage {
    root: PathBuf,
    counter: AtomicU64,
}

impl DirStorage {
    /// Uses `root` (created if missing) as the log's directory.
    pub fn new(root: impl Into<PathBuf>) -> io::Result<DirStorage> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(DirStorage {
            root,
            counter: AtomicU64::new(0),
        })
    }

    /// The log's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> io::Result<PathBuf> {
        let rel = Path::new(key);
        let ok = !key.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !ok || key.split('/').any(|p| p.starts_with(".tmp-")) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad object key {key:?}"),
            ));
        }
        Ok(self.root.join(rel))
    }

    /// Creates `dir` and any missing parents, fsyncing each new entry into
    /// its parent directory.
    fn make_dirs(&self, dir: &Path) -> io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.make_dirs(parent)?;
            match fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            File::open(parent)?.sync_all()?;
        }
        Ok(())
    }
}

/// Fsyncs directories concurrently (the file system merges the journal commits).
fn sync_dirs(dirs: &[&PathBuf]) -> io::Result<()> {
    std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|d| s.spawn(move || File::open(d)?.sync_all()))
            .collect();
        let mut res = Ok(());
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("sync thread panicked")));
            if res.is_ok() {
                res = r;
            }
        }
        res
    })
}

impl Storage for DirStorage {
    fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        match fs::read(self.path(key)?) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn put_batch(&self, objects: &[(String, Vec<u8>)]) -> io::Result<()> {
        // Write and fsync every temporary file concurrently (the file system merges the
        // journal commits), then rename each into place and fsync each directory once.
        let mut staged = Vec::with_capacity(objects.len());
        for (key, _) in objects {
            let path = self.path(key)?;
            let dir = path.parent().unwrap_or(&self.root).to_path_buf();
            self.make_dirs(&dir)?;
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!(".tmp-{}-{n}", std::process::id()));
            staged.push((tmp, path, dir));
        }
        let written: io::Result<()> = std::thread::scope(|s| {
            let handles: Vec<_> = staged
                .iter()
                .zip(objects)
                .map(|((tmp, _, _), (_, data))| {
                    s.spawn(move || -> io::Result<()> {
                        let mut f = File::create(tmp)?;
                        f.write_all(data)?;
                        f.sync_all()
                    })
                })
                .collect();
            let mut res = Ok(());
            for h in handles {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("writer thread panicked")));
                if res.is_ok() {
                    res = r;
                }
            }
            res
        });
        let result = written.and_then(|()| {
            let mut dirs: Vec<&PathBuf> = Vec::new();
            for (tmp, path, dir) in &staged {
                fs::rename(tmp, path)?;
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
            sync_dirs(&dirs)
        });
        if result.is_err() {
            for (tmp, _, _) in &staged {
                let _ = fs::remove_file(tmp);
            }
        }
        result
    }

    fn list(&self, prefix: &str) -> io::Result<Vec<String>> {
        let (dir_key, name_prefix) = match prefix.rsplit_once('/') {
            Some((d, n)) => (d, n),
            None => ("", prefix),
        };
        let dir = if dir_key.is_empty() {
            self.root.clone()
        } else {
            self.path(dir_key)?
        };
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for e in rd {
            let name = e?.file_name().to_string_lossy().into_owned();
            if name.starts_with(name_prefix) && !name.starts_with(".tmp-") {
                out.push(if dir_key.is_empty() {
                    name
                } else {
                    format!("{dir_key}/{name}")
                });
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // A partial tile's `.p` directory goes once its last width is removed.
        if let Some(parent) = path.parent() {
            if parent.extension().is_some_and(|e| e == "p") {
                let _ = fs::remove_dir(parent);
            }
        }
        Ok(())
    }

    fn put(&self, key: &str, data: &[u8]) -> io::Result<()> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        self.make_dirs(&dir)?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".tmp-{}-{n}", std::process::id()));
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &path)?;
            File::open(&dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}
