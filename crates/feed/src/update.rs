//! The client's update decision: checkpoint, freshness, consistency,
//! manifest, inclusion; then the checks on downloaded bytes.

use sha2::{Digest, Sha256};

use detente_note::{cosignature_timestamp, SignedCheckpoint, Verifier as _};
use detente_policy::{Member, Policy, Quorum, TlogProof};
use detente_tlog::{leaf_hash, verify_consistency, verify_inclusion, Hash};

use crate::manifest::{Entry, Manifest, VerifyError};
use crate::patch::{apply_patch, PatchError};
use crate::state::ClientState;
use crate::trust::Trust;

/// Where the manifest sits in the log: its leaf index and the inclusion
/// proof to the checkpoint being verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inclusion {
    /// Leaf index of the manifest note.
    pub index: u64,
    /// Inclusion proof hashes, from the leaf's sibling up.
    pub proof: Vec<Hash>,
}

impl From<&TlogProof> for Inclusion {
    /// The index and hashes of a tlog-proof (its checkpoint must be the one
    /// given to [`verify_update`] for the proof to verify).
    fn from(p: &TlogProof) -> Inclusion {
        Inclusion {
            index: p.index,
            proof: p.proof.clone(),
        }
    }
}

/// Why an update was refused: one variant per attack, each message saying
/// what was wrong. A refusal never carries a new state: the caller keeps the
/// installed database and its state exactly as they were.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The checkpoint is not signed by the trusted log key (signed by an
    /// unknown key, or for another origin).
    #[error("checkpoint for origin {origin:?} is not signed by the trusted log key")]
    UnknownLogKey {
        /// The checkpoint's origin line.
        origin: String,
    },
    /// A signature by a key the trust file knows (the log or a witness) does
    /// not verify: the checkpoint was tampered with.
    #[error("checkpoint signature by {key} does not verify")]
    BadCheckpointSignature {
        /// The key, `name+keyid`.
        key: String,
    },
    /// The witnesses that validly cosigned do not meet the quorum.
    #[error("witness quorum not met: cosigned by {} known witness(es) {have:?}, unsatisfied: {unmet:?}", have.len())]
    QuorumNotMet {
        /// Names of the policy witnesses that cosigned.
        have: Vec<String>,
        /// The unsatisfied groups (or the single witness) on the quorum's
        /// path, outermost first.
        unmet: Vec<String>,
    },
    /// The newest time by which a quorum of witnesses had cosigned is too
    /// old: the log may be frozen for this client.
    #[error("checkpoint is stale: a witness quorum last cosigned it {age} s ago, the maximum is {max} s")]
    Stale {
        /// Age in seconds.
        age: u64,
        /// The trust file's `max-age`.
        max: u64,
    },
    /// The checkpoint is smaller than the one already accepted.
    #[error("rollback: the log was at size {have}, this checkpoint is size {got}")]
    Rollback {
        /// Size of the accepted checkpoint.
        have: u64,
        /// Size of the offered one.
        got: u64,
    },
    /// Two validly signed checkpoints of one size with different roots: the
    /// log shows different clients different histories. Both notes are kept
    /// as evidence for auditors.
    #[error("split view: the log signed two different trees of size {size}; both checkpoints are attached as evidence")]
    SplitView {
        /// The tree size both claim.
        size: u64,
        /// The checkpoint this client accepted before (signed note bytes).
        ours: Vec<u8>,
        /// The conflicting checkpoint just offered (signed note bytes).
        theirs: Vec<u8>,
    },
    /// The consistency proof does not show the accepted tree is a prefix of
    /// the new one: a fork or a bad proof.
    #[error("consistency proof from size {old} to size {new} does not verify (fork or bad proof)")]
    Inconsistent {
        /// Accepted size.
        old: u64,
        /// Offered size.
        new: u64,
    },
    /// The manifest is not validly signed by the publisher key.
    #[error("manifest is not validly signed by the publisher key")]
    BadManifestSignature,
    /// The manifest belongs to another feed (mix-and-match).
    #[error("manifest is for feed {manifest:?}, the trusted log is {log:?}")]
    OriginMismatch {
        /// The trusted log origin.
        log: String,
        /// The manifest's origin.
        manifest: String,
    },
    /// The release is not newer than the installed one (replay or rollback).
    #[error("release {got} is not newer than the installed release {installed}")]
    NotNewer {
        /// Installed version.
        installed: u64,
        /// Offered version.
        got: u64,
    },
    /// The release jumps further ahead than the trust file allows
    /// (fast-forward).
    #[error(
        "release {got} is more than {max} versions ahead of the installed release {installed}"
    )]
    TooFarAhead {
        /// Installed version.
        installed: u64,
        /// Offered version.
        got: u64,
        /// The trust file's `max-ahead`.
        max: u64,
    },
    /// The release has expired.
    #[error("release expired at {expires}, it is now {now}")]
    Expired {
        /// The manifest's `expires`.
        expires: u64,
        /// The time given.
        now: u64,
    },
    /// The inclusion proof does not put these manifest bytes at this index of
    /// the verified checkpoint: the release was not logged.
    #[error("manifest is not in the log at index {index} of the checkpoint of size {size}")]
    NotIncluded {
        /// The claimed index.
        index: u64,
        /// The checkpoint size.
        size: u64,
    },
    /// The manifest is logged but is not the log's newest entry: a newer
    /// release exists and is being withheld.
    #[error(
        "manifest is entry {index} but the log has {size} entries: a newer release is withheld"
    )]
    NotLatest {
        /// The manifest's index.
        index: u64,
        /// The checkpoint size.
        size: u64,
    },
    /// Input that does not parse, or a state that does not belong to this
    /// trust file; the string says which.
    #[error("malformed: {0}")]
    Malformed(String),
    /// A downloaded file or patch was refused.
    #[error(transparent)]
    File(#[from] FileRefusal),
}

