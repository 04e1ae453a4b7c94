//! ARJ archives, walked as ClamAV's `cli_scanarj` walks them (`unarj.c`): the main header,
//! then each member's header and data. Methods 0 (stored), 1–3 (LZ77 over a 26,624-byte
//! window with static Huffman blocks) and 4 (the "fastest" method, with unary-prefixed
//! lengths and distances) are decoded; garbled (password-protected) members are skipped.
//!
//! ClamAV's outcomes are kept: a member's output is written a window at a time, so one that
//! turns out damaged is scanned up to the last full window; a member whose declared size is
//! over the limits, whose method is unknown or whose data did not decode to its end leaves the
//! walk where the next header is not found, which ends it; the last match of a member may run
//! past its declared size.

use crate::archive::{Host, Member};
use crate::Why;

/// `60 ea`: the mark before every ARJ header.
pub(crate) const MAGIC: &[u8] = b"\x60\xea";

const FIRST_HDR_SIZE: usize = 30;
const HEADERSIZE_MAX: usize = FIRST_HDR_SIZE + 10 + 512 + 2048;
const DDICSIZ: usize = 26624;
const THRESHOLD: i32 = 3;
const MAXMATCH: usize = 256;
const CODE_BIT: i32 = 16;
const NT: usize = CODE_BIT as usize + 3;
const PBIT: i32 = 5;
const TBIT: i32 = 5;
const NC: usize = 255 + MAXMATCH + 2 - THRESHOLD as usize;
const NP: usize = 16 + 1;
const CBIT: i32 = 9;
const CTABLESIZE: usize = 4096;
const PTABLESIZE: usize = 256;
const NPT: usize = NT;
const STRTP: u16 = 9;
const STOPP: u16 = 13;
const STRTL: u16 = 0;
const STOPL: u16 = 7;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    /// Out of input (ClamAV's `CL_EFORMAT`): no more bytes are read.
    Format,
    /// A bad table (`CL_EUNPACK`): reading goes on, decoding stops at the next check.
    Unpack,
}

/// The decoder's bit reader and tables (ClamAV's `arj_decode_t`).
struct Decoder<'a> {
    data: &'a [u8],
    offset: usize,
    comp_size: u32,
    bit_buf: u16,
    sub_bit_buf: u16,
    bit_count: i32,
    blocksize: u16,
    getlen: i16,
    getbuf: i16,
    left: Vec<u16>,
    right: Vec<u16>,
    c_len: Vec<u8>,
    c_table: Vec<u16>,
    pt_len: Vec<u8>,
    pt_table: Vec<u16>,
    status: Status,
}

impl<'a> Decoder<'a> {
    fn new(data: &'a [u8], offset: usize, comp_size: u32) -> Self {
        Decoder {
            data,
            offset,
            comp_size,
            bit_buf: 0,
            sub_bit_buf: 0,
            bit_count: 0,
            blocksize: 0,
            getlen: 0,
            getbuf: 0,
            left: vec![0; 2 * NC - 1],
            right: vec![0; 2 * NC - 1],
            c_len: vec![0; NC],
            c_table: vec![0; CTABLESIZE],
            pt_len: vec![0; NPT],
            pt_table: vec![0; PTABLESIZE],
            status: Status::Ok,
        }
    }

    fn fill_buf(&mut self, mut n: i32) {
        if self.status == Status::Format {
            return;
        }
        // ClamAV's overflow guard: it returns without reading (and without a status).
        if n > 0 && u64::from(self.bit_buf) << n > u64::from(u32::MAX) {
            return;
        }
        self.bit_buf = ((u32::from(self.bit_buf) << n) & 0xffff) as u16;
        while n > self.bit_count {
            n -= self.bit_count;
            self.bit_buf |= ((u32::from(self.sub_bit_buf) << n) & 0xffff) as u16;
            if self.comp_size != 0 {
                self.comp_size -= 1;
                match self.data.get(self.offset) {
                    Some(&b) => {
                        self.sub_bit_buf = u16::from(b);
                        self.offset += 1;
                    }
                    None => {
                        self.status = Status::Format;
                        return;
                    }
                }
            } else {
                self.sub_bit_buf = 0;
            }
            self.bit_count = 8;
        }
        self.bit_count -= n;
        self.bit_buf |= self.sub_bit_buf >> self.bit_count;
    }

