//! The aggregators over HTTP (feature `server`): a Leader and a Helper for one families task,
//! each with its own keys and its own store, speaking DAP-18's resources:
//!
//! - both: `GET /hpke_config`;
//! - Leader: `POST /tasks/{task}/reports` (clients' uploads, each with its upload token,
//!   checked before any work and spent in the transaction that counts its report;
//!   aggregated with the Helper before the answer: one worker sends the uploads queued
//!   within [`JOB_WINDOW`], or while the last job ran, together in one aggregation job),
//!   `POST /tasks/{task}/tokens` (enrolled endpoints' token
//!   requests), `POST /tasks/{task}/collection_jobs` (the Collector, with its bearer token;
//!   answered when done);
//! - Helper: `POST /tasks/{task}/aggregation_jobs`, `POST /tasks/{task}/aggregate_shares`
//!   (the Leader, with its bearer token).
//!
//! Every answer is computed before it is sent, so no resource needs polling. Tokens are
//! compared as SHA-256 hashes in constant time. Bodies are bounded.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use detente_dap::{
    AggregateShare as DapAggregateShare, AggregateShareReq, AggregationJobInitReq,
    AggregationJobResp, BatchSelector, CollectionJobReq, CollectionJobResp, Decode as _,
    Encode as _, HpkeConfig, HpkeConfigId, HpkeConfigList, Interval, List, MediaType, Message as _,
    NonEmpty16, Opaque32, ProblemType, ReportError, ReportUploadStatus, Resource, Role,
    TaskConfiguration, TaskId, TypedBatchSelector, TypedQuery, UploadErrors, UploadRequest,
    VerifyResp, VerifyResult,
};
use prio::codec::{Encode as _, ParameterizedDecode as _};
use prio::vdaf::prio3::Prio3MultihotCountVec;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::aggregate::{AggregateShare, Families};
use crate::flow::{helper_init, leader_finish, leader_init, seal_aggregate_share, HpkeKey, Task};
use crate::store::{Admit, AggStore, CollectError, Item};
use crate::tokens::{check, decode_token, sign_blinded, IssuerKey, IssuerSecret, Verifier};

/// The header an upload's token travels in.
pub const TOKEN_HEADER: &str = "x-detente-token";

/// Largest request body (an upload of many reports).
pub const MAX_BODY: usize = 64 << 20;

/// Which aggregator this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The Leader: receives uploads, drives aggregation and collection.
    Leader,
    /// The Helper.
    Helper,
}

/// One aggregator's configuration: the task (public), its own secrets and its peer.
pub struct Aggregator {
    /// Leader or Helper.
    pub which: Which,
    /// Task id.
    pub task_id: TaskId,
    /// Task configuration.
    pub task: TaskConfiguration,
    /// Families VDAF (length, max_weight, chunk_length).
    pub vdaf: (usize, usize, usize),
    /// The VDAF verification key (shared by the two aggregators only).
    pub verify_key: [u8; 32],
    /// This aggregator's HPKE key.
    pub hpke: HpkeKey,
    /// This aggregator's HPKE public key (served at `/hpke_config`).
    pub hpke_public: [u8; 32],
    /// The Collector's HPKE configuration (id, public key).
    pub collector: (u8, [u8; 32]),
    /// Leader: the Helper's base URL and the token to show it. Helper: unused.
    pub helper_url: String,
    /// The bearer token the Leader shows the Helper (the Helper keeps its hash).
    pub peer_token_hash: [u8; 32],
    /// Leader: the token it sends the Helper.
    pub peer_token: String,
    /// Leader: the hash of the Collector's bearer token.
    pub collector_token_hash: [u8; 32],
    /// Differential privacy: `epsilon` as (num, den), or none.
    pub epsilon: Option<(u32, u32)>,
    /// Leader: the upload-token issuer (its secret key, public key and tokens per endpoint
    /// and day). With it, every upload must carry a token ([`crate::tokens`]).
    pub issuer: Option<(IssuerSecret, IssuerKey, u32)>,
    /// The store.
    pub store: AggStore,
}

/// A token's identity: its day and nonce.
type TokenId = (u32, [u8; 32]);