/// Why downloaded bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileRefusal {
    /// A file the manifest does not list.
    #[error("{name:?} is not a file of this release")]
    NotInManifest {
        /// The name offered.
        name: String,
    },
    /// More bytes than the manifest's size (refused before hashing them).
    #[error("{name:?} is larger than the {size} bytes the manifest says")]
    Oversized {
        /// File or patch name.
        name: String,
        /// The manifest's size.
        size: u64,
    },
    /// Fewer bytes than the manifest's size.
    #[error("{name:?} is truncated: {got} of {want} bytes")]
    Truncated {
        /// File or patch name.
        name: String,
        /// Bytes received.
        got: u64,
        /// The manifest's size.
        want: u64,
    },
    /// A patch object that is not gzip of at most its bound.
    #[error("the patch for {name:?} is not a gzip-compressed patch within its bound")]
    BadPatchEncoding {
        /// File name.
        name: String,
    },
    /// Right size, wrong SHA-256: tampered content.
    #[error("{name:?} does not have the SHA-256 the manifest says (tampered)")]
    HashMismatch {
        /// File or patch name.
        name: String,
    },
    /// The patch did not produce the manifest's file.
    #[error("patch for {name:?}: {error}")]
    Patch {
        /// File name.
        name: String,
        /// What went wrong.
        error: PatchError,
    },
    /// A patch fetch without the installed base file to apply it to.
    #[error("patch for {name:?} needs the installed base file")]
    MissingBase {
        /// File name.
        name: String,
    },
}

/// Streaming check of downloaded bytes against an [`Entry`]: feed chunks as
/// they arrive; an endless or oversized download is refused as soon as it
/// passes the manifest's size, before those bytes are hashed.
#[derive(Debug, Clone)]
pub struct FileCheck<'a> {
    entry: &'a Entry,
    hasher: Sha256,
    len: u64,
}