    fn init_getbits(&mut self) {
        self.bit_buf = 0;
        self.sub_bit_buf = 0;
        self.bit_count = 0;
        self.fill_buf(16);
    }

    fn getbits(&mut self, n: i32) -> u16 {
        let x = if n == 0 { 0 } else { self.bit_buf >> (16 - n) };
        self.fill_buf(n);
        x
    }

    /// Builds a decoding table (`make_table`); false on a bad code.
    fn make_table(&mut self, which: Table, nchar: usize, tablebits: u32) -> bool {
        let (bitlen, tablesize) = match which {
            Table::C => (&self.c_len, CTABLESIZE),
            Table::Pt => (&self.pt_len, PTABLESIZE),
        };
        let bitlen: Vec<u8> = bitlen[..nchar].to_vec();
        let mut count = [0u32; 17];
        for &l in &bitlen {
            if l >= 17 {
                self.status = Status::Unpack;
                return false;
            }
            count[l as usize] += 1;
        }
        let mut start = [0u32; 18];
        for i in 1..=16 {
            start[i + 1] = (start[i] + (count[i] << (16 - i))) & 0xffff;
        }
        // The sum is kept in 16 bits: a complete code (65,536) wraps to 0.
        if start[17] != 0 {
            self.status = Status::Unpack;
            return false;
        }
        let jutbits = 16 - tablebits;
        let mut weight = [0u32; 17];
        let mut i = 1usize;
        while i as u32 <= tablebits {
            start[i] >>= jutbits;
            weight[i] = 1 << (tablebits - i as u32);
            i += 1;
        }
        while i <= 16 {
            weight[i] = 1 << (16 - i);
            i += 1;
        }
        let mut i = start[tablebits as usize + 1] >> jutbits;
        if i != 0 {
            let k = 1u32 << tablebits;
            while i != k {
                if i as usize >= tablesize {
                    self.status = Status::Unpack;
                    return false;
                }
                self.table(which)[i as usize] = 0;
                i += 1;
            }
        }
        let mut avail = nchar;
        let mask = 1u32 << (15 - tablebits);
        for (ch, &len) in bitlen.iter().enumerate() {
            let len = len as usize;
            if len == 0 {
                continue;
            }
            let mut k = start[len];
            let nextcode = k + weight[len];
            if len as u32 <= tablebits {
                if nextcode as usize > tablesize {
                    self.status = Status::Unpack;
                    return false;
                }
                for i in start[len]..nextcode {
                    self.table(which)[i as usize] = ch as u16;
                }
            } else {
                // A node path: `p` names a slot of the table, or of left/right.
                #[derive(Clone, Copy)]
                enum Slot {
                    Table(usize),
                    Left(usize),
                    Right(usize),
                }
                let mut p = Slot::Table((k >> jutbits) as usize);
                let mut n = len as u32 - tablebits;
                while n != 0 {
                    let v = match p {
                        Slot::Table(x) => self.table(which).get(x).copied(),
                        Slot::Left(x) => self.left.get(x).copied(),
                        Slot::Right(x) => self.right.get(x).copied(),
                    };
                    let Some(mut v) = v else {
                        self.status = Status::Unpack;
                        return false;
                    };
                    if v == 0 {
                        if avail >= 2 * NC - 1 {
                            self.status = Status::Unpack;
                            return false;
                        }
                        self.right[avail] = 0;
                        self.left[avail] = 0;
                        v = avail as u16;
                        match p {
                            Slot::Table(x) => self.table(which)[x] = v,
                            Slot::Left(x) => self.left[x] = v,
                            Slot::Right(x) => self.right[x] = v,
                        }
                        avail += 1;
                    }
                    if v as usize >= 2 * NC - 1 {
                        self.status = Status::Unpack;
                        return false;
                    }
                    p = if k & mask != 0 {
                        Slot::Right(v as usize)
                    } else {
                        Slot::Left(v as usize)
                    };
                    k <<= 1;
                    n -= 1;
                }
                match p {
                    Slot::Table(x) => self.table(which)[x] = ch as u16,
                    Slot::Left(x) => self.left[x] = ch as u16,
                    Slot::Right(x) => self.right[x] = ch as u16,
                }
            }
            start[len] = nextcode & 0xffff;
        }
        true
    }

