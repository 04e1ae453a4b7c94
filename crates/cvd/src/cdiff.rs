//! `.cdiff` incremental updates: `ClamAV-Diff:<version>:<length>:` + gzip'd script + `:` +
//! signature, and the script language (`libclamav_rust/src/cdiff.rs` semantics).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::cvd::DEFAULT_MAX_UNPACKED;
use crate::dsig::{self, CDIFF_KEY};
use crate::unpack::{gunzip_member, GunzipError};
use crate::{Error, ErrorKind, ScriptError};

/// ClamAV reads the signature from the last 350 bytes and refuses shorter files.
const DSIG_AREA: usize = 350;

/// A parsed cdiff script, ready for [`apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    name: String,
    version: Option<u32>,
    commands: Vec<(usize, Command)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Command {
    Open(String),
    Add(Vec<u8>),
    Edit {
        line: usize,
        pattern: Vec<u8>,
        /// `None` deletes the line (DEL), `Some` replaces it (XCHG).
        replacement: Option<Vec<u8>>,
    },
    Close,
    Move {
        src: String,
        dst: String,
        start: usize,
        start_pattern: Vec<u8>,
        end: usize,
        end_pattern: Vec<u8>,
    },
    Unlink(String),
}

impl Script {
    /// The database version from the cdiff header (`None` for a script parsed on its own).
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// The name errors are reported under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parses unsigned script text (the gunzipped body of a cdiff). Syntax and OPEN/CLOSE
    /// nesting are checked here; file contents are checked by [`apply`]. Stricter than ClamAV:
    /// MOVE names are validated like OPEN's, and a script may not end with a database open.
    pub fn parse(name: &str, text: &[u8]) -> Result<Script, Error> {
        let fail = |line, error| Error::new(name, ErrorKind::Script { line, error });
        let mut commands = Vec::new();
        let mut open: Option<String> = None;
        let mut line = 0;
        for raw in text.split_inclusive(|&b| b == b'\n') {
            line += 1;
            if raw.starts_with(b"#") {
                continue;
            }
            let err = |e| fail(line, e);
            let (cmd, rest_nl) = match raw.iter().position(|&b| b == b' ' || b == b'\n') {
                Some(p) => (&raw[..p], Some(&raw[p + 1..])),
                None => (raw, None),
            };
            let rest = rest_nl.and_then(|r| r.strip_suffix(b"\n"));
            let need = |what: &'static str| rest.ok_or(err(ScriptError::MissingArgument(what)));
            let command = match cmd {
                b"OPEN" => {
                    if let Some(o) = &open {
                        return Err(err(ScriptError::AlreadyOpen(o.clone())));
                    }
                    let db = valid_name(need("OPEN")?).map_err(err)?;
                    open = Some(db.clone());
                    Command::Open(db)
                }
                b"ADD" => {
                    if open.is_none() {
                        return Err(err(ScriptError::NotOpen("ADD")));
                    }
                    Command::Add(
                        rest_nl
                            .ok_or(err(ScriptError::MissingArgument("ADD")))?
                            .to_vec(),
                    )
                }
                b"DEL" | b"XCHG" => {
                    let what = if cmd == b"DEL" { "DEL" } else { "XCHG" };
                    if open.is_none() {
                        return Err(err(ScriptError::NotOpen(what)));
                    }
                    let mut t = need(what)?.splitn(3, |&b| b == b' ');
                    let line_no = line_number(t.next().unwrap_or(b"")).map_err(err)?;
                    let pattern = t.next().ok_or(err(ScriptError::MissingArgument(what)))?;
                    let replacement = match what {
                        // DEL uses only the first token after the line number.
                        "DEL" => None,
                        _ => Some(
                            t.next()
                                .ok_or(err(ScriptError::MissingArgument(what)))?
                                .to_vec(),
                        ),
                    };
                    Command::Edit {
                        line: line_no,
                        pattern: pattern.to_vec(),
                        replacement,
                    }
                }
                b"CLOSE" => {
                    if open.take().is_none() {
                        return Err(err(ScriptError::NotOpen("CLOSE")));
                    }
                    Command::Close
                }
                b"MOVE" => {
                    if let Some(o) = &open {
                        return Err(err(ScriptError::StillOpen {
                            command: "MOVE",
                            open: o.clone(),
                        }));
                    }
                    let t: Vec<&[u8]> = need("MOVE")?.split(|&b| b == b' ').collect();
                    let [src, dst, start, start_pattern, end, end_pattern, ..] = t[..] else {
                        return Err(err(ScriptError::MissingArgument("MOVE")));
                    };
                    Command::Move {
                        src: valid_name(src).map_err(err)?,
                        dst: valid_name(dst).map_err(err)?,
                        start: line_number(start).map_err(err)?,
                        start_pattern: start_pattern.to_vec(),
                        end: line_number(end).map_err(err)?,
                        end_pattern: end_pattern.to_vec(),
                    }
                }
                b"UNLINK" => {
                    if let Some(o) = &open {
                        return Err(err(ScriptError::StillOpen {
                            command: "UNLINK",
                            open: o.clone(),
                        }));
                    }
                    let db = need("UNLINK")?.split(|&b| b == b' ').next().unwrap_or(b"");
                    Command::Unlink(valid_name(db).map_err(err)?)
                }
                other => {
                    return Err(err(ScriptError::UnknownCommand(
                        String::from_utf8_lossy(other).into_owned(),
                    )))
                }
            };
            commands.push((line, command));
        }
        if let Some(o) = open {
            return Err(fail(line + 1, ScriptError::OpenAtEnd(o)));
        }
        Ok(Script {
            name: name.to_string(),
            version: None,
            commands,
        })
    }
}