impl<'a> FileCheck<'a> {
    /// Starts checking a download of `entry`.
    pub fn new(entry: &'a Entry) -> FileCheck<'a> {
        FileCheck {
            entry,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// Bytes still expected: read at most this plus one to detect excess.
    pub fn remaining(&self) -> u64 {
        self.entry.size() - self.len
    }

    /// Adds a chunk; refuses it if the total would exceed the size.
    pub fn update(&mut self, chunk: &[u8]) -> Result<(), FileRefusal> {
        if chunk.len() as u64 > self.remaining() {
            return Err(FileRefusal::Oversized {
                name: self.entry.name().to_owned(),
                size: self.entry.size(),
            });
        }
        self.len += chunk.len() as u64;
        self.hasher.update(chunk);
        Ok(())
    }

    /// Checks the total size and the SHA-256.
    pub fn finish(self) -> Result<(), FileRefusal> {
        let name = || self.entry.name().to_owned();
        if self.len != self.entry.size() {
            return Err(FileRefusal::Truncated {
                name: name(),
                got: self.len,
                want: self.entry.size(),
            });
        }
        let got: [u8; 32] = self.hasher.finalize().into();
        if got != *self.entry.sha256() {
            return Err(FileRefusal::HashMismatch { name: name() });
        }
        Ok(())
    }
}

/// Checks downloaded `bytes` against `entry`: the size first (an oversized
/// download is refused without hashing), then the SHA-256.
pub fn verify_file(entry: &Entry, bytes: &[u8]) -> Result<(), FileRefusal> {
    let mut c = FileCheck::new(entry);
    c.update(bytes)?;
    c.finish()
}

/// What to download for one file of an accepted release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// The whole file.
    Full {
        /// The file.
        file: Entry,
    },
    /// A patch from the installed base release's file of the same name.
    Patch {
        /// The resulting file.
        file: Entry,
        /// The patch object.
        patch: Entry,
    },
}

impl Fetch {
    /// The file this fetch produces.
    pub fn file(&self) -> &Entry {
        match self {
            Fetch::Full { file } | Fetch::Patch { file, .. } => file,
        }
    }

    /// The object to download (its SHA-256 names it in `objects/`).
    pub fn download(&self) -> &Entry {
        match self {
            Fetch::Full { file } => file,
            Fetch::Patch { patch, .. } => patch,
        }
    }

    /// Checks the downloaded object and returns the file to install:
    /// a full file as is, a patch applied to `installed` (the base release's
    /// file of the same name), bounded by and checked against the manifest.
    pub fn assemble(
        &self,
        installed: Option<&[u8]>,
        downloaded: &[u8],
    ) -> Result<Vec<u8>, FileRefusal> {
        verify_file(self.download(), downloaded)?;
        match self {
            Fetch::Full { .. } => Ok(downloaded.to_vec()),
            Fetch::Patch { file, .. } => {
                let name = || file.name().to_owned();
                let old = installed.ok_or_else(|| FileRefusal::MissingBase { name: name() })?;
                let max = crate::patch::patch_bound(file.size());
                let patch = crate::patch::decompress(downloaded, max)
                    .ok_or_else(|| FileRefusal::BadPatchEncoding { name: name() })?;
                apply_patch(old, &patch, file).map_err(|error| FileRefusal::Patch {
                    name: name(),
                    error,
                })
            }
        }
    }
}

/// A checkpoint that passed [`check_checkpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The signed checkpoint, all its signatures included.
    pub checkpoint: SignedCheckpoint,
    /// Its time: the newest time by which a witness quorum had cosigned.
    pub time: u64,
    /// `now - time` (0 if the witnesses' clocks are ahead).
    pub age: u64,
    /// Names of the policy witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
    /// Whether it has the accepted state's size and root (nothing new).
    pub unchanged: bool,
}

impl VerifiedCheckpoint {
    /// `state` moved to this checkpoint, the installed version kept: what a
    /// client stores after an up-to-date check, so that later rollbacks are
    /// measured from the newest checkpoint it has seen.
    pub fn advance(&self, state: &ClientState) -> ClientState {
        ClientState::from_parts(state.version(), self.checkpoint.clone())
    }
}

/// An update that passed every check: what to fetch, and what to store once
/// every file is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The verified manifest.
    pub manifest: Manifest,
    /// Its signed note bytes (the log entry).
    pub manifest_note: Vec<u8>,
    /// The verified checkpoint it is included in.
    pub checkpoint: VerifiedCheckpoint,
    /// The manifest's leaf index.
    pub index: u64,
    /// The version installed before, if any.
    pub previous: Option<u64>,
    /// One fetch per file of the release, in name order: patches when the
    /// installed version is the manifest's `base`, whole files otherwise.
    pub fetch: Vec<Fetch>,
    /// The offline C2SP tlog-proof of this release (the manifest note as its
    /// extra data), to keep beside the installed files.
    pub proof: TlogProof,
    /// The state to store after installing (never before).
    pub state: ClientState,
}

impl Accepted {
    /// The release's file `name`; refuses a name the manifest does not list.
    pub fn file(&self, name: &str) -> Result<&Entry, FileRefusal> {
        self.manifest
            .file(name)
            .ok_or_else(|| FileRefusal::NotInManifest {
                name: name.to_owned(),
            })
    }

    /// Checks a whole file offered under `name` (a mirror directory's file).
    pub fn check_file(&self, name: &str, bytes: &[u8]) -> Result<&Entry, FileRefusal> {
        let e = self.file(name)?;
        verify_file(e, bytes)?;
        Ok(e)
    }

    /// Total bytes to download.
    pub fn download_size(&self) -> u64 {
        self.fetch
            .iter()
            .map(|f| f.download().size())
            .fold(0, u64::saturating_add)
    }
}