    /// Follows the tree below node `j` (while it is not under `leaves`), a bit of `bit_buf`
    /// per level from `mask` down; `None` (with `fail` as the status) on a node out of range.
    fn walk(&mut self, mut j: usize, leaves: usize, mut mask: u16, fail: Status) -> Option<usize> {
        while j >= leaves {
            if j >= 2 * NC - 1 {
                self.status = fail;
                return None;
            }
            j = if self.bit_buf & mask != 0 {
                self.right[j]
            } else {
                self.left[j]
            } as usize;
            mask >>= 1;
        }
        Some(j)
    }

    fn table(&mut self, which: Table) -> &mut Vec<u16> {
        match which {
            Table::C => &mut self.c_table,
            Table::Pt => &mut self.pt_table,
        }
    }

    fn read_pt_len(&mut self, nn: usize, nbit: i32, i_special: i32) {
        let n = self.getbits(nbit) as usize;
        if n == 0 {
            let c = self.getbits(nbit);
            self.pt_len[..nn].fill(0);
            self.pt_table.fill(c);
            return;
        }
        let mut i = 0usize;
        while i < n && i < NPT {
            let mut c = i32::from(self.bit_buf >> 13);
            if c == 7 {
                let mut mask = 1u16 << 12;
                while mask & self.bit_buf != 0 {
                    mask >>= 1;
                    c += 1;
                }
            }
            self.fill_buf(if c < 7 { 3 } else { c - 3 });
            if self.status != Status::Ok {
                return;
            }
            self.pt_len[i] = c as u8;
            i += 1;
            if i as i32 == i_special {
                let mut c = self.getbits(2) as i32;
                if self.status != Status::Ok {
                    return;
                }
                loop {
                    c -= 1;
                    if c < 0 || i >= NPT {
                        break;
                    }
                    self.pt_len[i] = 0;
                    i += 1;
                }
            }
        }
        while i < nn && i < NPT {
            self.pt_len[i] = 0;
            i += 1;
        }
        self.make_table(Table::Pt, nn, 8);
    }

    fn read_c_len(&mut self) {
        let n = self.getbits(CBIT) as usize;
        if self.status != Status::Ok {
            return;
        }
        if n == 0 {
            let c = self.getbits(CBIT);
            if self.status != Status::Ok {
                return;
            }
            self.c_len.fill(0);
            self.c_table.fill(c);
            return;
        }
        let mut i = 0usize;
        while i < n {
            let c = self.pt_table[(self.bit_buf >> 8) as usize] as usize;
            let Some(c) = self.walk(c, NT, 1 << 7, Status::Format) else {
                return;
            };
            if c >= 19 {
                self.status = Status::Unpack;
                return;
            }
            self.fill_buf(i32::from(self.pt_len[c]));
            if self.status != Status::Ok {
                return;
            }
            if c <= 2 {
                let mut run = match c {
                    0 => 1,
                    1 => i32::from(self.getbits(4)) + 3,
                    _ => i32::from(self.getbits(CBIT)) + 20,
                };
                if self.status != Status::Ok {
                    return;
                }
                loop {
                    run -= 1;
                    if run < 0 {
                        break;
                    }
                    if i >= NC {
                        self.status = Status::Format;
                        return;
                    }
                    self.c_len[i] = 0;
                    i += 1;
                }
            } else {
                if i >= NC {
                    self.status = Status::Format;
                    return;
                }
                self.c_len[i] = (c - 2) as u8;
                i += 1;
            }
        }
        self.c_len[i.min(NC)..].fill(0);
        self.make_table(Table::C, NC, 12);
    }

    fn decode_c(&mut self) -> u16 {
        if self.blocksize == 0 {
            self.blocksize = self.getbits(16);
            self.read_pt_len(NT, TBIT, 3);
            self.read_c_len();
            self.read_pt_len(NT, PBIT, -1);
        }
        self.blocksize = self.blocksize.wrapping_sub(1);
        let j = self.c_table[(self.bit_buf >> 4) as usize] as usize;
        let Some(j) = self.walk(j, NC, 1 << 3, Status::Unpack) else {
            return 0;
        };
        self.fill_buf(i32::from(self.c_len[j]));
        j as u16
    }