struct Shared {
    queue: std::sync::Mutex<Vec<Queued>>,
    /// Tokens of uploads being aggregated, so the same token can't be in two jobs at once
    /// (the store spends it when its report is counted).
    in_flight: std::sync::Mutex<std::collections::HashSet<TokenId>>,
    /// The issuer's key, prepared for checking tokens.
    verifier: Option<Verifier>,
    /// Signals the aggregation worker that an upload was queued.
    wake: std::sync::Condvar,
    agg: Aggregator,
    vdaf: Prio3MultihotCountVec,
    fam: Families,
    http: reqwest::blocking::Client,
}

/// A problem answer (RFC 9457 with a DAP type).
#[derive(Debug, Clone, Copy)]
struct Problem(StatusCode, &'static str);

/// How long the first upload of an aggregation job waits for others to join it.
pub const JOB_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

/// Reports that make an aggregation job full without waiting.
pub const JOB_REPORTS: usize = 512;

/// One upload waiting for the next aggregation job.
struct Queued {
    /// When it was queued.
    at: std::time::Instant,
    inits: Vec<detente_dap::VerifyInit>,
    pending: Vec<(crate::flow::LeaderPending, u64, Option<TokenId>)>,
    reply: std::sync::mpsc::SyncSender<Result<Vec<ReportUploadStatus>, Problem>>,
}

/// Holds a token in [`Shared::in_flight`] until its upload is answered.
struct InFlight<'a>(&'a Shared, Option<TokenId>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let (Some(t), Ok(mut set)) = (self.1, self.0.in_flight.lock()) {
            set.remove(&t);
        }
    }
}