/// A bare database file name: letters or digits (Unicode, as ClamAV), '.' and '_'; not empty,
/// not '.' or '..', no '..' anywhere.
fn valid_name(name: &[u8]) -> Result<String, ScriptError> {
    let bad = || ScriptError::BadName(String::from_utf8_lossy(name).into_owned());
    let s = std::str::from_utf8(name).map_err(|_| bad())?;
    if s.is_empty()
        || s.contains("..")
        || s == "."
        || !s
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '_')
    {
        return Err(bad());
    }
    Ok(s.to_string())
}

fn line_number(s: &[u8]) -> Result<usize, ScriptError> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .ok_or_else(|| ScriptError::BadLineNumber(String::from_utf8_lossy(s).into_owned()))
}

/// Verifies a `.cdiff` (RSA signature over the SHA-256 of everything before the last `:`, as
/// ClamAV's `read_dsig`), then parses its header, gunzips the script (bounded by the declared
/// length, itself at most [`DEFAULT_MAX_UNPACKED`]) and checks the declared length. Stricter
/// than ClamAV: the gzip stream must end exactly at the signature separator.
pub fn verify_cdiff(name: &str, bytes: &[u8]) -> Result<Script, Error> {
    let fail = |kind| Error::new(name, kind);
    if bytes.len() < DSIG_AREA {
        return Err(fail(ErrorKind::CdiffTooSmall));
    }
    let tail = &bytes[bytes.len() - DSIG_AREA..];
    let colon = tail
        .iter()
        .rposition(|&b| b == b':')
        .ok_or(fail(ErrorKind::CdiffNoSignature))?;
    let sig = &tail[colon + 1..];
    let footer = bytes.len() - sig.len() - 1;
    let signed = &bytes[..footer];
    let digest: [u8; 32] = Sha256::digest(signed).into();
    if !dsig::versig2(&digest, sig, CDIFF_KEY) {
        return Err(fail(ErrorKind::CdiffSignature));
    }

    let hdr = |m| fail(ErrorKind::CdiffHeader(m));
    let after = signed
        .strip_prefix(b"ClamAV-Diff:")
        .ok_or(hdr("missing \"ClamAV-Diff:\" magic"))?;
    let mut parts = after.splitn(3, |&b| b == b':');
    let num = |s: Option<&[u8]>, m| {
        s.and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(hdr(m))
    };
    let version = num(parts.next(), "invalid version")?;
    let version = u32::try_from(version).map_err(|_| hdr("invalid version"))?;
    let declared = num(parts.next(), "invalid script length")?;
    let gz = parts.next().ok_or(hdr("no script after the header"))?;
    if declared > DEFAULT_MAX_UNPACKED {
        return Err(fail(ErrorKind::TooLarge {
            limit: DEFAULT_MAX_UNPACKED,
        }));
    }
    let (script, rest) = gunzip_member(gz, declared).map_err(|e| {
        fail(match e {
            GunzipError::TooLarge => ErrorKind::CdiffLength {
                declared,
                actual: declared + 1,
            },
            GunzipError::Invalid(m) => ErrorKind::CdiffGzip(m),
        })
    })?;
    if !rest.is_empty() {
        return Err(fail(ErrorKind::CdiffTrailing));
    }
    if script.len() as u64 != declared {
        return Err(fail(ErrorKind::CdiffLength {
            declared,
            actual: script.len() as u64,
        }));
    }
    let mut s = Script::parse(name, &script)?;
    s.version = Some(version);
    Ok(s)
}

