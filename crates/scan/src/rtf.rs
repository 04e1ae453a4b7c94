//! RTF documents: embedded objects (`\object` … `\objdata`), decoded and scanned as ClamAV's
//! `cli_scanrtf` does.
//!
//! The document is read in 8 KiB blocks as ClamAV reads it, through the same state machine:
//! groups (`{`, `}`) push and pop the parser state, control words are read up to 32 letters,
//! and `\objdata ` (with its space) inside a group that saw `\object` starts an object. Its
//! text is hex-decoded (anything that is not a hex digit is skipped) and parsed as an OLE1
//! object: an 8-byte header, a class name of the stated length, 8 bytes, the data's size and
//! the data. Data that starts as an OLE2 compound file is scanned as it is; other data is
//! unwrapped as an `Ole10Native` package (as ClamAV's `cli_scan_ole10`, after prefixing it with
//! its size) and the package's content scanned. An object ends when its data is complete,
//! when its group closes or when another object starts; what was gathered is then scanned.
//! ClamAV's quirks are kept, so both scan the same bytes: the header's magic is not checked,
//! and the 8 bytes after the class name are skipped only when a block holds them all.

use crate::archive::{Flow, Host, Member};

/// ClamAV's read size (`BUFF_SIZE`), which the object parser's quirks depend on.
const BLOCK: usize = 8192;
/// Most group levels kept on the stack (ClamAV keeps any number).
const MAX_STACK: usize = 100_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Parse {
    Main,
    Control,
    Symbol,
    Word,
    Param,
    Interpret,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ObjState {
    Magic,
    DescLen,
    Desc,
    Zero,
    DataSize,
    Dump,
}

/// An object being decoded (ClamAV's `rtf_object_data`).
struct ObjData {
    partial: Option<u8>,
    state: ObjState,
    bread: usize,
    desc_len: usize,
    /// The output file: `None` until the data size is read.
    out: Option<Vec<u8>>,
    /// 1: to unwrap as an OLE1 package; 2: an OLE2 file.
    kind: u8,
}

impl ObjData {
    fn new() -> ObjData {
        ObjData {
            partial: None,
            state: ObjState::Magic,
            bread: 0,
            desc_len: 0,
            out: None,
            kind: 0,
        }
    }
}

/// A parser state (ClamAV's `rtf_state`).
struct State {
    parse: Parse,
    /// `\object` seen in this group or an enclosing one.
    object_seen: bool,
    /// `\objdata ` seen: text is object data (ClamAV's callbacks set).
    callbacks: bool,
    data: Option<ObjData>,
    default_elements: usize,
    word: Vec<u8>,
}

impl State {
    fn base() -> State {
        State {
            parse: Parse::Main,
            object_seen: false,
            callbacks: false,
            data: None,
            default_elements: 0,
            word: Vec::new(),
        }
    }

    fn is_base(&self) -> bool {
        self.parse == Parse::Main && !self.object_seen && !self.callbacks && self.data.is_none()
    }
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Walks an RTF document.
pub fn unpack(data: &[u8], host: &mut dyn Host) {
    let mut st = State::base();
    let mut stack: Vec<State> = Vec::new();
    for block in data.chunks(BLOCK) {
        let mut i = 0;
        while i < block.len() {
            let c = block[i];
            match st.parse {
                Parse::Main => match c {
                    b'{' => {
                        i += 1;
                        if st.is_base() {
                            st.default_elements += 1;
                        } else {
                            if stack.len() >= MAX_STACK {
                                return host.note(
                                    crate::Why::Limit(crate::archive::Limit::MaxRecursion),
                                    format!("rtf: groups nested over {MAX_STACK} levels, the rest not read"),
                                );
                            }
                            let seen = st.object_seen;
                            let old = std::mem::replace(&mut st, State::base());
                            stack.push(old);
                            st.object_seen = seen;
                        }
                    }
                    b'}' => {
                        i += 1;
                        if let Some(d) = st.data.take() {
                            if let Flow::Stop = finish(d, host) {
                                return;
                            }
                        }
                        if st.default_elements > 0 {
                            let n = st.default_elements - 1;
                            let seen = st.object_seen;
                            st = State::base();
                            st.default_elements = n;
                            st.object_seen = seen;
                        } else {
                            st = stack.pop().unwrap_or_else(State::base);
                        }
                    }
                    b'\\' => {
                        i += 1;
                        st.parse = Parse::Control;
                    }
                    _ => {
                        let run = block[i + 1..]
                            .iter()
                            .position(|&b| matches!(b, b'{' | b'}' | b'\\'))
                            .map_or(block.len() - i, |p| p + 1);
                        if st.callbacks {
                            let mut d = st.data.take().unwrap_or_else(ObjData::new);
                            let flow = process(&mut d, &block[i..i + run], host);
                            st.data = Some(d);
                            if let Flow::Stop = flow {
                                return;
                            }
                        }
                        i += run;
                    }
                },
                Parse::Control => {
                    if c.is_ascii_alphabetic() {
                        st.parse = Parse::Word;
                        st.word.clear();
                    } else {
                        st.parse = Parse::Symbol;
                    }
                }
                Parse::Symbol => {
                    i += 1;
                    st.parse = Parse::Main;
                }
                Parse::Word => {
                    if st.word.len() == 32 {
                        st.parse = Parse::Main;
                    } else if c.is_ascii_alphabetic() {
                        st.word.push(c);
                        i += 1;
                    } else if c.is_ascii_whitespace() || c == 0x0b {
                        st.word.push(c);
                        i += 1;
                        st.parse = Parse::Interpret;
                    } else if c.is_ascii_digit() {
                        st.parse = Parse::Param;
                    } else if c == b'-' {
                        i += 1;
                        st.parse = Parse::Param;
                    } else {
                        st.parse = Parse::Interpret;
                    }
                }
                Parse::Param => {
                    // The parameter's value is not used: digits and letters are passed over.
                    if c.is_ascii_alphanumeric() {
                        i += 1;
                    } else {
                        st.parse = Parse::Interpret;
                    }
                }
                Parse::Interpret => {
                    let action = match st.word.as_slice() {
                        b"object" => Some(false),
                        b"objdata " => Some(true),
                        _ => None,
                    };
                    if let Some(objdata) = action {
                        if let Some(d) = st.data.take() {
                            // A premature end of the previous object.
                            st.callbacks = false;
                            if let Flow::Stop = finish(d, host) {
                                return;
                            }
                        }
                        if !objdata {
                            st.object_seen = true;
                        } else if st.object_seen {
                            st.callbacks = true;
                        }
                    }
                    st.parse = Parse::Main;
                }
            }
        }
    }
    // The end of the document closes whatever is open.
    if let Some(d) = st.data.take() {
        if let Flow::Stop = finish(d, host) {
            return;
        }
    }
    while let Some(mut s) = stack.pop() {
        if let Some(d) = s.data.take() {
            if let Flow::Stop = finish(d, host) {
                return;
            }
        }
    }
}

/// Hex-decodes a run of object text and feeds it to the object parser
/// (`rtf_object_process`).
fn process(d: &mut ObjData, input: &[u8], host: &mut dyn Host) -> Flow {
    let mut out = Vec::with_capacity(input.len() / 2 + 1);
    let mut i = 0;
    if let Some(hi) = d.partial {
        while i < input.len() && hex(input[i]).is_none() {
            i += 1;
        }
        let Some(lo) = input.get(i).and_then(|&c| hex(c)) else {
            return Flow::Next;
        };
        out.push(hi | lo);
        d.partial = None;
        i += 1;
    }
    while i < input.len() {
        if let Some(hi) = hex(input[i]) {
            i += 1;
            while i < input.len() && hex(input[i]).is_none() {
                i += 1;
            }
            match input.get(i).and_then(|&c| hex(c)) {
                Some(lo) => out.push(hi << 4 | lo),
                None => {
                    d.partial = Some(hi << 4);
                    break;
                }
            }
        }
        i += 1;
    }
    let mut o: &[u8] = &out;
    while !o.is_empty() {
        match d.state {
            ObjState::Magic => {
                let take = (8 - d.bread).min(o.len());
                d.bread += take;
                o = &o[take..];
                if d.bread == 8 {
                    d.bread = 0;
                    d.state = ObjState::DescLen;
                }
            }
            ObjState::DescLen | ObjState::DataSize => {
                if d.bread == 0 {
                    d.desc_len = 0;
                }
                let take = (4 - d.bread).min(o.len());
                for (k, &b) in o[..take].iter().enumerate() {
                    d.desc_len |= usize::from(b) << ((d.bread + k) * 8);
                }
                d.bread += take;
                o = &o[take..];
                if d.bread == 4 {
                    d.bread = 0;
                    if d.state == ObjState::DescLen {
                        d.state = ObjState::Desc;
                    } else {
                        d.out = Some(Vec::new());
                        d.state = ObjState::Dump;
                    }
                }
            }
            ObjState::Desc => {
                let take = (d.desc_len.min(64).saturating_sub(d.bread)).min(o.len());
                d.bread += take;
                o = &o[take..];
                if d.bread < d.desc_len && d.bread < 64 {
                    return Flow::Next;
                }
                let rest = d.desc_len - d.bread.min(d.desc_len);
                if rest > o.len() {
                    d.desc_len -= o.len();
                    return Flow::Next;
                }
                o = &o[rest..];
                if d.bread >= d.desc_len {
                    d.bread = 0;
                    d.state = ObjState::Zero;
                }
            }
            ObjState::Zero => {
                // As ClamAV: the 8 bytes are skipped only when this run holds all of them.
                if o.len() < 8 - d.bread {
                    o = &[];
                } else {
                    o = &o[8.min(o.len())..];
                    d.bread = 0;
                    d.state = ObjState::DataSize;
                }
            }
            ObjState::Dump => {
                let want = o.len().min(d.desc_len);
                let Some(buf) = d.out.as_mut() else {
                    return Flow::Next;
                };
                if d.kind == 0 {
                    if o.len() >= 2 && o[0] == 0xd0 && o[1] == 0xcf {
                        d.kind = 2;
                    } else {
                        d.kind = 1;
                        buf.extend_from_slice(&(d.desc_len as u32).to_le_bytes());
                    }
                }
                // Bounded by what the budgets allow (plus one byte, to tell it is over).
                let (bound, _) = host.budget().bound();
                let room = (bound.saturating_add(5) as usize).saturating_sub(buf.len());
                buf.extend_from_slice(&o[..want.min(room)]);
                d.desc_len -= want;
                o = &o[want..];
                if d.desc_len == 0 {
                    // The next object of this `\objdata` starts over; a pending hex digit
                    // is kept, as in ClamAV.
                    let mut fresh = ObjData::new();
                    fresh.partial = d.partial;
                    let done = std::mem::replace(d, fresh);
                    if let Flow::Stop = finish(done, host) {
                        return Flow::Stop;
                    }
                }
            }
        }
    }
    Flow::Next
}

/// Scans what an object gathered (ClamAV's `decode_and_scan`).
fn finish(d: ObjData, host: &mut dyn Host) -> Flow {
    let Some(out) = d.out.filter(|o| !o.is_empty()) else {
        return Flow::Next;
    };
    let (bound, by) = host.budget().bound();
    let b = host.budget();
    b.inflated = b.inflated.saturating_add(out.len() as u64);
    if d.kind == 1 {
        match crate::ole2::unwrap_ole10(&out) {
            Some(obj) if obj.len() as u64 > bound => {
                host.budget().record(by);
                host.member("", Member::Refused(by))
            }
            Some(obj) => host.member("", Member::Whole(obj)),
            None => Flow::Next,
        }
    } else if out.len() as u64 > bound {
        host.budget().record(by);
        host.member("", Member::Refused(by))
    } else {
        host.member("", Member::Whole(&out))
    }
}
