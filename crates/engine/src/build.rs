//! Building the immutable [`Engine`]: patterns compiled and shared, the hash index and the
//! atom indexes built side by side.

use super::*;

pub(crate) struct LogicalMeta {
    pub(crate) name: String,
    pub(crate) target: u8,
    pub(crate) source: u32,
    pub(crate) expr: Expr,
    pub(crate) file_size: Option<Range>,
    pub(crate) entry_point: Option<Range>,
    pub(crate) sections: Option<Range>,
    pub(crate) container: Option<String>,
    pub(crate) intermediates: Option<Vec<String>>,
    /// Byte-compare subsignatures: (index, the comparison).
    pub(crate) bcmps: Vec<(u32, detente_sigs::ByteCmp)>,
    /// PCRE subsignatures, in index order (they run in that order).
    pub(crate) pcres: Vec<crate::pcre::PcreSub>,
    pub(crate) base: u32,
    pub(crate) nsubs: u32,
}

impl EngineBuilder {
    /// Compiles everything loaded into an engine.
    pub fn build(mut self) -> Engine {
        let ignored: HashSet<String> = std::mem::take(&mut self.ignored).into_iter().collect();
        let mut report = std::mem::take(&mut self.report);
        let keep = |n: &str, report: &mut LoadReport| {
            if !ignored.is_empty() && ignored.contains(n) {
                report.ignored += 1;
                false
            } else {
                true
            }
        };

        let mut hash_stores = std::mem::take(&mut self.hashes);
        let mut section_stores = std::mem::take(&mut self.sections);
        if !ignored.is_empty() {
            for s in hash_stores.iter_mut().chain(section_stores.iter_mut()) {
                s.retain(|n| keep(n, &mut report));
            }
        }

        let body_parts = std::mem::take(&mut self.bodies);
        let nbodies: usize = body_parts.iter().map(|(_, b)| b.len()).sum();
        let mut patterns: Vec<Pattern> = Vec::with_capacity(nbodies);
        let mut atoms: Vec<(u32, body::Atom)> = Vec::with_capacity(nbodies);
        let mut bodies: Vec<(String, u32)> = Vec::with_capacity(nbodies);
        let all_bodies = body_parts
            .into_iter()
            .flat_map(|(src, b)| b.into_iter().map(move |(n, t7, c)| (n, src, t7, c)));
        for (name, src, target, compiled) in all_bodies {
            if !keep(&name, &mut report) {
                continue;
            }
            match compiled {
                Some((mut compiled, variants)) => {
                    // ClamAV's Boyer-Moore matcher takes target-1 signatures of static bytes
                    // whose offset has no shift (`SEx` among them).
                    compiled.exact_in_big_pe = target == 1
                        && matches!(
                            compiled.offset,
                            detente_sigs::Offset::InSection { extra: 0, .. }
                        )
                        && compiled
                            .toks
                            .iter()
                            .all(|t| matches!(t, body::Tok::Lit { .. }));
                    atoms.push((patterns.len() as u32, variants));
                    patterns.push(Pattern {
                        compiled,
                        owners: vec![Owner::Body(bodies.len() as u32)],
                        target,
                    });
                    bodies.push((name, src));
                }
                None => report.no_atom += 1,
            }
        }

        let mut lsigs: Vec<LogicalMeta> = Vec::new();
        let mut always = Vec::new();
        let mut base = 0u32;
        // Subsignature patterns by hash, to share identical ones between logical signatures.
        let mut shared: HashMap<u64, Vec<u32>> = HashMap::new();
        // Per subsignature slot, its patterns (one, or two for `::wa`): slot_pats[slot_start..].
        let mut slot_pats: Vec<u32> = Vec::new();
        let mut slot_start: Vec<u32> = vec![0];
        'lsig: for (l, src) in std::mem::take(&mut self.logicals)
            .into_iter()
            .zip(std::mem::take(&mut self.lsig_src))
        {
            if !keep(&l.name, &mut report) {
                continue;
            }
            let id = lsigs.len() as u32;
            let mut pats: Vec<(usize, Compiled, body::Atom)> = Vec::new();
            let mut pcres = Vec::new();
            let mut bcmps = Vec::new();
            for (si, sub) in l.subsigs.iter().enumerate() {
                if let Some(b) = &sub.byte_cmp {
                    bcmps.push((si as u32, b.clone()));
                    continue;
                }
                if let Some(p) = &sub.pcre {
                    match crate::pcre::compile(si as u32, sub.offset, p) {
                        Ok(c) => pcres.push(c),
                        Err(crate::pcre::Refused::Unsupported) => {
                            report.skipped.pcre += 1;
                            continue 'lsig;
                        }
                        Err(crate::pcre::Refused::Invalid(why)) => {
                            report.pcre_invalid.push(format!("{}: {why}", l.name));
                            continue 'lsig;
                        }
                    }
                    continue;
                }
                let m = sub.modifiers;
                let base_pat = if m.nocase {
                    sub.pattern.case_folded()
                } else {
                    sub.pattern.clone()
                };
                let mut forms = Vec::new();
                if !m.wide || m.ascii {
                    forms.push(base_pat.clone());
                }
                if m.wide {
                    forms.push(base_pat.widened());
                }
                for f in forms {
                    let Some((compiled, variants)) = body::compile(&f, sub.offset, m.fullword)
                    else {
                        report.no_atom += 1;
                        continue 'lsig;
                    };
                    pats.push((si, compiled, variants));
                }
            }
            let nsubs = l.subsigs.len() as u32;
            let target = l.target as u8;
            for si in 0..l.subsigs.len() {
                let forms = pats.iter().take_while(|p| p.0 == si).count();
                for (_, compiled, atom) in pats.drain(..forms).collect::<Vec<_>>() {
                    let owner = Owner::Sub { lsig: id };
                    let key = {
                        let mut h = std::hash::DefaultHasher::new();
                        (&compiled, target).hash(&mut h);
                        h.finish()
                    };
                    let bucket = shared.entry(key).or_default();
                    let same = bucket.iter().copied().find(|&p| {
                        let q = &patterns[p as usize];
                        q.compiled == compiled && q.target == target
                    });
                    let pid = match same {
                        // The same subsignature pattern twice in one slot (`::wa` forms of
                        // a pattern that widening leaves unchanged) counts once.
                        Some(p)
                            if slot_pats[*slot_start.last().unwrap_or(&0) as usize..]
                                .contains(&p) =>
                        {
                            continue
                        }
                        Some(p) => {
                            patterns[p as usize].owners.push(owner);
                            p
                        }
                        None => {
                            let p = patterns.len() as u32;
                            bucket.push(p);
                            atoms.push((p, atom));
                            patterns.push(Pattern {
                                compiled,
                                owners: vec![owner],
                                target,
                            });
                            p
                        }
                    };
                    slot_pats.push(pid);
                }
                slot_start.push(slot_pats.len() as u32);
            }
            let zeros = vec![0; nsubs as usize];
            // A PCRE subsignature whose trigger holds with no match at all may make the
            // signature true in any buffer.
            if l.expr.eval(&zeros) || pcres.iter().any(|p| p.trigger.eval(&zeros)) {
                always.push(id);
            }
            lsigs.push(LogicalMeta {
                name: l.name,
                target,
                source: src,
                expr: l.expr,
                file_size: l.file_size,
                entry_point: l.entry_point,
                sections: l.sections,
                container: l.container,
                intermediates: l.intermediates,
                bcmps,
                pcres,
                base,
                nsubs,
            });
            base += nsubs;
        }

        let report_hash = hash_stores
            .iter()
            .chain(&section_stores)
            .map(HashStore::len)
            .sum();
        let sections = HashIndex::build(section_stores);
        let yara = self.yara.map(|y| {
            let (scanner, errors) = y.finish();
            report.yara_errors.extend(errors);
            scanner
        });
        report.hash = report_hash;
        report.body = bodies.len();
        report.logical = lsigs.len();
        let allow = std::mem::take(&mut self.allow);
        report.allow = allow.iter().map(HashStore::len).sum();
        report.yara_rules = yara
            .as_ref()
            .map_or(0, |s| s.rules().filter(|r| !r.is_private).count());
        let text_atoms = |patterns: &[Pattern]| {
            AtomIndex::build(
                atoms
                    .iter()
                    .filter(|(pid, _)| {
                        let p = &patterns[*pid as usize];
                        p.compiled.matches_text && (p.target == 0 || p.target == 7)
                    })
                    .map(|(pid, a)| (*pid, a)),
            )
        };
        // The hash index and the two atom indexes are independent: build them side by side.
        let (hashes, all_atoms, text_atoms) = std::thread::scope(|s| {
            let hashes = s.spawn(|| HashIndex::build(hash_stores));
            let text = s.spawn(|| text_atoms(&patterns));
            let all = AtomIndex::build(atoms.iter().map(|(pid, a)| (*pid, a)));
            let resume = std::panic::resume_unwind;
            let text = text.join().unwrap_or_else(|p| resume(p));
            (hashes.join().unwrap_or_else(|p| resume(p)), all, text)
        });
        Engine {
            sources: self.sources,
            hashes,
            allow_idx: HashIndex::build(allow),
            sections,
            text_atoms,
            has_pcre: lsigs.iter().any(|l| !l.pcres.is_empty()),
            needs_layout: {
                use detente_sigs::Offset;
                let relative = |o: &Offset| !matches!(o, Offset::Any | Offset::Abs { .. });
                patterns.iter().any(|p| relative(&p.compiled.offset))
                    || lsigs.iter().any(|l| {
                        l.entry_point.is_some()
                            || l.sections.is_some()
                            || l.pcres.iter().any(|p| relative(&p.offset))
                    })
            },
            atoms: all_atoms,
            patterns,
            bodies,
            lsigs,
            always_lsigs: always,
            slot_pats,
            slot_start,
            yara,
            ignored,
            report,
        }
    }
}