/// Applies a script to database members (name → contents) with ClamAV's semantics: OPEN/CLOSE
/// bracket ADD (append, creating the file), DEL and XCHG (by line number, prefix-matched
/// pattern); MOVE moves a line range to another existing file; UNLINK removes a file.
/// Atomic: on error `members` is left unchanged.
pub fn apply(script: &Script, members: &mut BTreeMap<String, Vec<u8>>) -> Result<(), Error> {
    let mut work = members.clone();
    let mut open: Option<&str> = None;
    let mut edits: BTreeMap<usize, (&[u8], Option<&[u8]>)> = BTreeMap::new();
    let mut additions: Vec<u8> = Vec::new();
    for (line, cmd) in &script.commands {
        let err = |error| Error::new(&script.name, ErrorKind::Script { line: *line, error });
        match cmd {
            Command::Open(db) => open = Some(db),
            Command::Add(text) => additions.extend_from_slice(text),
            Command::Edit {
                line,
                pattern,
                replacement,
            } => {
                // A later edit of the same line replaces the earlier one.
                edits.insert(*line, (pattern, replacement.as_deref()));
            }
            Command::Close => {
                // Parsing guarantees a matching OPEN.
                let db = open.take().unwrap_or_default();
                if !edits.is_empty() {
                    let data = work
                        .get(db)
                        .ok_or_else(|| err(ScriptError::NoSuchFile(db.to_string())))?;
                    let edited = apply_edits(db, data, &edits).map_err(err)?;
                    work.insert(db.to_string(), edited);
                    edits.clear();
                }
                if !additions.is_empty() {
                    work.entry(db.to_string())
                        .or_default()
                        .append(&mut additions);
                }
            }
            Command::Move {
                src,
                dst,
                start,
                start_pattern,
                end,
                end_pattern,
            } => {
                if src == dst {
                    return Err(err(ScriptError::MoveToSelf(src.clone())));
                }
                let data = work
                    .get(src)
                    .ok_or_else(|| err(ScriptError::NoSuchFile(src.clone())))?;
                if !work.contains_key(dst) {
                    return Err(err(ScriptError::NoSuchFile(dst.clone())));
                }
                let (keep, moved) =
                    split_range(src, data, *start, start_pattern, *end, end_pattern)
                        .map_err(err)?;
                work.insert(src.clone(), keep);
                if let Some(d) = work.get_mut(dst) {
                    d.extend_from_slice(&moved);
                }
            }
            Command::Unlink(db) => {
                if work.remove(db).is_none() {
                    return Err(err(ScriptError::NoSuchFile(db.clone())));
                }
            }
        }
    }
    *members = work;
    Ok(())
}