    fn decode_p(&mut self) -> u16 {
        let j = self.pt_table[(self.bit_buf >> 8) as usize] as usize;
        let Some(j) = self.walk(j, NP, 1 << 7, Status::Unpack) else {
            return 0;
        };
        self.fill_buf(i32::from(self.pt_len.get(j).copied().unwrap_or(0)));
        if j != 0 {
            let b = (j - 1) as i32;
            return ((1u32 << b) as u16).wrapping_add(self.getbits(b));
        }
        j as u16
    }

    // Method 4's bit reader (`ARJ_GETBIT`, `ARJ_GETBITS`) over the same buffer.
    fn bfil(&mut self) {
        self.getbuf |= self.bit_buf.checked_shr(self.getlen as u32).unwrap_or(0) as i16;
        self.fill_buf(CODE_BIT - i32::from(self.getlen));
        self.getlen = CODE_BIT as i16;
    }

    fn getbit(&mut self) -> u16 {
        if self.getlen <= 0 {
            self.bfil();
        }
        let c = u16::from(self.getbuf as u16 & 0x8000 != 0);
        self.getbuf = self.getbuf.wrapping_mul(2);
        self.getlen -= 1;
        c
    }

    fn getbits_f(&mut self, l: i16) -> u16 {
        if self.getlen < l {
            self.bfil();
        }
        let c = if l == 0 {
            0
        } else {
            (self.getbuf as u16) >> (CODE_BIT as i16 - l)
        };
        for _ in 0..l {
            self.getbuf = self.getbuf.wrapping_mul(2);
        }
        self.getlen -= l;
        c
    }

    fn decode_unary(&mut self, strt: u16, stop: u16) -> u16 {
        let mut plus = 0u16;
        let mut pwr = 1u16 << strt;
        let mut width = strt;
        while width < stop {
            if self.getbit() == 0 {
                break;
            }
            plus = plus.wrapping_add(pwr);
            pwr = pwr.wrapping_shl(1);
            width += 1;
        }
        let c = if width != 0 {
            self.getbits_f(width as i16)
        } else {
            0
        };
        c.wrapping_add(plus)
    }
}

#[derive(Clone, Copy)]
enum Table {
    C,
    Pt,
}

/// The output of one member: what ClamAV writes to its file, and where reading stopped.
struct Decoded {
    out: Vec<u8>,
    offset: usize,
    damaged: Option<&'static str>,
}

/// The 26,624-byte window both decoders write through: output leaves it a window at a time
/// (ClamAV's `write_text`), so a member that turns out damaged keeps only its full windows.
struct Window {
    text: Vec<u8>,
    ptr: usize,
    out: Vec<u8>,
}

impl Window {
    fn new() -> Self {
        Window {
            text: vec![0; DDICSIZ],
            ptr: 0,
            out: Vec::new(),
        }
    }

    fn push(&mut self, b: u8) {
        self.text[self.ptr] = b;
        self.ptr += 1;
        if self.ptr >= DDICSIZ {
            self.ptr = 0;
            self.out.extend_from_slice(&self.text);
        }
    }

    /// Copies `len` bytes from `back + 1` bytes behind, in ClamAV's 16-bit arithmetic; false
    /// (nothing copied) when that is outside the window.
    fn copy(&mut self, back: i16, len: i16) -> bool {
        let mut i = (self.ptr as i32 - i32::from(back) - 1) as i16;
        if i < 0 {
            i = (i32::from(i) + DDICSIZ as i32) as i16;
        }
        if i32::from(i) >= DDICSIZ as i32 || i < 0 {
            return false;
        }
        let mut i = i as usize;
        for _ in 0..len.max(0) {
            let b = self.text[i];
            self.push(b);
            i += 1;
            if i >= DDICSIZ {
                i = 0;
            }
        }
        true
    }

    /// The output with the last, partial window.
    fn end(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&self.text[..self.ptr]);
        self.out
    }
}

