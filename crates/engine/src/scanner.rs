//! Per-thread scanning: hashes, body and logical signatures (raw and normalised text), YARA.

use super::*;
use crate::body::Tok;
use crate::exe;
use crate::filetype::{self, FileType};
use detente_sigs::Frame;

/// ClamAV's scan window (`SCANBUFF`): without `--allmatch`, type-specific signatures win
/// over generic ones within one window. (ClamAV's windows overlap by its longest pattern;
/// these do not.)
const SCAN_WINDOW: usize = 128 * 1024;

/// A step run between body matching and logical signatures (the hash signatures).
type Between<'a> = dyn FnMut(&mut Vec<Detection>) + 'a;

/// Per-thread scanning state.
pub struct Scanner<'e> {
    pub(crate) engine: &'e Engine,
    pub(crate) yara: Option<boreal::Scanner>,
    pub(crate) body_done: Vec<bool>,
    pub(crate) lsig_done: Vec<bool>,
    /// Logical signatures in `touched` (a flag each, so marking one costs no search).
    pub(crate) lsig_touched: Vec<bool>,
    /// Verification state per pattern, for the buffer being matched.
    pub(crate) memos: Vec<Memo>,
    /// Patterns whose memo is live in the buffer being matched.
    pub(crate) live_memos: Vec<u32>,
    /// Matcher steps taken in the last [`Scanner::scan`].
    pub(crate) work: u64,
    /// Whether the last [`Scanner::scan`] ran out of a matcher budget.
    pub(crate) incomplete: bool,
    pub(crate) reported: Vec<u32>,
    /// Per pattern, matches counted in this buffer (for logical signatures) and the start of
    /// the last one counted.
    pub(crate) pcount: Vec<u32>,
    pub(crate) plast: Vec<usize>,
    /// Patterns with a count in this buffer.
    pub(crate) counted: Vec<u32>,
    /// Scratch: the counts of one logical signature's subsignatures.
    pub(crate) slot_counts: Vec<u32>,
    pub(crate) touched: Vec<u32>,
    pub(crate) touched_bodies: Vec<u32>,
}

/// One pass of body and logical signatures over a buffer.
struct Pass<'a> {
    /// The target whose signatures apply besides target 0.
    target: u8,
    /// Normalised text rather than the raw file.
    normalized: bool,
    /// What offsets count from.
    frame: Frame<'a>,
    /// ClamAV type names of the layers above, the outermost first.
    ancestors: &'a [&'a str],
}

/// Whether a logical signature's `Container` and `Intermediates` conditions hold for a buffer
/// with these ancestors. ClamAV reaches an Office Open XML document's members twice: as the
/// document's, and through the zip it also finds in the same bytes (one layer deeper, the
/// zip's parent being the document); the conditions hold if they hold on either path.
fn layers_hold(container: Option<&str>, inter: Option<&[String]>, ancestors: &[&str]) -> bool {
    let holds = |a: &[&str]| {
        // A file scanned as itself has, as ClamAV sees it, a parent of type ANY.
        let parent = a.last().copied().unwrap_or("CL_TYPE_ANY");
        container.is_none_or(|c| c == parent) && inter.is_none_or(|i| intermediates_hold(i, a))
    };
    if holds(ancestors) {
        return true;
    }
    if !ancestors.iter().any(|a| a.starts_with("CL_TYPE_OOXML_")) {
        return false;
    }
    let mut via_zip = Vec::with_capacity(ancestors.len() * 2);
    for a in ancestors {
        via_zip.push(*a);
        if a.starts_with("CL_TYPE_OOXML_") {
            via_zip.push("CL_TYPE_ZIP");
        }
    }
    holds(&via_zip)
}

/// `Intermediates:A>B>C` as ClamAV checks it: at least as many layers above as entries;
/// from the last entry (the immediate parent) up, each entry other than `CL_TYPE_ANY` names
/// the next layer up (`CL_TYPE_ANY` entries are skipped without using a layer).
fn intermediates_hold(list: &[String], ancestors: &[&str]) -> bool {
    if ancestors.len() < list.len() {
        return false;
    }
    let mut up = ancestors.iter().rev();
    list.iter()
        .rev()
        .filter(|t| *t != "CL_TYPE_ANY")
        .all(|t| up.next().is_some_and(|a| a == t))
}

/// Source index used for YARA detections.
pub const YARA_SOURCE: u32 = u32::MAX;

