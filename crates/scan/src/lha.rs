//! LHA/LZH archives, read with the `delharc` crate as ClamAV 1.4's `scan_lha_lzh` reads them
//! (with the same crate): each file's data decoded and scanned; directories passed over; a
//! file over the limits skipped (the walk goes on); a file whose method the crate does not
//! decode, or whose data does not decode to its end, not scanned; a header that does not
//! parse ends the walk. Unlike ClamAV, a panic inside the crate is caught here everywhere, not
//! only when the archive is opened, and reported as damage.

use std::io::Read as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

use delharc::LhaDecodeReader;

use crate::archive::{Flow, Host, Member};
use crate::Why;

/// Whether `data` is typed as LHA/LZH by ClamAV's type table: a method id (`-lh0-` to
/// `-lh7-`, `-lhd-`, `-lhx-`, `-lzs-`, `-lz4-`, `-lz5-`, `-pm0-`) at offset 2.
pub(crate) fn is_lha(data: &[u8]) -> bool {
    let Some(m) = data.get(2..7) else {
        return false;
    };
    m[0] == b'-'
        && m[4] == b'-'
        && match &m[1..3] {
            b"lh" => matches!(m[3], b'0'..=b'7' | b'd' | b'x'),
            b"lz" => matches!(m[3], b's' | b'4' | b'5'),
            b"pm" => m[3] == b'0',
            _ => false,
        }
}

/// Unpacks an LHA/LZH archive (see the module documentation).
pub(crate) fn unpack(data: &[u8], host: &mut dyn Host) {
    let opened = catch_unwind(|| LhaDecodeReader::new(data));
    let mut decoder = match opened {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            return host.note(Why::Corrupt, format!("lha: {e}"));
        }
        Err(_) => return host.note(Why::Corrupt, "lha: the first header does not parse".into()),
    };
    loop {
        // As ClamAV, the walk ends once the limits are reached.
        if host.budget().check(0).is_err() {
            return;
        }
        let header = decoder.header();
        let name = header.parse_pathname().to_string_lossy().into_owned();
        if !header.is_directory() {
            let size = header.original_size;
            if let Err(l) = host.budget().check(size) {
                host.member(&name, Member::Refused(l));
            } else if !decoder.is_decoder_supported() {
                host.member(
                    &name,
                    Member::Unreadable(
                        Why::Unsupported,
                        "lha: a compression method not decoded".into(),
                    ),
                );
            } else {
                let mut buf = host.buffer();
                let read = catch_unwind(AssertUnwindSafe(|| {
                    (&mut decoder)
                        .take(size.saturating_add(1))
                        .read_to_end(&mut buf)
                }));
                let flow = match read {
                    Ok(Ok(0)) => Flow::Next,
                    Ok(Ok(_)) => host.member(&name, Member::Whole(&buf)),
                    // ClamAV scans nothing of a file that does not decode to its end.
                    Ok(Err(e)) => {
                        host.member(&name, Member::Unreadable(Why::Corrupt, format!("lha: {e}")))
                    }
                    Err(_) => {
                        host.recycle(buf);
                        return host.note(
                            Why::Corrupt,
                            format!(
                                "lha: {name}: the decoder failed, this and later files not scanned"
                            ),
                        );
                    }
                };
                host.recycle(buf);
                if matches!(flow, Flow::Stop) {
                    return;
                }
            }
        }
        match catch_unwind(AssertUnwindSafe(|| decoder.next_file())) {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return,
            Ok(Err(e)) => return host.note(Why::Corrupt, format!("lha: {e}")),
            Err(_) => return host.note(Why::Corrupt, "lha: a header does not parse".into()),
        }
    }
}