/// Maps policy errors to refusals; `QuorumNotMet` gets its details.
fn checkpoint_refusal(policy: &Policy, msg: &[u8], e: detente_policy::Error) -> Refusal {
    use detente_policy::Error as P;
    match e {
        P::Note(detente_note::Error::InvalidSignature { name, id }) => {
            Refusal::BadCheckpointSignature {
                key: format!("{name}+{id:08x}"),
            }
        }
        P::Note(e) => Refusal::Malformed(format!("checkpoint: {e}")),
        P::UnknownLog(origin) => Refusal::UnknownLogKey { origin },
        P::NotSignedByLog => Refusal::UnknownLogKey {
            origin: SignedCheckpoint::parse(msg)
                .map(|c| c.checkpoint.origin().to_owned())
                .unwrap_or_default(),
        },
        P::QuorumNotMet => match SignedCheckpoint::parse(msg) {
            Ok(sc) => {
                let have = cosigners(policy, &sc);
                Refusal::QuorumNotMet {
                    unmet: unmet(policy, &have),
                    have: have
                        .iter()
                        .filter_map(|&i| policy.witnesses().get(i).map(|w| w.name.clone()))
                        .collect(),
                }
            }
            Err(e) => Refusal::Malformed(format!("checkpoint: {e}")),
        },
        e => Refusal::Malformed(format!("checkpoint: {e}")),
    }
}