impl Scanner<'_> {
    /// Scans one buffer. With `all`, reports every matching signature, else stops at the first.
    pub fn scan(&mut self, data: &[u8], meta: &FileMeta<'_>, all: bool) -> Vec<Detection> {
        let e = self.engine;
        self.work = 0;
        self.incomplete = false;
        let size = data.len() as u64;
        let mut out = Vec::new();
        if data.is_empty() {
            // As in ClamAV, empty files are neither hashed nor matched; YARA rules still run
            // (`filesize == 0` is a condition like any other).
            self.scan_yara(data, meta, all, &mut out);
            return out;
        }

        let mut digests = Digests::default();
        if !e.allow_idx.is_empty() {
            digests.compute(data, e.allow_idx.needed(size));
            let mut allowed = false;
            e.allow_idx.lookup(&digests, size, |_, _| allowed = true);
            if allowed {
                return out;
            }
        }

        // The file's type decides which targets apply, and an executable's layout what its
        // relative offsets count from (a header that can't be read lets none match).
        let ft = match meta.typed {
            Some(t) => t,
            None if e.patterns.is_empty() => FileType::Binary,
            None => filetype::file_type(data),
        };
        if ft == FileType::Html && meta.typed.is_none() {
            // ClamAV does not scan an HTML file raw: only its normalised documents (scanned
            // by the caller) are matched. YARA rules see the file as it is.
            self.scan_yara(data, meta, all, &mut out);
            return out;
        }
        let exe = ft.is_executable() && e.needs_layout && meta.typed.is_none();
        let layout = if exe { exe::layout(ft, data) } else { None };
        let frame = match (exe, &layout) {
            (false, _) => Frame::Plain(size),
            (true, Some(l)) => Frame::Exe(size, l),
            (true, None) => Frame::Broken,
        };
        let raw = Pass {
            target: ft.target(),
            normalized: false,
            frame,
            ancestors: meta.ancestors,
        };
        // ClamAV's order within one layer (`cli_scan_fmap`): body signatures as the data is
        // read, then the file's hashes, then the logical signatures.
        let mut hashes = |out: &mut Vec<Detection>| {
            if !e.hashes.is_empty() {
                e.hashes.detect(data, &mut digests, out);
            }
        };
        self.scan_bodies(data, &raw, all, &mut out, Some(&mut hashes));
        if !all && !out.is_empty() {
            self.reset_done();
            out.truncate(1);
            return out;
        }
        // Text (not a file whose magic makes it a type of its own) is also normalised, for
        // target-7 signatures and target-0 ones.
        let textual = matches!(ft, FileType::Text | FileType::Binary | FileType::Mail)
            && meta.typed.is_none()
            && !meta.html_normalized;
        if (all || out.is_empty())
            && !e.patterns.is_empty()
            && textual
            && data.len() <= text::MAX_NORMALIZE
            && text::is_text(data)
        {
            let pass = Pass {
                target: 7,
                normalized: true,
                frame: Frame::Plain(size),
                ancestors: meta.ancestors,
            };
            if e.text_atoms.is_empty() && !e.has_pcre {
                // No pattern can match normalised text: its pass only evaluates the logical
                // signatures that hold with no match at all.
                self.scan_bodies(&[], &pass, all, &mut out, None);
            } else {
                let norm = text::normalize(data);
                self.scan_bodies(&norm, &pass, all, &mut out, None);
            }
        }
        self.reset_done();
        if !all && !out.is_empty() {
            out.truncate(1);
            return out;
        }
        // Then, for a PE, the hashes of its sections (ClamAV checks them in its PE parser,
        // after the raw scan).
        if meta.typed.is_some() {
            return out;
        }
        if !e.sections.is_empty() {
            for r in pe::sections(data) {
                e.sections
                    .detect(&data[r], &mut Digests::default(), &mut out);
            }
            if !all && !out.is_empty() {
                out.truncate(1);
                return out;
            }
        }

        self.scan_yara(data, meta, all, &mut out);
        out
    }

    /// Matcher steps the last [`Scanner::scan`] took (verifications of atom hits): a measure of
    /// work that does not depend on the machine, for tests of the matcher's cost.
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Whether the last [`Scanner::scan`] stopped some pattern's verification at its budget, so
    /// "no match" for that pattern is not a verdict over the whole buffer.
    pub fn incomplete(&self) -> bool {
        self.incomplete
    }

    /// Runs the YARA rules, with the external variables set for this buffer.
    fn scan_yara(&mut self, data: &[u8], meta: &FileMeta<'_>, all: bool, out: &mut Vec<Detection>) {
        let e = self.engine;
        if let Some(y) = self.yara.as_mut() {
            let ft = file_type(data);
            for (k, v) in [
                ("filename", meta.filename),
                ("filepath", meta.filepath),
                ("extension", meta.extension),
                ("filetype", ft),
                ("owner", meta.owner),
            ] {
                let _ = y.define_symbol(k, v);
            }
            let res = match y.scan_mem(data) {
                Ok(r) => r,
                Err((_, r)) => r,
            };
            for r in res.rules {
                if e.ignored.contains(r.name) {
                    continue;
                }
                out.push(Detection {
                    name: format!("YARA.{}", r.name),
                    source: YARA_SOURCE,
                    offset: None,
                });
                if !all {
                    break;
                }
            }
        }
    }

    /// Matches body and logical signatures over `data`: the raw bytes, or (`normalized`) their
    /// normalised text. Target-0 signatures apply to both; a pass's own target's signatures
    /// too (the file type's on raw bytes, 7 on normalised text). `EOF-n` offsets of target-0
    /// signatures do not apply to normalised text (ClamAV computes them for the raw file
    /// only); offsets from the end and `FileSize` conditions use the raw file's size.
    /// Forgets which body and logical signatures were reported (for the next file).
    fn reset_done(&mut self) {
        for b in self.touched_bodies.drain(..) {
            self.body_done[b as usize] = false;
        }
        for l in self.reported.drain(..) {
            self.lsig_done[l as usize] = false;
        }
    }

    /// Matches the body signatures over `data`, then runs `between` (the hash signatures),
    /// then evaluates the logical signatures, each step skipped once a detection ended the
    /// scan (without `--allmatch`).
    fn scan_bodies(
        &mut self,
        data: &[u8],
        pass: &Pass<'_>,
        all: bool,
        out: &mut Vec<Detection>,
        between: Option<&mut Between<'_>>,
    ) {
        let e = self.engine;
        if e.patterns.is_empty() {
            if let Some(f) = between {
                f(out);
            }
            return;
        }
        let normalized = pass.normalized;
        let size = match pass.frame {
            Frame::Plain(n) | Frame::Exe(n, _) => n,
            Frame::Bare | Frame::Broken => data.len() as u64,
        };
        let mut stop = false;
        {
            let memos = &mut self.memos;
            let live_memos = &mut self.live_memos;
            let lsig_touched = &mut self.lsig_touched;
            let body_done = &mut self.body_done;
            let pcount = &mut self.pcount;
            let plast = &mut self.plast;
            let counted = &mut self.counted;
            let touched = &mut self.touched;
            let touched_bodies = &mut self.touched_bodies;
            let atoms = if normalized { &e.text_atoms } else { &e.atoms };
            // Without --allmatch, ClamAV's `cli_scan_fmap` runs the file type's signatures
            // over each 128 KiB window before the generic ones: a generic match is held
            // until the end of its window, and a type-specific match there replaces it.
            let mut pending: Option<(usize, usize)> = None;
            atoms.find(data, |pid, pos| {
                if stop {
                    return;
                }
                if let Some((_, end)) = pending {
                    if pos >= end {
                        stop = true;
                        return;
                    }
                }
                let Some(p) = e.patterns.get(pid as usize) else {
                    return;
                };
                if p.target != 0 && p.target != pass.target {
                    return;
                }
                if pending.is_some() && p.target == 0 {
                    return;
                }
                // Nothing to learn when every owner is a body signature already found.
                let wanted = p.owners.iter().any(|o| match o {
                    Owner::Body(b) => !body_done[*b as usize],
                    Owner::Sub { .. } => true,
                });
                if !wanted {
                    return;
                }
                let frame = if normalized && p.target == 0 {
                    Frame::Bare
                } else {
                    pass.frame
                };
                let Some(memo) = memos.get_mut(pid as usize) else {
                    return;
                };
                if !memo.live() {
                    // Only jumps keep state: a pattern without one needs no per-token table.
                    let jumps = p.compiled.toks.iter().any(|t| matches!(t, Tok::Gap { .. }));
                    memo.start(if jumps { p.compiled.toks.len() } else { 0 }, data.len());
                    live_memos.push(pid);
                }
                let Some(start) = verify::verify(&p.compiled, data, pos, frame, memo) else {
                    return;
                };
                let mut first_count = false;
                for o in &p.owners {
                    match *o {
                        Owner::Body(b) => {
                            if body_done[b as usize] || stop {
                                continue;
                            }
                            body_done[b as usize] = true;
                            touched_bodies.push(b);
                            let (name, src) = &e.bodies[b as usize];
                            let found = Detection {
                                name: name.clone(),
                                source: *src,
                                offset: Some(start as u64),
                            };
                            if all {
                                out.push(found);
                            } else if p.target != 0 {
                                if let Some((i, _)) = pending.take() {
                                    out.truncate(i);
                                }
                                out.push(found);
                                stop = true;
                            } else {
                                let window = (start / SCAN_WINDOW + 1) * SCAN_WINDOW;
                                pending = Some((out.len(), window));
                                out.push(found);
                            }
                        }
                        Owner::Sub { lsig, .. } => {
                            let i = pid as usize;
                            if !first_count {
                                if plast[i] != usize::MAX && start <= plast[i] {
                                    // Not a new match for counting: no owner counts it.
                                    break;
                                }
                                if pcount[i] == 0 {
                                    counted.push(pid);
                                }
                                pcount[i] = pcount[i].saturating_add(1);
                                plast[i] = start;
                                first_count = true;
                                if pcount[i] > 1 {
                                    // The owners (all subsignatures: body patterns are not
                                    // shared) were marked at the first match: one count per
                                    // hit, however many signatures share the pattern.
                                    break;
                                }
                            }
                            if pcount[i] == 1 && !lsig_touched[lsig as usize] {
                                lsig_touched[lsig as usize] = true;
                                touched.push(lsig);
                            }
                        }
                    }
                }
            });
            if pending.is_some() {
                stop = true;
            }
        }
        if let Some(f) = between {
            if all || !stop {
                let n = out.len();
                f(out);
                if out.len() > n && !all {
                    stop = true;
                }
            }
        }
        // Evaluate logical signatures that saw a match, and those true with no match at all.
        let mut cands: Vec<u32> = self.touched.clone();
        for &a in &e.always_lsigs {
            if !self.lsig_touched[a as usize] {
                cands.push(a);
            }
        }
        cands.sort_unstable();
        if !stop || all {
            for id in cands {
                let l = &e.lsigs[id as usize];
                if self.lsig_done[id as usize] || (l.target != 0 && l.target != pass.target) {
                    continue;
                }
                let outside = |r: Option<Range>, v: u64| r.is_some_and(|r| v < r.min || v > r.max);
                if outside(l.file_size, size) {
                    continue;
                }
                if (l.container.is_some() || l.intermediates.is_some())
                    && !layers_hold(
                        l.container.as_deref(),
                        l.intermediates.as_deref(),
                        pass.ancestors,
                    )
                {
                    continue;
                }
                if l.entry_point.is_some() || l.sections.is_some() {
                    // Both need the executable's layout (ClamAV: a successful header parse).
                    let Frame::Exe(_, x) = pass.frame else {
                        continue;
                    };
                    if outside(l.entry_point, x.entry)
                        || outside(l.sections, x.sections.len() as u64)
                    {
                        continue;
                    }
                }
                self.slot_counts.clear();
                for slot in l.base..l.base + l.nsubs {
                    let s = slot as usize;
                    let (a, b) = (e.slot_start[s] as usize, e.slot_start[s + 1] as usize);
                    let n = e.slot_pats[a..b]
                        .iter()
                        .map(|&p| self.pcount[p as usize])
                        .fold(0u32, u32::saturating_add);
                    self.slot_counts.push(n);
                }
                // Byte-compare subsignatures: a number read at an offset from the start of
                // the last match of subsignature N.
                for (slot, b) in &l.bcmps {
                    let n = b.subsig as usize;
                    if n >= l.nsubs as usize || self.slot_counts.get(n).is_none_or(|c| *c == 0) {
                        continue;
                    }
                    let s = (l.base as usize) + n;
                    let (a, z) = (e.slot_start[s] as usize, e.slot_start[s + 1] as usize);
                    let last = e.slot_pats[a..z]
                        .iter()
                        .filter(|&&p| self.pcount[p as usize] > 0)
                        .map(|&p| self.plast[p as usize])
                        .max();
                    let hit = last.is_some_and(|at| crate::bytecmp::holds(b, data, at));
                    if let Some(c) = self.slot_counts.get_mut(*slot as usize) {
                        *c = u32::from(hit);
                    }
                }
                // PCRE subsignatures last, in order, each when its trigger holds.
                for p in &l.pcres {
                    if p.trigger.eval(&self.slot_counts) {
                        // On normalised text, offsets count within the normalised buffer.
                        let frame = if normalized {
                            Frame::Plain(data.len() as u64)
                        } else {
                            pass.frame
                        };
                        let (n, incomplete) = p.count(data, frame);
                        self.incomplete |= incomplete;
                        if let Some(c) = self.slot_counts.get_mut(p.slot as usize) {
                            *c = n;
                        }
                    }
                }
                if l.expr.eval(&self.slot_counts) {
                    self.lsig_done[id as usize] = true;
                    self.reported.push(id);
                    out.push(Detection {
                        name: l.name.clone(),
                        source: l.source,
                        offset: None,
                    });
                    if !all {
                        break;
                    }
                }
            }
        }
        // Reset per-buffer state.
        for pid in self.live_memos.drain(..) {
            if let Some(m) = self.memos.get_mut(pid as usize) {
                self.work += m.steps();
                self.incomplete |= m.exhausted();
                m.clear();
            }
        }
        for pid in self.counted.drain(..) {
            self.pcount[pid as usize] = 0;
            self.plast[pid as usize] = usize::MAX;
        }
        for id in self.touched.drain(..) {
            self.lsig_touched[id as usize] = false;
        }
    }
}
