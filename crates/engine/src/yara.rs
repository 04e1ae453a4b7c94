//! YARA rules through boreal.
//!
//! Each rule file is compiled into its own namespace, so that two files may define rules of
//! the same name. A rule boreal cannot compile is reported by name and the rest of the file
//! still loads: the file is added whole first; on an error, the rules before the failing one
//! are already in, and the remaining rules are added one by one.
//!
//! Rule files are compiled when the engine is built, so that an `include` can name any YARA
//! database of the same load, before or after it. An include resolves only to such a file (by
//! its name as given, or its last path component): it never reaches the host's file system,
//! so `include "/etc/hostname"` or `include "/dev/zero"` is refused with an error naming the
//! file and line. Includes nest at most [`MAX_INCLUDES`] times per file, which also ends
//! include cycles.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use boreal::compiler::CompilerBuilder;
use boreal::scanner::ScanParams;

/// Includes resolved while compiling one rule file, counted over all nesting levels.
pub const MAX_INCLUDES: usize = 64;

/// External variables set per scanned file, as scanners built on YARA do.
pub const EXTERNALS: [&str; 5] = ["filename", "filepath", "extension", "filetype", "owner"];

/// A rule (or file) that could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// The rule's name, or None for an error outside any rule (syntax error, bad import).
    pub rule: Option<String>,
    /// boreal's message.
    pub message: String,
}

pub(crate) struct YaraBuilder {
    /// Rule files in load order: (database name, text).
    files: Vec<(String, Arc<str>)>,
}

/// A compiler whose includes resolve among `files` only.
fn compiler(files: &[(String, Arc<str>)], count: Arc<AtomicUsize>) -> boreal::Compiler {
    let mut by_name: HashMap<String, Arc<str>> = HashMap::new();
    for (name, text) in files {
        by_name.insert(name.clone(), text.clone());
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        by_name
            .entry(base.to_string())
            .or_insert_with(|| text.clone());
    }
    let mut compiler = CompilerBuilder::new().build();
    for name in EXTERNALS {
        compiler.define_symbol(name, "");
    }
    compiler.set_include_callback(move |path, _, _| {
        if count.fetch_add(1, Ordering::Relaxed) >= MAX_INCLUDES {
            return Err(std::io::Error::other(format!(
                "more than {MAX_INCLUDES} includes (an include cycle?)"
            )));
        }
        let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
        by_name
            .get(path)
            .or_else(|| by_name.get(base))
            .map(|t| t.to_string())
            .ok_or_else(|| {
                std::io::Error::other(
                    "not a YARA database of this load (includes never read the host's files)",
                )
            })
    });
    compiler
}

/// Start offset of each rule's text (the `rule`, `private rule` or `global rule` keywords).
fn rule_chunks(text: &str) -> Option<Vec<(String, usize)>> {
    let file = boreal_parser::parse(text).ok()?;
    let mut out = Vec::new();
    for c in file.components {
        if let boreal_parser::file::YaraFileComponent::Rule(r) = c {
            let before = &text[..r.name_span.start];
            let mut start = before.rfind("rule")?;
            loop {
                let head = text[..start].trim_end();
                if let Some(h) = head
                    .strip_suffix("private")
                    .or_else(|| head.strip_suffix("global"))
                {
                    start = h.len();
                } else {
                    break;
                }
            }
            out.push((r.name.clone(), start));
        }
    }
    Some(out)
}

fn error_offset(e: &boreal::compiler::AddRuleError) -> Option<usize> {
    e.to_diagnostic().labels.first().map(|l| l.range.start)
}

fn short(e: &boreal::compiler::AddRuleError, text: &str) -> String {
    let d = e.to_diagnostic();
    let line = d
        .labels
        .first()
        // The offset may be into an included file: never slice off a character boundary.
        .map(|l| {
            text.get(..l.range.start)
                .unwrap_or(text)
                .matches('\n')
                .count()
                + 1
        });
    match line {
        Some(l) => format!("line {l}: {}", d.message),
        None => d.message,
    }
}

impl YaraBuilder {
    pub fn new() -> Self {
        YaraBuilder { files: Vec::new() }
    }

    /// Adds one rule file's text, compiled by [`YaraBuilder::finish`].
    pub fn add(&mut self, name: &str, text: &str) {
        self.files.push((name.to_string(), Arc::from(text)));
    }

    /// Compiles every file; returns the scanner and, per file, the rules that failed.
    pub fn finish(self) -> (boreal::Scanner, Vec<(String, RuleError)>) {
        let count = Arc::new(AtomicUsize::new(0));
        let mut c = compiler(&self.files, count.clone());
        let mut errors = Vec::new();
        for (i, (name, text)) in self.files.iter().enumerate() {
            count.store(0, Ordering::Relaxed);
            let ns = format!("file{}", i + 1);
            for e in add_file(&mut c, text, &ns) {
                errors.push((name.clone(), e));
            }
        }
        let mut s = c.finalize();
        // Match libyara's per-string match limit so frequent strings still count fully.
        s.set_scan_params(ScanParams::default().string_max_nb_matches(1_000_000));
        (s, errors)
    }
}

/// Adds one rule file's text; returns the rules that could not be compiled.
fn add_file(compiler: &mut boreal::Compiler, text: &str, ns: &str) -> Vec<RuleError> {
    {
        match compiler.add_rules_str_in_namespace(text, ns) {
            Ok(_) => Vec::new(),
            Err(e) => {
                let Some(chunks) = rule_chunks(text) else {
                    return vec![RuleError {
                        rule: None,
                        message: short(&e, text),
                    }];
                };
                let mut errors = Vec::new();
                let pos = error_offset(&e).unwrap_or(0);
                // Rules before the failing one were added.
                let failing = chunks.iter().rposition(|(_, s)| *s <= pos);
                let resume = match failing {
                    Some(k) => {
                        errors.push(RuleError {
                            rule: Some(chunks[k].0.clone()),
                            message: short(&e, text),
                        });
                        k + 1
                    }
                    None => {
                        errors.push(RuleError {
                            rule: None,
                            message: short(&e, text),
                        });
                        0
                    }
                };
                for (i, (name, start)) in chunks.iter().enumerate().skip(resume) {
                    let end = chunks.get(i + 1).map_or(text.len(), |c| c.1);
                    let chunk = &text[*start..end];
                    match compiler.add_rules_str_in_namespace(chunk, ns) {
                        Ok(_) => {}
                        Err(e) => errors.push(RuleError {
                            rule: Some(name.clone()),
                            message: short(&e, chunk),
                        }),
                    }
                }
                errors
            }
        }
    }
}
