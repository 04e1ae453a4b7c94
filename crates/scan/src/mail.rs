//! Mail messages and uuencoded files.
//!
//! A message (ClamAV's CL_TYPE_MAIL, recognised by its first header) is parsed with the
//! `mail-parser` crate: multipart bodies, nested `message/rfc822` messages (transfer-encoded
//! ones too, up to the crate's nesting limit), base64 and quoted-printable bodies. Each leaf
//! part is scanned decoded, as ClamAV's `cli_mbox` saves and scans each part; a part that
//! holds a uuencoded block (`begin MODE NAME` … `end`, or a body declared `x-uuencode`) has that
//! block decoded and scanned too, as ClamAV does for uuencoded text in a message. A file that
//! starts with `begin ` (CL_TYPE_UUENCODED) is uudecoded the same way.
//!
//! Cost: decoding a part yields at most its encoded length; nested messages are read to
//! [`MAX_DEPTH`] levels (the crate itself parses transfer-encoded nested messages only a few
//! levels deep).

use mail_parser::decoders::{base64::base64_decode, quoted_printable::quoted_printable_decode};
use mail_parser::{Encoding, Message, MessageParser, MimeHeaders, PartType};

use crate::archive::{Flow, Host, Member};
use crate::Why;

/// Most levels of nested messages read.
pub const MAX_DEPTH: usize = 32;

/// Walks a mail message: each leaf part, decoded.
pub fn unpack_mail(data: &[u8], host: &mut dyn Host) {
    let Some(message) = MessageParser::new().parse(data) else {
        return host.note(Why::Corrupt, "mail: no message found".into());
    };
    walk(&message, 0, host);
}

/// Scans the leaf parts of `message` and walks its nested messages; `Flow::Stop` once the scan
/// is over.
fn walk(message: &Message<'_>, depth: usize, host: &mut dyn Host) -> Flow {
    // Part offsets count from the start of the buffer the message was parsed from.
    let raw: &[u8] = &message.raw_message;
    for (index, part) in message.parts.iter().enumerate() {
        let body = match &part.body {
            PartType::Multipart(_) => continue,
            PartType::Message(_) if index > 0 => {
                // A message inside a multipart, as ClamAV's `do_multipart` takes it: when
                // neither the part nor the message in it carries a transfer encoding, it
                // is not scanned ("unencoded multipart/message"); otherwise it is saved,
                // decoded, and scanned as a file of its own (a mail layer).
                let body = raw
                    .get(part.offset_body as usize..part.offset_end as usize)
                    .unwrap_or_default();
                if part.encoding == Encoding::None && !has_encoding_line(body) {
                    continue;
                }
                body
            }
            PartType::Message(nested) => {
                if depth + 1 >= MAX_DEPTH {
                    host.note(
                        Why::Limit(crate::archive::Limit::MaxRecursion),
                        "mail: nested messages too deep, not read".into(),
                    );
                    continue;
                }
                if walk(nested, depth + 1, host) == Flow::Stop {
                    return Flow::Stop;
                }
                continue;
            }
            _ => raw
                .get(part.offset_body as usize..part.offset_end as usize)
                .unwrap_or_default(),
        };
        if body.is_empty() {
            continue;
        }
        let decoded = match part.encoding {
            Encoding::Base64 => base64_decode(body),
            Encoding::QuotedPrintable => quoted_printable_decode(body),
            Encoding::None => None,
        };
        if part.encoding != Encoding::None && decoded.is_none() {
            host.note(
                Why::Corrupt,
                "mail: a part's transfer encoding is damaged".into(),
            );
        }
        let decoded = decoded.as_deref().unwrap_or(body);
        let name = part.attachment_name().unwrap_or("").to_string();
        if scan_part(&name, decoded, host) == Flow::Stop {
            return Flow::Stop;
        }
        if let Some(uu) = uudecode(decoded) {
            if scan_part(&name, &uu, host) == Flow::Stop {
                return Flow::Stop;
            }
        }
    }
    Flow::Next
}

/// Whether some line of `text` declares a transfer encoding other than 7bit (ClamAV's
/// `messageIsEncoding`: a line starting with `Content-Transfer-Encoding`, in any case, that
/// does not contain `7bit`).
fn has_encoding_line(text: &[u8]) -> bool {
    const KEY: &[u8] = b"content-transfer-encoding";
    text.split(|&b| b == b'\n').any(|line| {
        line.len() >= KEY.len()
            && line[..KEY.len()].eq_ignore_ascii_case(KEY)
            && memchr::memmem::find(line, b"7bit").is_none()
    })
}

/// Decodes a uuencoded file (`begin ` at its start) and scans the result.
pub fn unpack_uuencoded(data: &[u8], host: &mut dyn Host) {
    match uudecode(data) {
        Some(d) => {
            scan_part("", &d, host);
        }
        None => host.note(Why::Corrupt, "uuencode: no `begin` line".into()),
    }
}

fn scan_part(name: &str, data: &[u8], host: &mut dyn Host) -> Flow {
    if data.is_empty() {
        return Flow::Next;
    }
    if let Err(l) = host.budget().check(data.len() as u64) {
        return host.member(name, Member::Refused(l));
    }
    host.member(name, Member::Whole(data))
}

/// The first uuencoded block in `text`: from a line `begin MODE NAME` to a line `end` (or a
/// line of length zero, or the end of the text); each line's first character gives its
/// length, then every 4 characters give 3 bytes. `None` when there is no `begin` line.
pub fn uudecode(text: &[u8]) -> Option<Vec<u8>> {
    let mut lines = text
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    lines.find(|l| is_begin(l))?;
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for line in lines {
        if line == b"end" {
            break;
        }
        let Some((&first, rest)) = line.split_first() else {
            break;
        };
        let n = usize::from(first.wrapping_sub(b' ') & 0x3f);
        if n == 0 {
            // A backquote (or a space) line closes the data; `end` follows.
            continue;
        }
        let six = |c: u8| c.wrapping_sub(b' ') & 0x3f;
        let mut got = Vec::with_capacity(n + 3);
        for quad in rest.chunks(4) {
            let mut q = [b' '; 4];
            q[..quad.len()].copy_from_slice(quad);
            let [a, b, c, d] = q.map(six);
            got.extend_from_slice(&[(a << 2) | (b >> 4), (b << 4) | (c >> 2), (c << 6) | d]);
        }
        got.truncate(n);
        out.extend_from_slice(&got);
    }
    Some(out)
}

/// `begin` followed by an octal mode and a name.
fn is_begin(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"begin ") else {
        return false;
    };
    let mut parts = rest.splitn(2, |&b| b == b' ');
    let mode = parts.next().unwrap_or_default();
    !mode.is_empty()
        && mode.iter().all(|b| (b'0'..=b'7').contains(b))
        && parts.next().is_some_and(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uudecode_round_trip() {
        // "Cat" and "hello world\n" as uuencode writes them.
        let text = b"begin 644 a.txt\n#0V%T\n`\nend\n";
        assert_eq!(uudecode(text).as_deref(), Some(&b"Cat"[..]));
        let text = b"junk\r\nbegin 600 h\r\n,:&5L;&\\@=V]R;&0*\r\n`\r\nend\r\n";
        assert_eq!(uudecode(text).as_deref(), Some(&b"hello world\n"[..]));
        assert_eq!(uudecode(b"no block here\n"), None);
        assert_eq!(uudecode(b"begin notoctal x\n#0V%T\n"), None);
    }
}
