//! OLE2 compound files (Word, Excel and PowerPoint 97–2003, MSI, Outlook `.msg`, ...), walked
//! as ClamAV's `cli_ole2_extract` walks them.
//!
//! The file is a small FAT file system: a header, a FAT of sector chains (its sectors listed
//! in the header and in a chain of extension sectors), a directory of 128-byte entries, and a
//! mini stream of 64-byte blocks for streams under the header's cutoff (4,096 bytes).
//!
//! The directory is walked as ClamAV walks it: from the root entry, each entry's child
//! first (its own walk), then its siblings through a stack (`prev` then `next` pushed, so
//! `next` is visited first). An entry seen twice (a loop) ends the whole walk; a storage
//! nested deeper than `--max-recursion` ends it too, with that limit. A stream is taken when
//! its declared size is within `--max-filesize` or within what is left of the walk's own
//! count of `--max-scansize`; `--max-files` is checked before each stream, counting the
//! layers already scanned plus the streams taken, as ClamAV counts them.
//!
//! A document with a Word, PowerPoint, VBA or embedded-object (`\x01Ole10Native`) stream is
//! scanned as ClamAV scans it after writing it out, storage by storage (see
//! [`scan_storage`]): each embedded object unwrapped from its `Ole10Native` header, then the
//! streams; each VBA project (its `dir` stream) at or below the storage is listed with its
//! macro source (see [`crate::vba`]) and the listing scanned as a script. Other files have
//! every stream scanned in walk order.
//!
//! Everything read is bounded by the file: each chain is followed at most once per block
//! (a block met twice ends the stream, as in ClamAV), and the bytes extracted are charged
//! against the inflation budget, so many entries sharing one long chain cost at most that
//! budget. Sectors of 4,096 bytes (version 4) are read as the specification says; ClamAV
//! reads every sector as if it were 512 bytes long, so for such files the two may differ.

use std::collections::HashSet;

use detente_engine::filetype::FileType;

use crate::archive::{Flow, Host, Limit, Member};