/// Compiled signatures, shared by all scanning threads.
pub struct Engine {
    pub(crate) sources: Vec<String>,
    pub(crate) hashes: HashIndex,
    pub(crate) allow_idx: HashIndex,
    pub(crate) sections: HashIndex,
    pub(crate) atoms: AtomIndex,
    /// The atoms of the patterns that can match normalised text.
    pub(crate) text_atoms: AtomIndex,
    /// Whether some logical signature has a PCRE subsignature (which needs the normalised
    /// text even when no pattern can match it).
    pub(crate) has_pcre: bool,
    /// Whether some signature counts from the end of a file or from an executable's layout
    /// (otherwise no layout is read: nothing would look at it).
    pub(crate) needs_layout: bool,
    pub(crate) patterns: Vec<Pattern>,
    pub(crate) bodies: Vec<(String, u32)>,
    pub(crate) lsigs: Vec<LogicalMeta>,
    pub(crate) always_lsigs: Vec<u32>,
    /// The patterns of each subsignature slot (`base + sub` of a logical signature):
    /// `slot_pats[slot_start[slot]..slot_start[slot + 1]]`.
    pub(crate) slot_pats: Vec<u32>,
    pub(crate) slot_start: Vec<u32>,
    pub(crate) yara: Option<boreal::Scanner>,
    pub(crate) ignored: HashSet<String>,
    pub(crate) report: LoadReport,
}

impl Engine {
    /// A scanner for one thread.
    pub fn scanner(&self) -> Scanner<'_> {
        Scanner {
            engine: self,
            yara: self.yara.clone(),
            body_done: vec![false; self.bodies.len()],
            lsig_done: vec![false; self.lsigs.len()],
            lsig_touched: vec![false; self.lsigs.len()],
            memos: (0..self.patterns.len()).map(|_| Memo::default()).collect(),
            live_memos: Vec::new(),
            work: 0,
            incomplete: false,
            reported: Vec::new(),
            pcount: vec![0; self.patterns.len()],
            plast: vec![usize::MAX; self.patterns.len()],
            counted: Vec::new(),
            slot_counts: Vec::new(),
            touched: Vec::new(),
            touched_bodies: Vec::new(),
        }
    }

    /// The load report.
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Name of database `i` (a file name, or `container/member`); "YARA" for YARA rules.
    pub fn source_name(&self, i: u32) -> &str {
        self.sources.get(i as usize).map_or("YARA", |s| s.as_str())
    }

    /// Whether any signatures are loaded.
    pub fn is_empty(&self) -> bool {
        self.report.signatures() == 0
    }
}
