//! YARA rules through boreal.
//!
//! Each rule file is compiled into its own namespace, so that two files may define rules of
//! the same name. A rule boreal cannot compile is reported by name and the rest of the file
//! still loads: the file is added whole first; on an error, the rules before the failing one
//! are already in, and the remaining rules are added one by one.

use boreal::compiler::CompilerBuilder;
use boreal::scanner::ScanParams;

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
    compiler: boreal::Compiler,
    files: usize,
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
        .map(|l| text[..l.range.start.min(text.len())].matches('\n').count() + 1);
    match line {
        Some(l) => format!("line {l}: {}", d.message),
        None => d.message,
    }
}

impl YaraBuilder {
    pub fn new() -> Self {
        let mut compiler = CompilerBuilder::new().build();
        for name in EXTERNALS {
            compiler.define_symbol(name, "");
        }
        YaraBuilder { compiler, files: 0 }
    }

    /// Adds one rule file's text; returns the rules that could not be compiled.
    pub fn add(&mut self, text: &str) -> Vec<RuleError> {
        self.files += 1;
        let ns = format!("file{}", self.files);
        match self.compiler.add_rules_str_in_namespace(text, &ns) {
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
                    match self.compiler.add_rules_str_in_namespace(chunk, &ns) {
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

    pub fn finish(self) -> boreal::Scanner {
        let mut s = self.compiler.finalize();
        // Match libyara's per-string match limit so frequent strings still count fully.
        s.set_scan_params(ScanParams::default().string_max_nb_matches(1_000_000));
        s
    }
}
