//! The sans-IO core of detente's transparent signature feed.
//!
//! A feed publishes database releases. Each release is a [`Manifest`], signed
//! as a C2SP note by the publisher's Ed25519 key and appended (the whole
//! signed note is the log entry) to the feed's transparency log, whose
//! checkpoints witnesses cosign. A client installs a release only if
//! [`verify_update`] accepts it, then only bytes that [`verify_file`] (or
//! [`Fetch::assemble`]) accepts. Nothing here reads a clock, a file or the
//! network: time is an argument, bytes come in, decisions go out. Every
//! parser is a pure function of `&[u8]` (ready for fuzzing) and never panics.
//!
//! # Formats
//!
//! **Manifest** ([`Manifest`]), the signed note text:
//!
//! ```text
//! detente-feed-manifest/v1
//! origin example.com/feed
//! version 42
//! created 1767225600
//! expires 1767830400
//! base 41
//! file daily.ndb 1048576 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//! file main.hdb 52428800 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
//! patch daily.ndb 4096 fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13
//! ```
//!
//! Lines in exactly this order; `base` only in an incremental release and
//! `patch` lines only with `base`, each naming a `file` of the release (the
//! patch turns `base`'s file of that name into this one). One space between
//! fields, none at either end; no `\r`, tab or empty line; canonical decimal
//! numbers; SHA-256 as 64 lowercase hex digits; names `[A-Za-z0-9._-]{1,128}`
//! without a leading dot, strictly ascending; `version >= 1`,
//! `expires > created`, `1 <= base < version`; 1 to 4096 files; text at most
//! 1 MiB; unknown keys refused. `parse(to_text(m)) == m` and a text that
//! parses is the canonical text of its value. [`Manifest::sign`] refuses a
//! signed note over 65,535 bytes, the most a C2SP tlog-tiles entry bundle
//! can hold (about 600 files with short names): the 1 MiB text bound is the
//! parser's, the log's is tighter.
//!
//! **Patch** ([`make_patch`], [`apply_patch`]; see the [`patch`] module):
//! line operations over the old file, `c <n>` copy, `d <n>` drop, `a <len>`
//! then `len` raw bytes to insert:
//!
//! ```text
//! detente-patch/v1
//! c 999000
//! a 31
//! Win.Test.Sample-1:0:*:deadbeef
//! c 1000
//! d 2
//! ```
//!
//! (keep the first 999,000 lines, insert one line of 31 bytes, keep 1,000,
//! drop the last 2).
//!
//! Why this and not a binary delta or ClamAV's cdiff: signature databases are
//! line files that change by whole lines, mostly appended; a line delta
//! costs the new lines plus about 10 bytes per change, needs no window or
//! dictionary, applies in one linear pass with the output bounded by the
//! manifest, and is what a reviewer reads (`a` blocks are the new
//! signatures). cdiff's `ADD`/`DEL` name the line text to delete (more bytes)
//! and are a script language; a binary delta (bsdiff, zstd `--patch-from`)
//! needs a suffix array or a large window over the whole old file. The diff
//! is a patience diff (unique lines as anchors, longest increasing
//! subsequence, recursion into gaps): `O(n log n)` and exact on databases of
//! distinct lines, unlike a prefix/suffix-plus-set-difference that cannot
//! express order. The size test measures 1,000 lines added to 1,000,000.
//! Patch objects are stored gzip-compressed ([`compress`]), which roughly halves the
//! hex-heavy added lines; they are decompressed within a bound before they are applied.
//!
//! **Trust file** ([`Trust`]): C2SP tlog-policy syntax (spaces or tabs
//! between tokens, `#` comments, blank lines) with four more keywords:
//!
//! ```text
//! feed-url https://feed.example.com/
//! feed-url /media/usb/detente-feed
//! publisher example.com/feed-publisher+3a1d5e8f+AZ3...=
//! max-age 86400
//! max-ahead 1000
//! log example.com/feed+6f3a92b1+AX7...=
//! witness eu1 witness.eu.example+1c2b3a4d+BB...=
//! witness us1 witness.us.example+4d3c2b1a+BB...=
//! witness as1 witness.asia.example+0a0b0c0d+Bg...=
//! group world 2 eu1 us1 as1
//! quorum world
//! ```
//!
//! A line whose first token is `feed-url` (one or more: mirrors, in order;
//! `https://`, `http://` to a loopback host, or an absolute directory),
//! `publisher` (an Ed25519 note vkey; may be the log key), `max-age` or
//! `max-ahead` (each exactly once, at least 1) is a feed line; the others,
//! with the feed lines blanked so error line numbers are right, must be a
//! valid tlog-policy ([`detente_policy::Policy::parse`], which refuses any
//! other keyword, so a typo never passes silently). Feed fields never hide
//! in comments. The policy must list exactly one log (the feed's) and its
//! quorum must not be `none`: freshness comes from witness cosignatures.
//!
//! **State** ([`ClientState`]): see its documentation; the last accepted
//! signed checkpoint verbatim and the installed version, canonical.
//!
//! # The update decision
//!
//! [`verify_update`] refuses with a [`Refusal`] naming the attack, or
//! returns [`Accepted`]: what to fetch ([`Fetch`]: a whole file, or a patch
//! when the installed version is the manifest's `base`), the new
//! [`ClientState`] to store after installing, and the release's offline
//! C2SP tlog-proof. In order:
//!
//! 1. the checkpoint under the policy: the log signature (else
//!    [`Refusal::UnknownLogKey`]), every known signature valid
//!    ([`Refusal::BadCheckpointSignature`]), the witness quorum
//!    ([`Refusal::QuorumNotMet`], naming who cosigned and which groups fell
//!    short);
//! 2. consistency with the accepted checkpoint: smaller is
//!    [`Refusal::Rollback`], the same size with another root is
//!    [`Refusal::SplitView`] (both signed notes attached as evidence), larger
//!    needs a valid consistency proof ([`Refusal::Inconsistent`]);
//! 3. freshness ([`Refusal::Stale`]);
//! 4. the manifest: the publisher's signature
//!    ([`Refusal::BadManifestSignature`], checked before the text is parsed),
//!    its origin equal to the log's ([`Refusal::OriginMismatch`]), with a
//!    state its version above the installed one ([`Refusal::NotNewer`]) and at
//!    most `max-ahead` above it ([`Refusal::TooFarAhead`]), not expired
//!    ([`Refusal::Expired`], at or after `expires`);
//! 5. inclusion of the manifest note in the verified checkpoint
//!    ([`Refusal::NotIncluded`]), as its newest entry ([`Refusal::NotLatest`]).
//!
//! Choices, for a client as demanding as a TUF or Sigstore one:
//!
//! * **Checkpoint time.** Checkpoints carry no time; cosignatures do. The
//!   checkpoint's time is the newest `t` such that the witnesses that
//!   cosigned at or after `t` still meet the quorum. When all quorum
//!   witnesses cosign together (the normal case) this is the newest
//!   cosignature timestamp; when some are old, taking simply the newest one
//!   would let a single fresh (possibly compromised) witness make a frozen
//!   checkpoint look current, so a *quorum* must be fresh. Witness clocks
//!   ahead of `now` count as age 0.
//! * **Consistency before freshness.** A split view or rollback is reported
//!   as such even when the offered checkpoint is also stale, so evidence of
//!   a fork is never hidden behind a staleness refusal (either way the
//!   update is refused).
//! * **Newest entry only.** In a feed's log every entry is a release, so the
//!   manifest must be the last leaf of the checkpoint: a mirror cannot hold
//!   a client on an older, still unexpired release while a newer one is
//!   logged. (Publish manifests by index, or serve the checkpoint and the
//!   latest manifest together, so clients never race the publisher.)
//! * **Incremental releases never strand a client.** A manifest with `base`
//!   still lists every file in full; a client at `base` fetches patches,
//!   any other (new, or more than one version behind) fetches whole files,
//!   and both end with the same bytes because a patch's output is refused
//!   unless it has the manifest's size and SHA-256. So a base other than the
//!   installed version is not a refusal: it only selects the full path.
//! * **First install.** Without a state there is nothing to be consistent
//!   with and no version to compare: any release the checkpoint, quorum,
//!   freshness, signature, expiry and inclusion checks accept installs.
//! * **Downloads.** Size before hash: [`FileCheck`] refuses a chunk that
//!   takes a download past the manifest's size before hashing it, so endless
//!   data costs at most one chunk; shorter is [`FileRefusal::Truncated`].
//!   Only the manifest's files are installed ([`Accepted::file`] refuses
//!   any other name).
//! * **Refusals are total.** A refusal returns no state; the caller's state
//!   and installed files stay byte-identical.
//!
//! The publisher's side is [`next_manifest`]: hashes, patches from the
//! previous release's files, `version = prev + 1`, content-addressed objects.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod manifest;
pub mod patch;
mod publish;
mod state;
mod text;
mod trust;
mod update;

pub use manifest::{
    is_valid_file_name, Entry, Manifest, ManifestError, ManifestErrorKind, SignError, VerifyError,
    MANIFEST_HEADER, MAX_FILES, MAX_MANIFEST_SIZE, MAX_NAME_LEN,
};
pub use patch::{
    apply_patch, compress, decompress, make_patch, patch_bound, PatchError, PATCH_HEADER,
};
pub use publish::{next_manifest, Object, PublishError, Release};
pub use state::{ClientState, StateError, STATE_HEADER};
pub use trust::{
    Source, Trust, TrustError, TrustErrorKind, DEFAULT_MAX_AGE, DEFAULT_MAX_AHEAD, MAX_SOURCES,
    MAX_TRUST_SIZE,
};
pub use update::{
    check_checkpoint, verify_file, verify_update, Accepted, Fetch, FileCheck, FileRefusal,
    Inclusion, Refusal, VerifiedCheckpoint,
};