/// The OLE2 signature.
pub const MAGIC: &[u8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1";

const HEADER_LEN: usize = 512;
const ENTRY_LEN: usize = 128;
/// ClamAV's bounds on the directory walk: nesting and streams.
const MAX_LEVEL: u32 = 100;
const MAX_STREAMS: u64 = 100_000;

/// An OLE2 file's layout, sans I/O: every read is a slice of `data`.
struct Doc<'a> {
    data: &'a [u8],
    shift: u32,
    mini_shift: u32,
    cutoff: u32,
    /// Sectors of the FAT, in order.
    fat: Vec<i32>,
    /// Sectors of the mini FAT, in order.
    mini_fat: Vec<i32>,
    /// Sectors of the directory, in order.
    dir: Vec<i32>,
    /// Sectors of the mini stream (the root entry's chain), in order.
    mini_stream: Vec<i32>,
    /// ClamAV's bound on block and entry numbers.
    max_block: i64,
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

impl<'a> Doc<'a> {
    fn parse(data: &'a [u8]) -> Option<Doc<'a>> {
        if data.len() < HEADER_LEN || !data.starts_with(MAGIC) {
            return None;
        }
        let shift = u32::from(le16(data, 30)?);
        let mini_shift = le32(data, 32)?;
        // ClamAV's checks: a sector of 2^6 to 2^28 bytes, a mini block no larger.
        if !(6..=28).contains(&shift) || mini_shift == 0 || mini_shift > shift {
            return None;
        }
        let bat_count = le32(data, 44)?;
        let mut doc = Doc {
            data,
            shift,
            mini_shift,
            cutoff: le32(data, 56)?,
            fat: Vec::new(),
            mini_fat: Vec::new(),
            dir: Vec::new(),
            mini_stream: Vec::new(),
            max_block: (data.len() as i64 - (HEADER_LEN as i64).max(1 << shift)) >> mini_shift,
        };
        let sectors = data.len() >> shift.min(9);
        // The header lists the first 109 FAT sectors (ClamAV reads index `bat_count` too).
        for i in 0..109usize {
            if i as u64 > u64::from(bat_count) {
                break;
            }
            doc.fat.push(le32(data, 76 + 4 * i)? as i32);
        }
        // Then a chain of extension sectors, each listing FAT sectors and, last, the next one.
        if doc.fat.len() == 109 {
            let per = doc.per_sector() - 1;
            let mut x = le32(data, 68)? as i32;
            let mut seen = HashSet::new();
            while x >= 0 && seen.insert(x) && doc.fat.len() < sectors {
                let Some(s) = doc.sector(x) else { break };
                for i in 0..per {
                    doc.fat.push(le32(&s, 4 * i).unwrap_or(u32::MAX) as i32);
                }
                x = le32(&s, 4 * per).unwrap_or(u32::MAX) as i32;
            }
        }
        doc.dir = doc.chain(le32(data, 48)? as i32);
        doc.mini_fat = doc.chain(le32(data, 60)? as i32);
        // The root entry (entry 0) gives the mini stream's first sector.
        if let Some(root) = doc.entry(0) {
            if root.kind == 5 {
                doc.mini_stream = doc.chain(root.start);
            }
        }
        Some(doc)
    }

    fn sector_len(&self) -> usize {
        1 << self.shift
    }

    /// 32-bit entries in one sector.
    fn per_sector(&self) -> usize {
        self.sector_len() / 4
    }

    /// Sector `id`, as ClamAV's `ole2_read_block` reads it: sectors follow a header of 512
    /// bytes (or one sector, when sectors are larger); a sector cut short by the end of the
    /// file is padded with zeros; one starting past the end is unreadable.
    fn sector(&self, id: i32) -> Option<Vec<u8>> {
        let len = self.sector_len();
        let off = self.sector_at(id)?;
        let end = (off + len).min(self.data.len());
        let mut s = self.data[off..end].to_vec();
        s.resize(len, 0);
        Some(s)
    }

    /// Where sector `id` starts, if it starts within the file (as [`Doc::sector`] reads it).
    fn sector_at(&self, id: i32) -> Option<usize> {
        let id = usize::try_from(id).ok()?;
        let off = id
            .checked_shl(self.shift)?
            .checked_add(HEADER_LEN.max(self.sector_len()))?;
        (off < self.data.len() && off <= i32::MAX as usize).then_some(off)
    }

    /// Entry `i` of the table held in sector `id`, read in place (past the end of the file
    /// a sector reads as zeros, as in [`Doc::sector`]); -1 when the sector is unreadable.
    fn table_entry(&self, id: i32, i: usize) -> i32 {
        match self.sector_at(id) {
            Some(off) => le32(self.data, off + 4 * i).unwrap_or(0) as i32,
            None => -1,
        }
    }

    /// The FAT's entry for `block`: the next block of its chain (negative at the end).
    fn next(&self, block: i32) -> i32 {
        let Ok(b) = usize::try_from(block) else {
            return -1;
        };
        let per = self.per_sector();
        self.fat
            .get(b / per)
            .map_or(-1, |&s| self.table_entry(s, b % per))
    }

    /// The mini FAT's entry for mini block `block`.
    fn mini_next(&self, block: i32) -> i32 {
        let Ok(b) = usize::try_from(block) else {
            return -1;
        };
        let per = self.per_sector();
        self.mini_fat
            .get(b / per)
            .map_or(-1, |&s| self.table_entry(s, b % per))
    }

    /// The sectors of the chain starting at `start`, until it ends, loops or leaves the file.
    fn chain(&self, start: i32) -> Vec<i32> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut cur = start;
        while cur >= 0 && self.sector_at(cur).is_some() && seen.insert(cur) {
            out.push(cur);
            cur = self.next(cur);
        }
        out
    }

    /// Directory entry `index`.
    fn entry(&self, index: i32) -> Option<Entry> {
        let i = usize::try_from(index).ok()?;
        let per = self.sector_len() / ENTRY_LEN;
        let s = self.sector(*self.dir.get(i / per)?)?;
        let e = &s[(i % per) * ENTRY_LEN..][..ENTRY_LEN];
        let name_len = usize::from(le16(e, 64)?);
        Some(Entry {
            name: e[..64].to_vec(),
            name_len,
            kind: e[66],
            prev: le32(e, 68)? as i32,
            next: le32(e, 72)? as i32,
            child: le32(e, 76)? as i32,
            start: le32(e, 116)? as i32,
            size: le32(e, 120)?,
        })
    }

    /// A stream's bytes, at most `cap`, as ClamAV's handlers gather them: its chain in the mini
    /// stream (under the cutoff) or in the file, until the declared size is reached, the chain
    /// ends, loops, or leaves the file.
    fn stream(&self, e: &Entry, cap: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut left = u64::from(e.size).min(cap);
        let mut cur = e.start;
        let mut seen = HashSet::new();
        let small = e.size < self.cutoff;
        let mini_len = 1usize << self.mini_shift;
        let per_sector = self.sector_len() >> self.mini_shift;
        while cur >= 0 && left > 0 {
            if i64::from(cur) > self.max_block || !seen.insert(cur) {
                break;
            }
            let b = cur as usize;
            let (bytes, next) = if small {
                let Some(s) = self
                    .mini_stream
                    .get(b / per_sector)
                    .and_then(|&s| self.sector(s))
                else {
                    break;
                };
                let off = (b % per_sector) * mini_len;
                (s[off..off + mini_len].to_vec(), self.mini_next(cur))
            } else {
                let Some(s) = self.sector(cur) else { break };
                (s, self.next(cur))
            };
            let take = (bytes.len() as u64).min(left) as usize;
            out.extend_from_slice(&bytes[..take]);
            left -= take as u64;
            cur = next;
        }
        out
    }
}

/// A directory entry.
struct Entry {
    name: Vec<u8>,
    name_len: usize,
    /// 1 storage, 2 stream, 5 root.
    kind: u8,
    prev: i32,
    next: i32,
    child: i32,
    start: i32,
    size: u32,
}

impl Entry {
    /// ClamAV's printable, lower-cased name (`cli_ole2_get_property_name2`): printable ASCII
    /// lower-cased, a control character below 10 as `_N_`, anything else as `_xyz_`.
    fn name(&self) -> String {
        property_name(&self.name, self.name_len.min(64)).unwrap_or_default()
    }
}

/// The name ClamAV gives a stream or storage (`cli_ole2_get_property_name2`): the UTF-16LE
/// name (`size` bytes with its terminating NUL) in lower case, other characters written as
/// `_N_` or `_xyz_`. `None` for an empty name.
pub(crate) fn property_name(name: &[u8], size: usize) -> Option<String> {
    let mut out = String::new();
    if size == 0 || name.get(..2)? == [0, 0] {
        return None;
    }
    let mut i = 0;
    while i + 2 < size {
        let (Some(&lo), Some(&hi)) = (name.get(i), name.get(i + 1)) else {
            break;
        };
        if lo < 0x80 && (0x20..0x7f).contains(&lo) && hi == 0 {
            out.push(lo.to_ascii_lowercase() as char);
        } else if lo < 10 && hi == 0 {
            out.push('_');
            out.push((b'0' + lo) as char);
            out.push('_');
        } else {
            // As C computes it, with the high byte a signed char.
            let x = (u16::from(lo) << 8) | (hi as i8 as i16 as u16);
            out.push('_');
            for k in [0, 4, 8] {
                out.push((b'a' + ((x >> k) & 0xf) as u8) as char);
            }
            out.push('_');
        }
        i += 2;
    }
    (!out.is_empty()).then_some(out)
}

/// A stream the walk took, in walk order.
struct Taken {
    index: i32,
    name: String,
    /// The storage holding it (an index into the walk's list of storages; 0 is the root).
    storage: usize,
}

/// What the walk of the directory decided.
enum Walked {
    /// Every entry visited.
    Done,
    /// The walk was cut: a loop, or the scan is over.
    Stopped,
}

/// Walks the directory tree in ClamAV's order, calling `take` for each stream it accepts.
/// `take` returns `false` to stop the walk (the scan is over).
/// `storages` receives each storage's parent, in the order the walk meets them (the root,
/// storage 0, has none).
fn walk(
    doc: &Doc<'_>,
    host: &mut dyn Host,
    storages: &mut Vec<Option<usize>>,
    mut take: impl FnMut(&mut dyn Host, Taken) -> bool,
) -> Walked {
    struct Frame {
        stack: Vec<i32>,
        level: u32,
        storage: usize,
    }
    storages.clear();
    storages.push(None);
    let max_recursion = host.budget().max_recursion();
    let mut visited: HashSet<i32> = HashSet::new();
    let mut frames = vec![Frame {
        stack: vec![0],
        level: 0,
        storage: 0,
    }];
    let mut count: u64 = 0;
    // ClamAV's own running count of `--max-scansize` for the walk (its `scansize`).
    let mut scansize = host.budget().remaining();
    while let Some(frame) = frames.last_mut() {
        let Some(cur) = frame.stack.pop() else {
            frames.pop();
            continue;
        };
        let level = frame.level;
        let storage = frame.storage;
        if cur < 0 || i64::from(cur) > doc.max_block {
            continue;
        }
        let Some(e) = doc.entry(cur) else { continue };
        if e.kind == 0 || e.kind > 0x7f || e.name_len > 64 || e.name_len % 2 == 1 {
            continue;
        }
        if !visited.insert(cur) {
            return Walked::Stopped;
        }
        let child_level = match e.kind {
            5 => {
                if cur != 0 || level != 0 || count != 0 {
                    continue;
                }
                level + 1
            }
            2 => {
                let max_files = host.budget().max_files();
                let files = host.budget().files;
                if max_files != u64::MAX
                    && (count > max_files || files > max_files.saturating_sub(count))
                {
                    host.budget().record(Limit::MaxFiles);
                    return Walked::Stopped;
                }
                let size = u64::from(e.size);
                if size <= host.budget().max_filesize() || size <= scansize {
                    count += 1;
                    scansize = scansize.wrapping_sub(size);
                    if !take(
                        host,
                        Taken {
                            index: cur,
                            name: e.name(),
                            storage,
                        },
                    ) {
                        return Walked::Stopped;
                    }
                }
                level
            }
            1 => level + 1,
            _ => {
                // Unknown entry types are passed over, their links not followed.
                continue;
            }
        };
        if let Some(frame) = frames.last_mut() {
            if e.prev != -1 {
                frame.stack.push(e.prev);
            }
            if e.next != -1 {
                frame.stack.push(e.next);
            }
        }
        if e.child != -1 {
            if child_level > MAX_LEVEL || count > MAX_STREAMS {
                continue;
            }
            if child_level > max_recursion {
                host.budget().record(Limit::MaxRecursion);
                return Walked::Stopped;
            }
            let storage = if e.kind == 1 {
                storages.push(Some(storage));
                storages.len() - 1
            } else {
                storage
            };
            frames.push(Frame {
                stack: vec![e.child],
                level: child_level,
                storage,
            });
        }
    }
    Walked::Done
}

/// The streams that make ClamAV write a document out and scan it as a whole (`has_vba`).
fn is_document_stream(name: &str) -> bool {
    matches!(
        name,
        "_vba_project" | "powerpoint document" | "worddocument" | "_1_ole10native"
    )
}

/// Reads stream `index` within what the budget allows and hands it to the host.
fn scan_stream(doc: &Doc<'_>, index: i32, name: &str, host: &mut dyn Host, ole10: bool) -> Flow {
    let Some(e) = doc.entry(index) else {
        return Flow::Next;
    };
    let (bound, by) = host.budget().bound();
    let data = doc.stream(&e, bound.saturating_add(1));
    let budget = host.budget();
    budget.inflated = budget.inflated.saturating_add(data.len() as u64);
    if data.len() as u64 > bound {
        budget.record(by);
        return host.member(name, Member::Refused(by));
    }
    if ole10 {
        match unwrap_ole10(&data) {
            Some(object) => host.member(name, Member::Whole(object)),
            None => Flow::Next,
        }
    } else {
        host.member(name, Member::Whole(&data))
    }
}

/// An embedded object's data, unwrapped from its `\x01Ole10Native` stream as ClamAV's
/// `cli_scan_ole10` unwraps it: a 32-bit size; when the stream holds more than that size
/// plus 4, a package header follows (2 bytes, a label, a path, 8 bytes, a path, each path
/// and label NUL-terminated) and then the data's own 32-bit size. The data is cut at the end
/// of the stream. A header cut short gives nothing.
pub(crate) fn unwrap_ole10(s: &[u8]) -> Option<&[u8]> {
    let mut size = le32(s, 0)? as usize;
    let mut pos = 4usize;
    if s.len() as u64 >= size as u64 + 4 {
        pos += 2;
        let past_nul = |from: usize| -> Option<usize> {
            let rest = s.get(from..)?;
            Some(from + memchr::memchr(0, rest)? + 1)
        };
        pos = past_nul(pos)?;
        pos = past_nul(pos)?;
        pos = past_nul(pos + 8)?;
        size = le32(s, pos)? as usize;
        pos += 4;
    }
    let start = pos.min(s.len());
    Some(&s[start..start + size.min(s.len() - start)])
}

/// Walks an OLE2 file.
pub fn unpack(data: &[u8], host: &mut dyn Host) {
    let Some(doc) = Doc::parse(data) else {
        // Not a compound file ClamAV would read: nothing inside is scanned.
        return;
    };
    // Pass 1, as ClamAV's: list the streams, and see whether the document must be scanned
    // as a whole.
    let mut taken: Vec<Taken> = Vec::new();
    let mut storages = Vec::new();
    walk(&doc, host, &mut storages, |_, t| {
        taken.push(t);
        true
    });
    if taken.is_empty() {
        return;
    }
    // ClamAV also reads a `_VBA_PROJECT` stream's performance cache (VBA 5/6) and scans the
    // module source it finds from there with OLE2 signatures; that reader is not ported, so
    // a document with such a cache is not reported as wholly scanned.
    let (bound, _) = host.budget().bound();
    if taken.iter().any(|t| {
        t.name == "_vba_project"
            && doc.entry(t.index).is_some_and(|e| {
                e.size >= 34 && doc.stream(&e, 34.min(bound)).starts_with(b"\xcc\x61")
            })
    }) {
        host.note(
            crate::Why::Unsupported,
            "ole2: the _VBA_PROJECT performance cache is not read (its module source is not matched with OLE2 signatures)".into(),
        );
    }
    if taken.iter().any(|t| is_document_stream(&t.name)) {
        scan_storage(&doc, &taken, &storages, 0, host);
    } else {
        // Pass 2: every stream scanned as the walk meets it.
        walk(&doc, host, &mut storages, |host, t| {
            !matches!(scan_stream(&doc, t.index, &t.name, host, false), Flow::Stop)
        });
    }
}

/// A written-out document, scanned as ClamAV's `cli_ole2_scan_tempdir` scans its directory
/// of streams: the embedded objects stored directly in this storage, then every stream in it
/// and in the storages below, then each storage below in turn (so, as in ClamAV, a stream
/// nested N storages deep is scanned N + 1 times). `Flow::Stop` once the scan is over.
fn scan_storage(
    doc: &Doc<'_>,
    taken: &[Taken],
    storages: &[Option<usize>],
    here: usize,
    host: &mut dyn Host,
) -> Flow {
    let under = |mut s: usize| loop {
        if s == here {
            return true;
        }
        match storages.get(s).copied().flatten() {
            Some(p) => s = p,
            None => return false,
        }
    };
    for t in taken
        .iter()
        .filter(|t| t.storage == here && t.name == "_1_ole10native")
    {
        if let Flow::Stop = scan_stream(doc, t.index, &t.name, host, true) {
            return Flow::Stop;
        }
    }
    // PowerPoint's compressed embedded objects, in this storage's own PowerPoint streams.
    for t in taken
        .iter()
        .rev()
        .filter(|t| t.storage == here && t.name == "powerpoint document")
    {
        if let Flow::Stop = scan_ppt_objects(doc, t, host) {
            return Flow::Stop;
        }
    }
    // VBA projects: each `dir` stream at or below this storage, the last met first.
    for t in taken
        .iter()
        .rev()
        .filter(|t| t.name == "dir" && under(t.storage))
    {
        if let Flow::Stop = scan_vba_project(doc, taken, t, host) {
            return Flow::Stop;
        }
    }
    for t in taken.iter().filter(|t| under(t.storage)) {
        if let Flow::Stop = scan_stream(doc, t.index, &t.name, host, false) {
            return Flow::Stop;
        }
    }
    for (s, parent) in storages.iter().enumerate() {
        if *parent == Some(here) {
            if let Flow::Stop = scan_storage(doc, taken, storages, s, host) {
                return Flow::Stop;
            }
        }
    }
    Flow::Next
}

/// Reads a stream within what the budget allows (`None` if over it).
fn read_stream(doc: &Doc<'_>, index: i32, host: &mut dyn Host) -> Option<Vec<u8>> {
    let e = doc.entry(index)?;
    let (bound, _) = host.budget().bound();
    let data = doc.stream(&e, bound.saturating_add(1));
    let budget = host.budget();
    budget.inflated = budget.inflated.saturating_add(data.len() as u64);
    (data.len() as u64 <= bound).then_some(data)
}

/// The compressed embedded objects of a PowerPoint document stream, inflated and scanned as
/// ClamAV's `cli_ppt_vba_read` does: its records walked (a 16-bit version, a 16-bit type, a
/// 32-bit length), each `ExOleObjStgCompressed` (0x1011) record's zlib data after its 4-byte
/// size inflated as far as it goes. A record of length 0 ends the walk; a record running past
/// the stream means nothing of the stream is scanned.
fn scan_ppt_objects(doc: &Doc<'_>, t: &Taken, host: &mut dyn Host) -> Flow {
    use std::io::Read as _;
    let Some(stream) = read_stream(doc, t.index, host) else {
        host.note(
            crate::Why::Limit(Limit::MaxScanSize),
            "ole2: a PowerPoint stream over the limits, its objects not read".into(),
        );
        return Flow::Next;
    };
    let mut objects: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut held = 0u64;
    let mut pos = 0usize;
    while let (Some(kind), Some(len)) = (le16(&stream, pos + 2), le32(&stream, pos + 4)) {
        pos += 8;
        let len = len as usize;
        if len == 0 {
            break;
        }
        if kind == 0x1011 {
            let at = pos + 4;
            let Some(packed) = len
                .checked_sub(4)
                .and_then(|n| stream.get(at..at.checked_add(n)?))
            else {
                // ClamAV drops everything it extracted from this stream.
                return Flow::Next;
            };
            // The objects are held until the walk ends (ClamAV writes them out first), so
            // together they may take no more than one member may.
            let (bound, by) = host.budget().bound();
            let bound = bound.saturating_sub(held);
            let mut out = Vec::new();
            let r = flate2::read::ZlibDecoder::new(packed)
                .take(bound.saturating_add(1))
                .read_to_end(&mut out);
            if r.is_err() {
                // What inflated before the error is kept, as in ClamAV.
                host.note(
                    crate::Why::Corrupt,
                    "ole2: a damaged PowerPoint object".into(),
                );
            }
            if out.len() as u64 > bound {
                out.truncate(bound as usize);
                host.budget().record(by);
                host.note(
                    crate::Why::Limit(by),
                    "ole2: a PowerPoint object cut at the limits".into(),
                );
            }
            held = held.saturating_add(out.len() as u64);
            objects.push((at, out));
            pos = at + packed.len();
        } else {
            pos = pos.saturating_add(len);
        }
    }
    for (at, data) in objects {
        if let Flow::Stop = host.member(&format!("ppt{at:08x}.doc"), Member::Whole(&data)) {
            return Flow::Stop;
        }
    }
    Flow::Next
}

/// Lists the VBA project whose `dir` stream is `dir` (see [`crate::vba`]) and scans the
/// listing as ClamAV scans it: as a script, with target-0 signatures.
fn scan_vba_project(doc: &Doc<'_>, taken: &[Taken], dir: &Taken, host: &mut dyn Host) -> Flow {
    let Some(dir_stream) = read_stream(doc, dir.index, host) else {
        host.note(
            crate::Why::Limit(Limit::MaxScanSize),
            "ole2: a VBA dir stream over the limits, its project not read".into(),
        );
        return Flow::Next;
    };
    let mut unsupported = false;
    let mut cut = false;
    let (max, by) = host.budget().bound();
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let listing = crate::vba::listing(
        &dir_stream,
        |utf16| {
            // A name ClamAV can't form ends its listing; a name no stream has leaves the
            // module out.
            let Some(name) = property_name(utf16, utf16.len() + 2) else {
                return crate::vba::ModuleStream::Nowhere;
            };
            let mut found = Vec::new();
            for t in taken
                .iter()
                .filter(|t| t.name == name && t.storage == dir.storage)
            {
                match read_stream(doc, t.index, host) {
                    Some(s) => found.push(s),
                    None => cut = true,
                }
            }
            crate::vba::ModuleStream::Here(found)
        },
        &mut unsupported,
        max,
    );
    if cut {
        host.note(
            crate::Why::Limit(Limit::MaxScanSize),
            "ole2: a VBA module stream over the limits, not listed".into(),
        );
    }
    if unsupported {
        host.note(
            crate::Why::Unsupported,
            "ole2: VBA text in a code page not converted (taken as it is)".into(),
        );
    }
    match listing {
        Ok(l) => {
            if l.cut {
                host.budget().record(by);
                host.note(
                    crate::Why::Limit(by),
                    format!("ole2: a VBA listing cut at {} bytes", l.text.len()),
                );
            }
            host.typed("vba_project", &l.text, FileType::Text)
        }
        // ClamAV lists nothing for such a project either.
        Err(_) => Flow::Next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ole10_native_is_unwrapped_as_clamav_does() {
        let mut s = Vec::new();
        let body = b"payload!";
        let mut pkg = vec![2, 0];
        pkg.extend_from_slice(b"label\0c:\\path\0");
        pkg.extend_from_slice(&[0; 8]);
        pkg.extend_from_slice(b"c:\\tmp\0");
        pkg.extend_from_slice(&(body.len() as u32).to_le_bytes());
        pkg.extend_from_slice(body);
        pkg.extend_from_slice(b"trailer");
        s.extend_from_slice(&(pkg.len() as u32).to_le_bytes());
        s.extend_from_slice(&pkg);
        assert_eq!(unwrap_ole10(&s), Some(&body[..]));
        // A size larger than the stream: the data follows the size directly, cut at the end.
        let raw = [0xff, 0xff, 0, 0, b'a', b'b'];
        assert_eq!(unwrap_ole10(&raw), Some(&b"ab"[..]));
        // A package header cut short gives nothing.
        let mut cut = (40u32).to_le_bytes().to_vec();
        cut.extend_from_slice(&[2, 0]);
        cut.extend_from_slice(b"label-without-end");
        cut.extend_from_slice(&[b'x'; 30]);
        assert_eq!(unwrap_ole10(&cut), None);
    }

    #[test]
    fn names_are_printed_as_clamav_prints_them() {
        let mk = |units: &[u16]| {
            let mut name = vec![0u8; 64];
            for (i, u) in units.iter().enumerate() {
                name[2 * i..2 * i + 2].copy_from_slice(&u.to_le_bytes());
            }
            Entry {
                name,
                name_len: 2 * units.len() + 2,
                kind: 2,
                prev: -1,
                next: -1,
                child: -1,
                start: 0,
                size: 0,
            }
        };
        let ole10: Vec<u16> = "\u{1}Ole10Native".encode_utf16().collect();
        assert_eq!(mk(&ole10).name(), "_1_ole10native");
        let wd: Vec<u16> = "WordDocument".encode_utf16().collect();
        assert_eq!(mk(&wd).name(), "worddocument");
        let summary: Vec<u16> = "\u{5}SummaryInformation".encode_utf16().collect();
        assert_eq!(mk(&summary).name(), "_5_summaryinformation");
    }
}
