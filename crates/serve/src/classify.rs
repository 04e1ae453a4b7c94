//! What a path is, sans-IO: whether its content can ever change (its `Cache-Control`) and
//! its media type, from the request path's decoded segments alone.

use detente_tlog::{parse_path, TilePath};

/// `Cache-Control` of a file whose content never changes at its path.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything else (and of every error): caches must revalidate.
pub const REVALIDATE: &str = "no-cache";

/// Whether the file at `segments` never changes once published:
/// - a full C2SP tlog-tiles hash tile `tile/<L>/<N>` or entry bundle `tile/entries/<N>`
///   (canonical, as [`detente_tlog::parse_path`] parses it, under any prefix); partial ones
///   (`<N>.p/<W>`) grow into a full one and are deleted, and a checkpoint changes at every
///   append;
/// - any file below a directory named `objects` (content-addressed by convention: its name
///   is a digest of its bytes).
pub fn is_immutable<S: AsRef<str>>(segments: &[S]) -> bool {
    let Some((_, dirs)) = segments.split_last() else {
        return false;
    };
    if dirs.iter().any(|s| s.as_ref() == "objects") {
        return true;
    }
    segments.iter().enumerate().any(|(i, s)| {
        s.as_ref() == "tile" && {
            let rest: Vec<&str> = segments[i..].iter().map(AsRef::as_ref).collect();
            match parse_path(&rest.join("/")) {
                Ok(TilePath::Hashes(t)) => t.is_full(),
                Ok(TilePath::Entries(b)) => b.is_full(),
                Err(_) => false,
            }
        }
    })
}

/// The `Cache-Control` of a served file (see [`is_immutable`]).
pub fn cache_control<S: AsRef<str>>(segments: &[S]) -> &'static str {
    if is_immutable(segments) {
        IMMUTABLE
    } else {
        REVALIDATE
    }
}

/// UTF-8 text.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// Anything not known to be something else.
pub const BINARY: &str = "application/octet-stream";

/// The `Content-Type` of a file named `name`: text for `checkpoint` and note-like files
/// (signed notes and keys: `.txt`, `.note`, `.vkey`, `.sign`, `.tlog-proof`, `.policy`),
/// JSON and HTML by extension, else `application/octet-stream` (tiles, entry bundles,
/// `.cvd`/`.cld`/`.cdiff`). Extensions are case-insensitive.
pub fn content_type(name: &str) -> &'static str {
    if name == "checkpoint" {
        return TEXT;
    }
    let Some((_, ext)) = name.rsplit_once('.') else {
        return BINARY;
    };
    match ext.to_ascii_lowercase().as_str() {
        "txt" | "note" | "vkey" | "sign" | "tlog-proof" | "policy" => TEXT,
        "json" => "application/json",
        "html" | "htm" => "text/html; charset=utf-8",
        _ => BINARY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<&str> {
        p.split('/').filter(|s| !s.is_empty()).collect()
    }
    fn imm(p: &str) -> bool {
        is_immutable(&segs(p))
    }

    #[test]
    fn full_tiles_and_bundles_are_immutable() {
        for p in [
            "tile/0/000",
            "tile/0/255",
            "tile/1/000",
            "tile/0/x001/234",
            "tile/entries/000",
            "tile/entries/x123/456",
            "log/tile/0/000",
            "feeds/main/log/tile/entries/001",
        ] {
            assert!(imm(p), "{p}");
            assert_eq!(cache_control(&segs(p)), IMMUTABLE);
        }
    }

    #[test]
    fn partial_and_mutable_files_revalidate() {
        for p in [
            "checkpoint",
            "log/checkpoint",
            "tile/0/000.p/5",
            "tile/0/x001/234.p/255",
            "tile/entries/000.p/1",
            "log/tile/1/000.p/1",
            // Not canonical: no such tile path exists.
            "tile/0/0",
            "tile/0/0000",
            "tile/00/000",
            "tile/entries/000.p/0",
            "tile/entries/000.p/256",
            "tile/0/000/extra",
            "tile/0",
            "tile",
            "tiles/0/000",
            "main.cvd",
            "objects",
            "x/objects",
            "",
        ] {
            assert!(!imm(p), "{p}");
            assert_eq!(cache_control(&segs(p)), REVALIDATE);
        }
    }

    #[test]
    fn content_addressed_objects_are_immutable() {
        assert!(imm("objects/ab/cdef0123"));
        assert!(imm("hub/objects/sha256-0123"));
        assert!(imm("objects/x"));
        assert!(!imm("objects"));
        assert!(!imm("objectsx/a"));
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("checkpoint"), TEXT);
        assert_eq!(content_type("log.vkey"), TEXT);
        assert_eq!(content_type("daily.cvd.sign"), TEXT);
        assert_eq!(content_type("daily.tlog-proof"), TEXT);
        assert_eq!(content_type("README.TXT"), TEXT);
        assert_eq!(content_type("x.note"), TEXT);
        assert_eq!(content_type("a.json"), "application/json");
        assert_eq!(content_type("a.html"), "text/html; charset=utf-8");
        for b in [
            "000",
            "5",
            "main.cvd",
            "daily.cld",
            "daily-1.cdiff",
            "x",
            "checkpoints",
        ] {
            assert_eq!(content_type(b), BINARY, "{b}");
        }
    }
}