/// CLOSE with edits: every line must end in '\n'; an edited line must start with its pattern.
fn apply_edits(
    file: &str,
    data: &[u8],
    edits: &BTreeMap<usize, (&[u8], Option<&[u8]>)>,
) -> Result<Vec<u8>, ScriptError> {
    let mut out = Vec::with_capacity(data.len());
    let mut pending = edits.iter().peekable();
    let mut pos = 0;
    let mut line_no = 0;
    while pos < data.len() {
        line_no += 1;
        let nl = data[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| ScriptError::MissingNewline {
                file: file.to_string(),
                line: line_no,
            })?;
        let line = &data[pos..pos + nl];
        pos += nl + 1;
        match pending.peek() {
            Some(&(&k, &(pattern, replacement))) if k == line_no => {
                if !line.starts_with(pattern) {
                    return Err(ScriptError::PatternMismatch {
                        file: file.to_string(),
                        line: line_no,
                    });
                }
                if let Some(r) = replacement {
                    out.extend_from_slice(r);
                    out.push(b'\n');
                }
                pending.next();
            }
            _ => {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
        }
    }
    if let Some((&k, _)) = pending.next() {
        return Err(ScriptError::EditPastEnd {
            file: file.to_string(),
            line: k,
        });
    }
    Ok(out)
}

/// MOVE: lines `start..=end` (1-based, the last line may lack '\n') are cut from `data`; the
/// first must start with `start_pattern` and the last with `end_pattern`. Returns (kept, moved).
fn split_range(
    file: &str,
    data: &[u8],
    start: usize,
    start_pattern: &[u8],
    end: usize,
    end_pattern: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), ScriptError> {
    let (mut keep, mut moved) = (Vec::new(), Vec::new());
    // 0: before the range, 1: inside it, 2: after it.
    let mut state = 0;
    for (i, line) in data.split_inclusive(|&b| b == b'\n').enumerate() {
        let no = i + 1;
        if state == 0 && no == start {
            if !line.starts_with(start_pattern) {
                return Err(ScriptError::PatternMismatch {
                    file: file.to_string(),
                    line: no,
                });
            }
            state = 1;
            moved.extend_from_slice(line);
        } else if state == 1 {
            moved.extend_from_slice(line);
            if no == end {
                if !line.starts_with(end_pattern) {
                    return Err(ScriptError::PatternMismatch {
                        file: file.to_string(),
                        line: no,
                    });
                }
                state = 2;
            }
        } else {
            keep.extend_from_slice(line);
        }
    }
    if state != 2 {
        return Err(ScriptError::MoveIncomplete {
            file: file.to_string(),
            line: end,
        });
    }
    Ok((keep, moved))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(items: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn run(script: &str, m: &mut BTreeMap<String, Vec<u8>>) -> Result<(), Error> {
        apply(&Script::parse("t.cdiff", script.as_bytes())?, m)
    }

    fn script_err(r: Result<(), Error>) -> (usize, ScriptError) {
        match r.unwrap_err().kind {
            ErrorKind::Script { line, error } => (line, error),
            k => panic!("unexpected {k:?}"),
        }
    }

    #[test]
    fn edits_additions_and_creation() {
        let mut m = map(&[("a.ndb", "one\ntwo\nthree\nfour\n")]);
        let s = "# comment\nOPEN a.ndb\nXCHG 2 tw TWO with spaces\nDEL 3 thr ignored tokens\nDEL 1 o\nDEL 1 on\nADD five\nADD \nCLOSE\nOPEN new.hdb\nADD x:y\nCLOSE\nOPEN none.ndb\nCLOSE\n";
        run(s, &mut m).unwrap();
        // The second DEL of line 1 replaced the first; ADD keeps its newline; "ADD \n" adds an
        // empty line; CLOSE without edits or additions creates nothing.
        assert_eq!(m["a.ndb"], b"TWO with spaces\nfour\nfive\n\n");
        assert_eq!(m["new.hdb"], b"x:y\n");
        assert!(!m.contains_key("none.ndb"));
        // ADD on the last line without a newline appends without one.
        run("OPEN b.ndb\nADD tail\nCLOSE", &mut m).ok();
        let mut m2 = map(&[]);
        run("OPEN b.ndb\nADD a\nADD tail\nCLOSE\n", &mut m2).unwrap();
        assert_eq!(m2["b.ndb"], b"a\ntail\n");
    }

    #[test]
    fn move_and_unlink() {
        let mut m = map(&[("s.ndb", "1\n2\n3\n4"), ("d.ndb", "x\n")]);
        run(
            "MOVE s.ndb d.ndb 2 2 3 3\nUNLINK gone.ndb\n",
            &mut m.clone(),
        )
        .unwrap_err();
        run("MOVE s.ndb d.ndb 2 2 3 3\n", &mut m).unwrap();
        assert_eq!(m["s.ndb"], b"1\n4");
        assert_eq!(m["d.ndb"], b"x\n2\n3\n");
        // The last line may lack its newline.
        run("MOVE s.ndb d.ndb 1 1 2 4\n", &mut m).unwrap();
        assert_eq!(m["s.ndb"], b"");
        assert_eq!(m["d.ndb"], b"x\n2\n3\n1\n4");
        run("UNLINK s.ndb extra\n", &mut m).unwrap();
        assert!(!m.contains_key("s.ndb"));
        // start == end never completes (ClamAV quirk); missing dst; same file.
        let mut m = map(&[("s.ndb", "1\n2\n"), ("d.ndb", "")]);
        let before = m.clone();
        assert!(matches!(
            script_err(run("MOVE s.ndb d.ndb 1 1 1 1\n", &mut m)).1,
            ScriptError::MoveIncomplete { .. }
        ));
        assert!(matches!(
            script_err(run("MOVE s.ndb e.ndb 1 1 2 2\n", &mut m)).1,
            ScriptError::NoSuchFile(_)
        ));
        assert!(matches!(
            script_err(run("MOVE s.ndb s.ndb 1 1 2 2\n", &mut m)).1,
            ScriptError::MoveToSelf(_)
        ));
        assert!(matches!(
            script_err(run("MOVE s.ndb d.ndb 1 x 2 2\n", &mut m)).1,
            ScriptError::PatternMismatch { .. }
        ));
        assert!(matches!(
            script_err(run("MOVE s.ndb d.ndb 1 1 2 x\n", &mut m)).1,
            ScriptError::PatternMismatch { .. }
        ));
        assert!(matches!(
            script_err(run("MOVE s.ndb d.ndb 1 1\n", &mut m)).1,
            ScriptError::MissingArgument("MOVE")
        ));
        assert_eq!(m, before);
    }

    #[test]
    fn apply_is_atomic() {
        let mut m = map(&[("a.ndb", "one\ntwo\n"), ("b.ndb", "x\n")]);
        let before = m.clone();
        let s = "UNLINK b.ndb\nOPEN a.ndb\nADD three\nCLOSE\nOPEN a.ndb\nXCHG 2 zz new\nCLOSE\n";
        let (line, e) = script_err(run(s, &mut m));
        assert_eq!(line, 7);
        assert_eq!(
            e,
            ScriptError::PatternMismatch {
                file: "a.ndb".into(),
                line: 2
            }
        );
        assert_eq!(m, before);
    }

    #[test]
    fn content_errors() {
        let mut m = map(&[("a.ndb", "one\ntwo"), ("b.ndb", "one\n")]);
        let cases: &[(&str, ScriptError)] = &[
            (
                "OPEN a.ndb\nDEL 1 one\nCLOSE\n",
                ScriptError::MissingNewline {
                    file: "a.ndb".into(),
                    line: 2,
                },
            ),
            (
                "OPEN b.ndb\nDEL 2 x\nCLOSE\n",
                ScriptError::EditPastEnd {
                    file: "b.ndb".into(),
                    line: 2,
                },
            ),
            (
                "OPEN b.ndb\nDEL 0 x\nCLOSE\n",
                ScriptError::EditPastEnd {
                    file: "b.ndb".into(),
                    line: 0,
                },
            ),
            (
                "OPEN c.ndb\nDEL 1 x\nCLOSE\n",
                ScriptError::NoSuchFile("c.ndb".into()),
            ),
            ("UNLINK c.ndb\n", ScriptError::NoSuchFile("c.ndb".into())),
        ];
        for (s, want) in cases {
            assert_eq!(&script_err(run(s, &mut m)).1, want, "{s}");
        }
    }

    #[test]
    fn syntax_errors() {
        let cases: &[(&str, usize, ScriptError)] = &[
            ("\n", 1, ScriptError::UnknownCommand(String::new())),
            ("NOPE x\n", 1, ScriptError::UnknownCommand("NOPE".into())),
            (
                "OPEN a.ndb\nOPEN b.ndb\n",
                2,
                ScriptError::AlreadyOpen("a.ndb".into()),
            ),
            ("ADD x\n", 1, ScriptError::NotOpen("ADD")),
            ("DEL 1 x\n", 1, ScriptError::NotOpen("DEL")),
            ("XCHG 1 x y\n", 1, ScriptError::NotOpen("XCHG")),
            ("CLOSE\n", 1, ScriptError::NotOpen("CLOSE")),
            (
                "OPEN a.ndb\nMOVE a b 1 x 2 y\n",
                2,
                ScriptError::StillOpen {
                    command: "MOVE",
                    open: "a.ndb".into(),
                },
            ),
            (
                "OPEN a.ndb\nUNLINK a.ndb\n",
                2,
                ScriptError::StillOpen {
                    command: "UNLINK",
                    open: "a.ndb".into(),
                },
            ),
            (
                "OPEN a.ndb\nADD x\n",
                3,
                ScriptError::OpenAtEnd("a.ndb".into()),
            ),
            (
                "OPEN a.ndb\nXCHG 1 x\n",
                2,
                ScriptError::MissingArgument("XCHG"),
            ),
            (
                "OPEN a.ndb\nDEL 1\n",
                2,
                ScriptError::MissingArgument("DEL"),
            ),
            (
                "OPEN a.ndb\nDEL x y\n",
                2,
                ScriptError::BadLineNumber("x".into()),
            ),
            (
                "OPEN a.ndb\nDEL -1 y\n",
                2,
                ScriptError::BadLineNumber("-1".into()),
            ),
            ("OPEN a.ndb\nDEL\n", 2, ScriptError::MissingArgument("DEL")),
            ("OPEN a.ndb", 1, ScriptError::MissingArgument("OPEN")),
            ("OPEN\n", 1, ScriptError::MissingArgument("OPEN")),
            ("OPEN a.ndb\nADD", 2, ScriptError::MissingArgument("ADD")),
            ("UNLINK\n", 1, ScriptError::MissingArgument("UNLINK")),
        ];
        for (s, line, want) in cases {
            let e = Script::parse("t.cdiff", s.as_bytes()).unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::Script {
                    line: *line,
                    error: want.clone()
                },
                "{s:?}"
            );
        }
    }

    #[test]
    fn names_are_validated() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a..b", "a b", "a\\b", "x\0", "a:b", "a\r",
        ] {
            for s in [
                format!("OPEN {bad}\n"),
                format!("UNLINK {bad}\n"),
                format!("MOVE {bad} d 1 a 2 b\n"),
                format!("MOVE s {bad} 1 a 2 b\n"),
            ] {
                // UNLINK uses only the first space-separated token.
                if s.starts_with("UNLINK") && bad == "a b" {
                    continue;
                }
                let e = Script::parse("t.cdiff", s.as_bytes()).unwrap_err();
                assert!(
                    matches!(
                        e.kind,
                        ErrorKind::Script {
                            error: ScriptError::BadName(_)
                                | ScriptError::BadLineNumber(_)
                                | ScriptError::MissingArgument(_)
                                | ScriptError::UnknownCommand(_),
                            ..
                        }
                    ),
                    "{s:?}: {e}"
                );
            }
        }
        for good in ["daily.info", "x_y.ndb", "COPYING", "ünïcode.ldb", ".hidden"] {
            assert!(
                Script::parse("t", format!("OPEN {good}\nCLOSE\n").as_bytes()).is_ok(),
                "{good}"
            );
        }
        assert!(Script::parse("t", b"OPEN \xff\nCLOSE\n").is_err());
    }

    #[test]
    fn cdiff_container_errors() {
        assert_eq!(
            verify_cdiff("x.cdiff", b"ClamAV-Diff:1:0:")
                .unwrap_err()
                .kind,
            ErrorKind::CdiffTooSmall
        );
        let no_colon = vec![b'a'; 400];
        assert_eq!(
            verify_cdiff("x.cdiff", &no_colon).unwrap_err().kind,
            ErrorKind::CdiffNoSignature
        );
        let mut bogus = b"ClamAV-Diff:1:0:".to_vec();
        bogus.resize(400, b'a');
        bogus[399 - 342] = b':';
        assert_eq!(
            verify_cdiff("x.cdiff", &bogus).unwrap_err().kind,
            ErrorKind::CdiffSignature
        );
    }
}