fn decoded(out: Vec<u8>, d: &Decoder<'_>, damaged: Option<&'static str>) -> Decoded {
    Decoded {
        out,
        offset: d.offset,
        damaged,
    }
}

/// Methods 1–3 (ClamAV's `decode`).
fn decode(data: &[u8], offset: usize, comp_size: u32, orig_size: u32) -> Decoded {
    let mut d = Decoder::new(data, offset, comp_size);
    d.blocksize = 0;
    d.init_getbits();
    if d.status == Status::Format {
        return decoded(Vec::new(), &d, Some("the data ends before its header"));
    }
    d.status = Status::Ok;
    let mut w = Window::new();
    let mut count: u32 = 0;
    while count < orig_size {
        let chr = d.decode_c() as i16;
        if i32::from(chr) <= 255 {
            w.push(chr as u8);
            count = count.wrapping_add(1);
        } else {
            let j = (i32::from(chr) - (256 - THRESHOLD)) as i16;
            count = count.wrapping_add(j as i32 as u32);
            let back = d.decode_p() as i16;
            if !w.copy(back, j) {
                // ClamAV stops here and writes out what it has.
                return decoded(w.end(), &d, Some("a match reaches before the window"));
            }
        }
        if d.status != Status::Ok {
            return decoded(w.out, &d, Some("damaged compressed data"));
        }
    }
    decoded(w.end(), &d, None)
}

/// Method 4 (ClamAV's `decode_f`).
fn decode_f(data: &[u8], offset: usize, comp_size: u32, orig_size: u32) -> Decoded {
    let mut d = Decoder::new(data, offset, comp_size);
    d.init_getbits();
    if d.status == Status::Format {
        return decoded(Vec::new(), &d, Some("the data ends before its header"));
    }
    d.getlen = 0;
    d.getbuf = 0;
    d.status = Status::Ok;
    let mut w = Window::new();
    let mut count: u32 = 0;
    while count < orig_size {
        let chr = d.decode_unary(STRTL, STOPL) as i16;
        if d.status != Status::Ok {
            return decoded(w.out, &d, Some("damaged compressed data"));
        }
        if chr == 0 {
            let c = d.getbits_f(8);
            if d.status != Status::Ok {
                return decoded(w.out, &d, Some("damaged compressed data"));
            }
            w.push(c as u8);
            count = count.wrapping_add(1);
        } else {
            let j = (i32::from(chr) - 1 + THRESHOLD) as i16;
            count = count.wrapping_add(j as i32 as u32);
            let back = d.decode_unary(STRTP, STOPP) as i16;
            if d.status != Status::Ok {
                return decoded(w.out, &d, Some("damaged compressed data"));
            }
            if !w.copy(back, j) {
                return decoded(w.end(), &d, Some("a match reaches before the window"));
            }
        }
    }
    decoded(w.end(), &d, None)
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        data.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        data.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// A header's fixed fields and where its data begins.
struct Header {
    name: String,
    flags: u8,
    method: u8,
    comp_size: u32,
    orig_size: u32,
}

/// Reads a header (main or member) at `*off`, which must be just past its mark. `None` at
/// the end of the archive or when it does not parse; `*off` is moved past what was read.
fn read_header(data: &[u8], off: &mut usize) -> Result<Option<Header>, &'static str> {
    let header_size = u16_at(data, *off).ok_or("header cut short")? as usize;
    let orig = *off;
    *off += 2;
    if header_size == 0 {
        return Ok(None);
    }
    if header_size > HEADERSIZE_MAX {
        return Err("header size over the maximum");
    }
    if header_size + 2 > data.len().saturating_sub(*off) {
        return Err("header runs past the end");
    }
    let fixed = data.get(*off..*off + 30).ok_or("header cut short")?;
    *off += 30;
    let first_hdr_size = fixed[0] as usize;
    if first_hdr_size < 30 {
        return Err("first header size under 30");
    }
    *off += first_hdr_size - 30;
    let max_len = (header_size + 2)
        .checked_sub(*off - orig)
        .filter(|&m| m <= header_size)
        .ok_or("first header size invalid")?;
    // A string must end with a NUL within the header's bytes plus one (ClamAV reads it with
    // `fmap_need_offstr`).
    let c_string = |at: usize, max: usize| -> Result<usize, &'static str> {
        if max == 0 {
            return Ok(0);
        }
        let avail = data.get(at..(at + max + 1).min(data.len())).unwrap_or(&[]);
        let nul = memchr::memchr(0, avail).ok_or("a name or comment without its NUL")?;
        Ok(nul.min(max))
    };
    let name_len = c_string(*off, max_len)?;
    let name = String::from_utf8_lossy(data.get(*off..*off + name_len).unwrap_or(&[])).into_owned();
    *off += name_len + 1;
    let comment_max = (header_size + 2)
        .checked_sub(*off - orig)
        .filter(|&m| m <= header_size)
        .ok_or("first header size invalid")?;
    *off += c_string(*off, comment_max)? + 1;
    *off += 4; // CRC
               // Extended headers, each with its own CRC.
    loop {
        let count = u16_at(data, *off).ok_or("extended header cut short")? as usize;
        *off += 2;
        if count == 0 {
            break;
        }
        *off += count + 4;
    }
    Ok(Some(Header {
        name,
        flags: fixed[4],
        method: fixed[5],
        comp_size: u32_at(fixed, 12).unwrap_or(0),
        orig_size: u32_at(fixed, 16).unwrap_or(0),
    }))
}