fn problem(p: Problem) -> Response {
    let body = format!(
        "{{\"type\":\"urn:ietf:params:ppm:dap:error:{}\",\"title\":\"{}\"}}",
        p.1, p.1
    );
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = p.0;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

fn dap_body(status: StatusCode, media: MediaType, bytes: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(media.content_type()) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

fn bearer_ok(h: &HeaderMap, hash: &[u8; 32]) -> bool {
    let Some(t) = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let got: [u8; 32] = Sha256::digest(t.trim().as_bytes()).into();
    bool::from(got.ct_eq(hash))
}

/// The hash a bearer token is kept as.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn merge_fn(fam: &Families) -> impl Fn(&[&[u8]]) -> Result<Vec<u8>, String> + '_ {
    move |shares: &[&[u8]]| fam.sum_encoded(shares).map_err(|e| e.to_string())
}

impl Shared {
    fn task(&self) -> Task<'_> {
        Task {
            id: self.agg.task_id,
            config: &self.agg.task,
            vdaf: &self.vdaf,
            verify_key: &self.agg.verify_key,
        }
    }

    fn hpke_config(&self) -> Result<Vec<u8>, Problem> {
        let cfg = HpkeConfig {
            id: HpkeConfigId(self.agg.hpke.config_id),
            kem_id: detente_dap::HpkeKemId::X25519_HKDF_SHA256,
            kdf_id: detente_dap::HpkeKdfId::HKDF_SHA256,
            aead_id: detente_dap::HpkeAeadId::AES_128_GCM,
            public_key: NonEmpty16::new(self.agg.hpke_public.to_vec())
                .map_err(|_| Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))?,
        };
        let list = HpkeConfigList {
            configs: List::new(vec![cfg])
                .map_err(|_| Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))?,
        };
        Ok(list.get_encoded())
    }

    fn encoded_out(out: crate::aggregate::OutputShare) -> Option<Vec<u8>> {
        AggregateShare::from(out).get_encoded().ok()
    }

    /// Leader: one upload, aggregated with the Helper in one job.
    fn upload(&self, headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, Problem> {
        let req = UploadRequest::decode(body)
            .map_err(|_| Problem(StatusCode::BAD_REQUEST, "invalidMessage"))?;
        let poisoned = || Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage");
        let mut token_id = None;
        if let Some(v) = &self.verifier {
            // One token per report: an upload with a token carries one report, of its day.
            let token = headers
                .get(TOKEN_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(decode_token)
                .ok_or(Problem(StatusCode::UNAUTHORIZED, "unauthorizedRequest"))?;
            let [r] = req.reports.as_slice() else {
                return Err(Problem(StatusCode::BAD_REQUEST, "invalidMessage"));
            };
            let day = u32::try_from(r.report_metadata.time.0)
                .map_err(|_| Problem(StatusCode::BAD_REQUEST, "invalidMessage"))?;
            let forbidden = Problem(StatusCode::FORBIDDEN, "unauthorizedRequest");
            check(v, &self.agg.task_id.0, day, &token).map_err(|_| forbidden)?;
            // Spent before, or in an upload being aggregated now: refused before any work.
            let id = (token.day, token.nonce);
            if self
                .agg
                .store
                .is_spent(id.0, &id.1)
                .map_err(|_| poisoned())?
                || !self.in_flight.lock().map_err(|_| poisoned())?.insert(id)
            {
                return Err(forbidden);
            }
            token_id = Some(id);
        }
        let _held = InFlight(self, token_id);
        let task = self.task();
        let mut errors = Vec::new();
        let mut pending = Vec::new();
        let mut inits = Vec::new();
        for r in &req.reports {
            match leader_init(&task, &self.agg.hpke, r) {
                Ok((p, vi)) => {
                    pending.push((p, r.report_metadata.time.0, token_id));
                    inits.push(vi);
                }
                Err(e) => errors.push(ReportUploadStatus {
                    id: r.report_metadata.report_id,
                    error: e,
                }),
            }
        }
        if !inits.is_empty() {
            // Group commit: the aggregation worker sends the uploads queued together to the
            // Helper in one job and counts them in one transaction, then answers each.
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            self.queue.lock().map_err(|_| poisoned())?.push(Queued {
                at: std::time::Instant::now(),
                inits,
                pending,
                reply: tx,
            });
            self.wake.notify_one();
            errors.extend(rx.recv().map_err(|_| poisoned())??);
        }
        Ok(UploadErrors { status: errors }.get_encoded())
    }

    /// Leader: the uploads of the next aggregation job, when there are any. It waits until
    /// [`JOB_WINDOW`] has passed since the oldest queued upload arrived, or [`JOB_REPORTS`]
    /// reports are queued, so that a job's fixed costs (the round trip to the Helper, each
    /// side's transaction and fsync, each bucket's read and write) are shared by many
    /// reports; under load, what queued while the last job ran goes at once.
    fn next_job(&self) -> Result<Vec<Queued>, ()> {
        let mut q = self.queue.lock().map_err(|_| ())?;
        if q.is_empty() {
            q = self
                .wake
                .wait_timeout(q, std::time::Duration::from_millis(500))
                .map_err(|_| ())?
                .0;
        }
        while let Some(oldest) = q.first().map(|j| j.at) {
            let reports: usize = q.iter().map(|j| j.inits.len()).sum();
            let waited = oldest.elapsed();
            if reports >= JOB_REPORTS || waited >= JOB_WINDOW {
                return Ok(std::mem::take(&mut *q));
            }
            q = self
                .wake
                .wait_timeout(q, JOB_WINDOW - waited)
                .map_err(|_| ())?
                .0;
        }
        Ok(Vec::new())
    }

    /// Leader: signs an enrolled endpoint's blinded token requests, within its daily quota.
    /// Body: JSON `{"day": D, "blinded": [base64...]}`; answer `{"signatures": [base64...]}`.
    fn tokens(&self, headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, Problem> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let Some((sk, _, per_day)) = &self.agg.issuer else {
            return Err(Problem(StatusCode::NOT_FOUND, "unrecognizedTask"));
        };
        let cred = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Problem(StatusCode::UNAUTHORIZED, "unauthorizedRequest"))?;
        let name = self
            .agg
            .store
            .endpoint_of(&token_hash(cred.trim()))
            .map_err(|_| Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))?
            .ok_or(Problem(StatusCode::FORBIDDEN, "unauthorizedRequest"))?;
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| Problem(StatusCode::BAD_REQUEST, "invalidMessage"))?;
        let day = v
            .get("day")
            .and_then(serde_json::Value::as_u64)
            .and_then(|d| u32::try_from(d).ok())
            .ok_or(Problem(StatusCode::BAD_REQUEST, "invalidMessage"))?;
        let blinded: Vec<Vec<u8>> = v
            .get("blinded")
            .and_then(serde_json::Value::as_array)
            .filter(|a| !a.is_empty() && a.len() <= 64)
            .ok_or(Problem(StatusCode::BAD_REQUEST, "invalidMessage"))?
            .iter()
            .map(|b| b.as_str().and_then(|s| b64.decode(s).ok()))
            .collect::<Option<_>>()
            .ok_or(Problem(StatusCode::BAD_REQUEST, "invalidMessage"))?;
        let n = blinded.len() as u32;
        if !self
            .agg
            .store
            .quota_take(&name, day, n, *per_day)
            .map_err(|_| Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))?
        {
            return Err(Problem(
                StatusCode::TOO_MANY_REQUESTS,
                "unauthorizedRequest",
            ));
        }
        let sigs = match sign_blinded(sk, &blinded) {
            Ok(s) => s,
            Err(_) => {
                // A malformed request costs the endpoint nothing of its quota.
                self.agg
                    .store
                    .quota_refund(&name, day, n)
                    .map_err(|_| Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))?;
                return Err(Problem(StatusCode::BAD_REQUEST, "invalidMessage"));
            }
        };
        let out: Vec<String> = sigs.iter().map(|s| b64.encode(s)).collect();
        Ok(serde_json::json!({ "signatures": out })
            .to_string()
            .into_bytes())
    }

    /// Leader: POSTs a DAP message to one of the Helper's resources, with the Leader's
    /// token, and returns the answer's body (bounded by the HTTP client's timeout).
    fn post_helper(
        &self,
        resource: Resource,
        media: MediaType,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, Problem> {
        let gateway = |what| Problem(StatusCode::BAD_GATEWAY, what);
        let resp = self
            .http
            .post(resource.url(&self.agg.helper_url))
            .bearer_auth(&self.agg.peer_token)
            .header(header::CONTENT_TYPE, media.content_type())
            .body(body)
            .send()
            .map_err(|_| gateway("unrecognizedMessage"))?;
        let status = resp.status();
        let bytes = resp.bytes().map_err(|_| gateway("unrecognizedMessage"))?;
        if !status.is_success() {
            // The Helper's problem type, when it gave one we know (e.g. batchMismatch).
            let kind = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("type")?.as_str().and_then(ProblemType::from_urn))
                .map_or("unrecognizedMessage", ProblemType::token);
            return Err(gateway(kind));
        }
        Ok(bytes.to_vec())
    }

    /// Sends queued uploads' reports to the Helper in one aggregation job, finishes them,
    /// counts the verified ones in one transaction, and answers each upload.
    fn run_jobs(&self, jobs: Vec<Queued>) {
        let task = self.task();
        let merge = merge_fn(&self.fam);
        let mut all_inits = Vec::new();
        let mut owners = Vec::new();
        let mut replies = Vec::new();
        let mut pendings = Vec::new();
        for (j, q) in jobs.into_iter().enumerate() {
            for (vi, p) in q.inits.into_iter().zip(q.pending) {
                all_inits.push(vi);
                pendings.push(p);
                owners.push(j);
            }
            replies.push((q.reply, Vec::new(), false));
        }
        let job = AggregationJobInitReq {
            verification_key_id: 0,
            agg_param: Opaque32::default(),
            extensions: Default::default(),
            verify_inits: all_inits,
        };
        let resps = match self
            .post_helper(
                Resource::AggregationJobs {
                    task_id: self.agg.task_id,
                },
                AggregationJobInitReq::MEDIA_TYPE,
                job.get_encoded(),
            )
            .and_then(|b| {
                AggregationJobResp::decode(&b)
                    .map_err(|_| Problem(StatusCode::BAD_GATEWAY, "invalidMessage"))
            })
            .and_then(|r| {
                if r.verify_resps.len() == pendings.len() {
                    Ok(r.verify_resps)
                } else {
                    Err(Problem(StatusCode::BAD_GATEWAY, "invalidMessage"))
                }
            }) {
            Ok(r) => r,
            Err(p) => {
                for (tx, _, _) in replies {
                    let _ = tx.send(Err(p));
                }
                return;
            }
        };
        let mut admits = Vec::new();
        let mut admit_owner = Vec::new();
        for ((p, bucket, token), (vr, j)) in
            pendings.into_iter().zip(resps.into_iter().zip(&owners))
        {
            let rid = p.report_id;
            match leader_finish(&task, p, &vr) {
                Ok(out) => match Self::encoded_out(out) {
                    Some(share) => {
                        admits.push(Item {
                            report_id: rid.0,
                            bucket,
                            share,
                            token,
                        });
                        admit_owner.push((*j, rid));
                    }
                    None => replies[*j].1.push(ReportUploadStatus {
                        id: rid,
                        error: ReportError::INVALID_MESSAGE,
                    }),
                },
                Err(e) => replies[*j].1.push(ReportUploadStatus { id: rid, error: e }),
            }
        }
        match self
            .agg
            .store
            .admit_many(&self.agg.task_id.0, &admits, &merge)
        {
            Ok(outcomes) => {
                for ((j, rid), o) in admit_owner.into_iter().zip(outcomes) {
                    match o {
                        Admit::Counted => {}
                        Admit::Replayed => replies[j].1.push(ReportUploadStatus {
                            id: rid,
                            error: ReportError::REPORT_REPLAYED,
                        }),
                        Admit::BatchCollected => replies[j].1.push(ReportUploadStatus {
                            id: rid,
                            error: ReportError::BATCH_COLLECTED,
                        }),
                        Admit::TokenSpent => replies[j].2 = true,
                    }
                }
                for (tx, errs, spent) in replies {
                    let _ = tx.send(if spent {
                        Err(Problem(StatusCode::FORBIDDEN, "unauthorizedRequest"))
                    } else {
                        Ok(errs)
                    });
                }
            }
            Err(_) => {
                for (tx, _, _) in replies {
                    let _ = tx.send(Err(Problem(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "invalidMessage",
                    )));
                }
            }
        }
    }

    /// Helper: one aggregation job.
    fn aggregate(&self, _headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, Problem> {
        let req = AggregationJobInitReq::decode(body)
            .map_err(|_| Problem(StatusCode::BAD_REQUEST, "invalidMessage"))?;
        let task = self.task();
        let merge = merge_fn(&self.fam);
        let mut resps = Vec::with_capacity(req.verify_inits.len());
        let mut admits = Vec::new();
        let mut slots = Vec::new();
        for vi in &req.verify_inits {
            let rid = vi.report_share.report_metadata.report_id;
            let bucket = vi.report_share.report_metadata.time.0;
            let (resp, out) = helper_init(&task, &self.agg.hpke, vi);
            if let Some(share) = out.and_then(Self::encoded_out) {
                slots.push(resps.len());
                admits.push(Item {
                    report_id: rid.0,
                    bucket,
                    share,
                    token: None,
                });
            }
            resps.push(resp);
        }
        // Every verified report of the job is counted in one transaction.
        let outcomes = self
            .agg
            .store
            .admit_many(&self.agg.task_id.0, &admits, &merge)
            .map_err(|_| Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))?;
        for (slot, outcome) in slots.into_iter().zip(outcomes) {
            let rid = resps[slot].report_id;
            match outcome {
                Admit::Counted => {}
                Admit::Replayed => resps[slot] = reject(rid, ReportError::REPORT_REPLAYED),
                Admit::BatchCollected => resps[slot] = reject(rid, ReportError::BATCH_COLLECTED),
                // The Helper's reports carry no tokens.
                Admit::TokenSpent => resps[slot] = reject(rid, ReportError::INVALID_MESSAGE),
            }
        }
        Ok(AggregationJobResp {
            verify_resps: resps,
        }
        .get_encoded())
    }

    fn interval_of_query(req: &CollectionJobReq) -> Result<Interval, Problem> {
        match req.query.typed() {
            Ok(TypedQuery::TimeInterval(c)) => Ok(c.batch_interval),
            _ => Err(Problem(StatusCode::BAD_REQUEST, "invalidMessage")),
        }
    }

    fn seal(
        &self,
        role: Role,
        req: &CollectionJobReq,
        share: &[u8],
    ) -> Result<detente_dap::HpkeCiphertext, Problem> {
        let mut s = AggregateShare::get_decoded_with_param(&(&self.vdaf, &()), share)
            .map_err(|_| Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|_| Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))?;
        if let Some(eps) = self.agg.epsilon {
            self.fam
                .add_noise(&mut s, eps, seed)
                .map_err(|_| Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))?;
        }
        let mut rng_seed = [0u8; 32];
        getrandom::fill(&mut rng_seed)
            .map_err(|_| Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))?;
        let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::from_seed(rng_seed);
        seal_aggregate_share(
            &self.task(),
            role,
            (self.agg.collector.0, &self.agg.collector.1),
            req,
            &s,
            &mut rng,
        )
        .map_err(|_| Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))
    }

    fn collect_store(
        &self,
        iv: &Interval,
        expect: Option<(u64, [u8; 32])>,
    ) -> Result<crate::store::Collected, Problem> {
        let merge = merge_fn(&self.fam);
        let from = iv.start.0;
        let to = from.saturating_add(iv.duration.0);
        match self.agg.store.collect(
            &self.agg.task_id.0,
            from,
            to,
            self.agg.task.min_batch_size,
            expect,
            &merge,
        ) {
            Ok(Some(c)) => Ok(c),
            Ok(None) | Err(CollectError::TooSmall { .. }) => {
                Err(Problem(StatusCode::BAD_REQUEST, "invalidBatchSize"))
            }
            Err(CollectError::AlreadyCollected) => {
                Err(Problem(StatusCode::BAD_REQUEST, "batchOverlap"))
            }
            Err(CollectError::Mismatch) => Err(Problem(StatusCode::BAD_REQUEST, "batchMismatch")),
            Err(CollectError::Store(_)) => {
                Err(Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage"))
            }
        }
    }

    /// Leader: a collection job, answered when done.
    fn collection(&self, _headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, Problem> {
        let req = CollectionJobReq::decode(body)
            .map_err(|_| Problem(StatusCode::BAD_REQUEST, "invalidMessage"))?;
        let iv = Self::interval_of_query(&req)?;
        let mine = self.collect_store(&iv, None)?;
        let asr = AggregateShareReq {
            collection_job_req: req.clone(),
            batch_selector: BatchSelector::time_interval(iv),
            report_count: mine.reports,
            checksum: detente_dap::Checksum(mine.checksum),
        };
        let bytes = self.post_helper(
            Resource::AggregateShares {
                task_id: self.agg.task_id,
            },
            AggregateShareReq::MEDIA_TYPE,
            asr.get_encoded(),
        )?;
        let helper = DapAggregateShare::decode(&bytes)
            .map_err(|_| Problem(StatusCode::BAD_GATEWAY, "invalidMessage"))?;
        let leader = self.seal(Role::Leader, &req, &mine.share)?;
        Ok(CollectionJobResp {
            report_count: mine.reports,
            interval: iv,
            leader_encrypted_agg_share: leader,
            helper_encrypted_agg_share: helper.encrypted_aggregate_share,
        }
        .get_encoded())
    }

    /// Helper: an aggregate share for the Leader's batch, if both saw the same reports.
    fn aggregate_share(&self, _headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, Problem> {
        let req = AggregateShareReq::decode(body)
            .map_err(|_| Problem(StatusCode::BAD_REQUEST, "invalidMessage"))?;
        let iv = match req.batch_selector.typed() {
            Ok(TypedBatchSelector::TimeInterval(c)) => c.batch_interval,
            _ => return Err(Problem(StatusCode::BAD_REQUEST, "invalidMessage")),
        };
        if Self::interval_of_query(&req.collection_job_req)? != iv {
            return Err(Problem(StatusCode::BAD_REQUEST, "batchMismatch"));
        }
        let mine = self.collect_store(&iv, Some((req.report_count, req.checksum.0)))?;
        let ct = self.seal(Role::Helper, &req.collection_job_req, &mine.share)?;
        Ok(DapAggregateShare {
            encrypted_aggregate_share: ct,
        }
        .get_encoded())
    }
}

fn reject(report_id: detente_dap::ReportId, e: ReportError) -> VerifyResp {
    VerifyResp {
        report_id,
        result: VerifyResult::Reject { report_error: e },
    }
}

type Handler = fn(&Shared, &HeaderMap, &[u8]) -> Result<Vec<u8>, Problem>;

async fn run(
    s: Arc<Shared>,
    task: String,
    req: Request,
    token: Option<[u8; 32]>,
    f: Handler,
    status: StatusCode,
    media: MediaType,
) -> Response {
    if task != s.agg.task_id.to_string() {
        return problem(Problem(StatusCode::NOT_FOUND, "unrecognizedTask"));
    }
    if let Some(h) = token {
        if !bearer_ok(req.headers(), &h) {
            return problem(Problem(StatusCode::FORBIDDEN, "unauthorizedRequest"));
        }
    }
    let headers = req.headers().clone();
    let body = match to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return problem(Problem(StatusCode::PAYLOAD_TOO_LARGE, "invalidMessage")),
    };
    match tokio::task::spawn_blocking(move || f(&s, &headers, &body)).await {
        Ok(Ok(bytes)) => dap_body(status, media, bytes),
        Ok(Err(p)) => problem(p),
        Err(_) => problem(Problem(StatusCode::INTERNAL_SERVER_ERROR, "invalidMessage")),
    }
}

/// The routes of one aggregator.
pub fn router(agg: Aggregator) -> Result<Router, String> {
    let (len, w, chunk) = agg.vdaf;
    let vdaf = Prio3MultihotCountVec::new_multihot_count_vec(2, len, w, chunk)
        .map_err(|e| e.to_string())?;
    let fam = Families::new(len, w, chunk).map_err(|e| e.to_string())?;
    let http = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;
    let which = agg.which;
    let s = Arc::new(Shared {
        queue: std::sync::Mutex::new(Vec::new()),
        in_flight: std::sync::Mutex::new(std::collections::HashSet::new()),
        verifier: agg.issuer.as_ref().map(|(_, pk, _)| Verifier::new(pk)),
        wake: std::sync::Condvar::new(),
        agg,
        vdaf,
        fam,
        http,
    });
    if which == Which::Leader {
        // The aggregation worker: it runs while the router (and so its state) lives.
        let weak = Arc::downgrade(&s);
        std::thread::Builder::new()
            .name("aggregation".into())
            .spawn(move || {
                while let Some(s) = weak.upgrade() {
                    match s.next_job() {
                        Ok(jobs) if !jobs.is_empty() => s.run_jobs(jobs),
                        Ok(_) => {}
                        Err(()) => return,
                    }
                }
            })
            .map_err(|e| format!("can't start the aggregation worker: {e}"))?;
    }
    let hpke = {
        let s = s.clone();
        get(move || {
            let s = s.clone();
            async move {
                match s.hpke_config() {
                    Ok(b) => dap_body(StatusCode::OK, HpkeConfigList::MEDIA_TYPE, b),
                    Err(p) => problem(p),
                }
            }
        })
    };
    let r = Router::new().route("/hpke_config", hpke);
    let r = match which {
        Which::Leader => r
            .route(
                "/tasks/{task}/reports",
                post(
                    |State(s): State<Arc<Shared>>, Path(t): Path<String>, req: Request| async move {
                        run(
                            s,
                            t,
                            req,
                            None,
                            Shared::upload,
                            StatusCode::OK,
                            UploadErrors::MEDIA_TYPE,
                        )
                        .await
                    },
                ),
            )
            .route(
                "/tasks/{task}/tokens",
                post(
                    |State(s): State<Arc<Shared>>, Path(t): Path<String>, req: Request| async move {
                        let mut r = run(
                            s,
                            t,
                            req,
                            None,
                            Shared::tokens,
                            StatusCode::OK,
                            UploadErrors::MEDIA_TYPE,
                        )
                        .await;
                        if r.status() == StatusCode::OK {
                            r.headers_mut().insert(
                                header::CONTENT_TYPE,
                                HeaderValue::from_static("application/json"),
                            );
                        }
                        r
                    },
                ),
            )
            .route(
                "/tasks/{task}/collection_jobs",
                post(
                    |State(s): State<Arc<Shared>>, Path(t): Path<String>, req: Request| async move {
                        let h = s.agg.collector_token_hash;
                        run(
                            s,
                            t,
                            req,
                            Some(h),
                            Shared::collection,
                            StatusCode::CREATED,
                            CollectionJobResp::MEDIA_TYPE,
                        )
                        .await
                    },
                ),
            ),
        Which::Helper => r
            .route(
                "/tasks/{task}/aggregation_jobs",
                post(
                    |State(s): State<Arc<Shared>>, Path(t): Path<String>, req: Request| async move {
                        let h = s.agg.peer_token_hash;
                        run(
                            s,
                            t,
                            req,
                            Some(h),
                            Shared::aggregate,
                            StatusCode::CREATED,
                            AggregationJobResp::MEDIA_TYPE,
                        )
                        .await
                    },
                ),
            )
            .route(
                "/tasks/{task}/aggregate_shares",
                post(
                    |State(s): State<Arc<Shared>>, Path(t): Path<String>, req: Request| async move {
                        let h = s.agg.peer_token_hash;
                        run(
                            s,
                            t,
                            req,
                            Some(h),
                            Shared::aggregate_share,
                            StatusCode::CREATED,
                            DapAggregateShare::MEDIA_TYPE,
                        )
                        .await
                    },
                ),
            ),
    };
    Ok(r.with_state(s))
}