/// Indexes of the policy witnesses whose cosignature on `sc` verifies.
fn cosigners(policy: &Policy, sc: &SignedCheckpoint) -> Vec<usize> {
    let text = sc.note.text().as_bytes();
    policy
        .witnesses()
        .iter()
        .enumerate()
        .filter(|(_, w)| {
            sc.note.signatures().iter().any(|s| {
                s.name() == w.key.name()
                    && s.id() == w.key.key_id()
                    && w.key.verify(text, s.bytes())
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// The unsatisfied groups (or witness) on the quorum's path, outermost first.
fn unmet(policy: &Policy, have: &[usize]) -> Vec<String> {
    let mut ok = Vec::with_capacity(policy.groups().len());
    for g in policy.groups() {
        let n = g
            .members
            .iter()
            .filter(|m| match **m {
                Member::Witness(i) => have.contains(&i),
                Member::Group(j) => ok.get(j).copied().unwrap_or(false),
            })
            .count();
        ok.push(n >= g.threshold);
    }
    let mut out = Vec::new();
    let mut stack = match policy.quorum() {
        Quorum::None => Vec::new(),
        Quorum::Member(m) => vec![m],
    };
    while let Some(m) = stack.pop() {
        match m {
            Member::Witness(i) if !have.contains(&i) => {
                if let Some(w) = policy.witnesses().get(i) {
                    out.push(w.name.clone());
                }
            }
            Member::Group(j) if !ok.get(j).copied().unwrap_or(true) => {
                if let Some(g) = policy.groups().get(j) {
                    out.push(g.name.clone());
                    stack.extend(
                        g.members
                            .iter()
                            .rev()
                            .filter(|m| matches!(m, Member::Group(_))),
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// The newest time `t` such that the witnesses that cosigned at or after `t`
/// still meet the quorum.
fn quorum_time(policy: &Policy, sc: &SignedCheckpoint, cosigned: &[usize]) -> Option<u64> {
    let mut stamped: Vec<(u64, usize)> = cosigned
        .iter()
        .filter_map(|&i| {
            let w = policy.witnesses().get(i)?;
            let s = sc
                .note
                .signatures()
                .iter()
                .find(|s| s.name() == w.key.name() && s.id() == w.key.key_id())?;
            Some((cosignature_timestamp(s)?, i))
        })
        .collect();
    stamped.sort_unstable_by(|a, b| b.cmp(a));
    stamped.iter().map(|s| s.0).find(|&t| {
        let set: Vec<usize> = stamped
            .iter()
            .take_while(|s| s.0 >= t)
            .map(|s| s.1)
            .collect();
        policy.quorum_met(&set)
    })
}

/// Steps 1 to 3 of an update, on their own (an up-to-date check needs no
/// more): the checkpoint verified under the trust file's policy (log
/// signature, every known cosignature, the quorum); consistency with the
/// accepted checkpoint (a smaller size is a rollback, the same size with
/// another root a split view, a larger one needs a valid consistency proof);
/// then freshness (see the crate docs). Without a state, any consistent
/// history is accepted and `consistency` is ignored.
pub fn check_checkpoint(
    trust: &Trust,
    state: Option<&ClientState>,
    checkpoint: &[u8],
    consistency: &[Hash],
    now: u64,
) -> Result<VerifiedCheckpoint, Refusal> {
    let policy = trust.policy();
    let (sc, cosigned) = policy
        .verify_checkpoint(checkpoint)
        .map_err(|e| checkpoint_refusal(policy, checkpoint, e))?;
    let cp = &sc.checkpoint;
    let mut unchanged = false;
    if let Some(st) = state {
        let ours = &st.checkpoint().checkpoint;
        if ours.origin() != cp.origin() {
            return Err(Refusal::Malformed(format!(
                "state is for log {:?}, the trust file for {:?}",
                ours.origin(),
                cp.origin()
            )));
        }
        let (old, new) = (ours.size(), cp.size());
        if new < old {
            return Err(Refusal::Rollback {
                have: old,
                got: new,
            });
        }
        if new == old && ours.root() != cp.root() {
            return Err(Refusal::SplitView {
                size: new,
                ours: st.checkpoint().to_bytes(),
                theirs: sc.to_bytes(),
            });
        }
        unchanged = new == old;
        if old > 0 && verify_consistency(old, new, ours.root(), cp.root(), consistency).is_err() {
            return Err(Refusal::Inconsistent { old, new });
        }
    }
    let time = quorum_time(policy, &sc, &cosigned).ok_or_else(|| {
        Refusal::Malformed("checkpoint cosignatures carry no usable timestamp".into())
    })?;
    let age = now.saturating_sub(time);
    if age > trust.max_age() {
        return Err(Refusal::Stale {
            age,
            max: trust.max_age(),
        });
    }
    let witnesses = cosigned
        .iter()
        .filter_map(|&i| policy.witnesses().get(i).map(|w| w.name.clone()))
        .collect();
    Ok(VerifiedCheckpoint {
        checkpoint: sc,
        time,
        age,
        witnesses,
        unchanged,
    })
}

/// Decides an update, in order: [`check_checkpoint`]; the manifest's
/// signature under the publisher key; its origin equal to the log's
/// (mix-and-match); its version newer than the installed one and at most
/// `max-ahead` ahead (both only with a state); not expired at `now`; the
/// manifest note's inclusion (leaf = the whole signed note) in the verified
/// checkpoint; and that it is the log's newest entry.
///
/// On success, [`Accepted`] says what to fetch and the state to store once
/// installed; on refusal nothing changes.
pub fn verify_update(
    trust: &Trust,
    state: Option<&ClientState>,
    checkpoint: &[u8],
    consistency: &[Hash],
    manifest_note: &[u8],
    inclusion: &Inclusion,
    now: u64,
) -> Result<Accepted, Refusal> {
    let verified = check_checkpoint(trust, state, checkpoint, consistency, now)?;
    let manifest = Manifest::verify(manifest_note, trust.publisher()).map_err(|e| match e {
        VerifyError::Signature(_) => Refusal::BadManifestSignature,
        e => Refusal::Malformed(format!("manifest: {e}")),
    })?;
    if manifest.origin() != trust.origin() {
        return Err(Refusal::OriginMismatch {
            log: trust.origin().to_owned(),
            manifest: manifest.origin().to_owned(),
        });
    }
    let installed = state.map(ClientState::version);
    if let Some(installed) = installed {
        let got = manifest.version();
        if got <= installed {
            return Err(Refusal::NotNewer { installed, got });
        }
        if got - installed > trust.max_ahead() {
            return Err(Refusal::TooFarAhead {
                installed,
                got,
                max: trust.max_ahead(),
            });
        }
    }
    if now >= manifest.expires() {
        return Err(Refusal::Expired {
            expires: manifest.expires(),
            now,
        });
    }
    let cp = &verified.checkpoint.checkpoint;
    let size = cp.size();
    let index = inclusion.index;
    verify_inclusion(
        index,
        size,
        &leaf_hash(manifest_note),
        &inclusion.proof,
        cp.root(),
    )
    .map_err(|_| Refusal::NotIncluded { index, size })?;
    if index + 1 != size {
        return Err(Refusal::NotLatest { index, size });
    }
    let patching = installed.is_some() && installed == manifest.base();
    let fetch = manifest
        .files()
        .iter()
        .map(|f| match manifest.patch(f.name()) {
            Some(p) if patching && p.size() < f.size() => Fetch::Patch {
                file: f.clone(),
                patch: p.clone(),
            },
            _ => Fetch::Full { file: f.clone() },
        })
        .collect();
    let proof = TlogProof {
        extra: Some(manifest_note.to_vec()),
        index,
        proof: inclusion.proof.clone(),
        checkpoint: verified.checkpoint.clone(),
    };
    let state = ClientState::from_parts(manifest.version(), verified.checkpoint.clone());
    Ok(Accepted {
        manifest,
        manifest_note: manifest_note.to_vec(),
        checkpoint: verified,
        index,
        previous: installed,
        fetch,
        proof,
        state,
    })
}