/// Unpacks an ARJ archive's members (see the module documentation).
pub(crate) fn unpack(data: &[u8], host: &mut dyn Host) {
    unpack_as(data, host, false)
}

/// As [`unpack`]; `embedded`: the archive was found inside another file by its magic, so a
/// main header that does not parse is passed over silently (it was likely not an archive).
pub(crate) fn unpack_as(data: &[u8], host: &mut dyn Host, embedded: bool) {
    if !data.starts_with(MAGIC) {
        return;
    }
    let mut off = 2usize;
    match read_header(data, &mut off) {
        Ok(Some(_)) => {}
        Ok(None) | Err(_) => {
            if !embedded {
                host.note(Why::Corrupt, "arj: the main header does not parse".into());
            }
            return;
        }
    }
    loop {
        if data.get(off..off + 2) != Some(MAGIC) {
            if off < data.len() {
                host.note(
                    Why::Corrupt,
                    format!("arj: no header mark at offset {off}; the rest is not scanned"),
                );
            }
            return;
        }
        off += 2;
        let h = match read_header(data, &mut off) {
            Ok(Some(h)) => h,
            Ok(None) => return,
            Err(e) => {
                host.note(Why::Corrupt, format!("arj: {e} at offset {off}"));
                return;
            }
        };
        if let Err(l) = host.budget().check(u64::from(h.orig_size.max(h.comp_size))) {
            // ClamAV does not step over the refused member's data: the walk goes on from
            // there, and ends unless the data starts with a header mark.
            host.member(&h.name, Member::Refused(l));
            continue;
        }
        if h.flags & 1 != 0 {
            off += h.comp_size as usize;
            host.member(
                &h.name,
                Member::Unreadable(Why::Encrypted, "arj: garbled (password-protected)".into()),
            );
            continue;
        }
        let decoded = match h.method {
            0 => {
                let end = off.saturating_add(h.comp_size as usize);
                let avail = &data[off.min(data.len())..end.min(data.len())];
                let cut = avail.len() < h.comp_size as usize;
                Decoded {
                    out: avail.to_vec(),
                    offset: off + avail.len(),
                    damaged: cut.then_some("stored data cut short"),
                }
            }
            1..=3 => decode(data, off, h.comp_size, h.orig_size),
            4 => decode_f(data, off, h.comp_size, h.orig_size),
            m => {
                // Nothing is extracted, and the walk goes on from the member's data.
                host.member(
                    &h.name,
                    Member::Unreadable(Why::Unsupported, format!("arj: unknown method {m}")),
                );
                continue;
            }
        };
        off = decoded.offset;
        let flow = match decoded.damaged {
            None => host.member(&h.name, Member::Whole(&decoded.out)),
            Some(e) => host.member(&h.name, Member::Damaged(&decoded.out, format!("arj: {e}"))),
        };
        if matches!(flow, crate::archive::Flow::Stop) {
            return;
        }
    }
}
