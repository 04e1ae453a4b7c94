//! The load generator of `bench/telemetry`: N endpoints' reports against a running Leader
//! and Helper (`detente serve --telemetry`), posted many at a time so the aggregators run
//! at capacity, which one process per endpoint can't do on a small machine.
//!
//! Usage: `telemetry_load TASK_JSON CREDENTIALS N CONCURRENCY DAY`, where CREDENTIALS holds
//! `name<TAB>credential` lines (`detente telemetry enroll`), each good for up to 64 tokens.
//!
//! It works in phases and waits for a line on stdin before each measured one, so the
//! caller can read the aggregators' CPU time in between:
//! 1. builds the N reports (1,024-family vectors with up to 8 families set), unmeasured;
//!    prints `built`;
//! 2. after a line: fetches one upload token per report from the Leader's issuer, 64 per
//!    request; prints `tokens SECONDS`;
//! 3. after a line: posts every report with its token from CONCURRENCY threads on
//!    keep-alive connections; prints `uploaded OK SECONDS` (OK: uploads answered 200 with
//!    no report error). Anything else is an error and ends the run.

use std::io::BufRead as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use base64::Engine as _;
use detente_dap::{Decode as _, Encode as _, HpkeConfigList, Time, UploadErrors, UploadRequest};
use detente_telemetry::report::{build, Recipient};
use detente_telemetry::shard::{Value, Vdaf};
use detente_telemetry::task::TaskFile;
use detente_telemetry::tokens::{encode_token, finalize, request, IssuerKey};

type Res<T> = Result<T, String>;

fn hpke(c: &reqwest::blocking::Client, base: &str) -> Res<Recipient> {
    let url = detente_dap::Resource::HpkeConfig.url(base);
    let b = c
        .get(&url)
        .send()
        .and_then(|r| r.bytes())
        .map_err(|e| format!("{url}: {e}"))?;
    let list = HpkeConfigList::decode(&b).map_err(|e| format!("{url}: {e}"))?;
    let cfg = list
        .configs
        .as_slice()
        .first()
        .ok_or(format!("{url}: no configuration"))?;
    Ok(Recipient {
        config_id: cfg.id.0,
        public_key: cfg
            .public_key
            .as_ref()
            .try_into()
            .map_err(|_| format!("{url}: bad key"))?,
    })
}

fn wait_for_go() -> Res<()> {
    let mut l = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut l)
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn run() -> Res<()> {
    let a: Vec<String> = std::env::args().collect();
    let [_, task, creds, n, conc, day] = a.as_slice() else {
        return Err("usage: telemetry_load TASK_JSON CREDENTIALS N CONCURRENCY DAY".into());
    };
    let num = |s: &str| s.parse::<usize>().map_err(|e| format!("{s}: {e}"));
    let (n, conc, day) = (num(n)?, num(conc)?.max(1), num(day)?);
    let t = TaskFile::parse(&std::fs::read(task).map_err(|e| format!("{task}: {e}"))?)
        .map_err(|e| format!("{task}: {e}"))?;
    let creds: Vec<String> = std::fs::read_to_string(creds)
        .map_err(|e| format!("{creds}: {e}"))?
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(_, c)| c.trim().to_string()))
        .collect();
    let c = reqwest::blocking::Client::new();
    let (leader, helper) = (hpke(&c, &t.leader)?, hpke(&c, &t.helper)?);
    let vdaf = Vdaf::MultihotCountVec {
        length: t.vdaf.0,
        max_weight: t.vdaf.1,
        chunk_length: t.vdaf.2,
    };
    let time = Time(day as u64);

    // 1. The reports.
    let mut bodies = Vec::with_capacity(n);
    for e in 0..n {
        let mut bits = vec![false; t.vdaf.0];
        for k in 0..(e % 8).min(t.vdaf.1) {
            bits[(e * 7 + k * 131) % t.vdaf.0] = true;
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
        let r = build(
            t.id,
            &t.config,
            time,
            vdaf,
            &Value::Bits(bits),
            seed,
            leader,
            helper,
        )
        .map_err(|e| e.to_string())?;
        bodies.push(UploadRequest { reports: vec![r] }.get_encoded());
    }
    println!("built");
    wait_for_go()?;

    // 2. Their tokens, 64 per request and credential.
    let started = Instant::now();
    let der = t.issuer.as_deref().ok_or("the task has no token issuer")?;
    let pk = IssuerKey::from_der(der).map_err(|e| e.to_string())?;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
    let mut rng = <chacha20::ChaCha20Rng as rand_core::SeedableRng>::from_seed(seed);
    let turl = format!("{}/tasks/{}/tokens", t.leader.trim_end_matches('/'), t.id);
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut tokens = Vec::with_capacity(n);
    for cred in &creds {
        if tokens.len() >= n {
            break;
        }
        let k = (n - tokens.len()).min(64);
        let pending = (0..k)
            .map(|_| request(&pk, &t.id.0, day as u32, &mut rng))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let blinded: Vec<String> = pending.iter().map(|p| b64.encode(p.blinded())).collect();
        let body = serde_json::json!({"day": day, "blinded": blinded}).to_string();
        let r = c
            .post(&turl)
            .bearer_auth(cred)
            .body(body)
            .send()
            .map_err(|e| format!("{turl}: {e}"))?;
        let status = r.status();
        let bytes = r.bytes().map_err(|e| format!("{turl}: {e}"))?;
        let v: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("{turl}: {status}: {e}"))?;
        let sigs = v["signatures"]
            .as_array()
            .ok_or(format!("{turl}: {status}: {v}"))?;
        for (p, s) in pending.iter().zip(sigs) {
            let sig = s
                .as_str()
                .and_then(|s| b64.decode(s).ok())
                .ok_or("a signature is not base64")?;
            tokens.push(encode_token(
                &finalize(&pk, &t.id.0, p, &sig).map_err(|e| e.to_string())?,
            ));
        }
    }
    if tokens.len() < n {
        return Err(format!(
            "{} credentials gave {} tokens; {n} are needed",
            creds.len(),
            tokens.len()
        ));
    }
    println!("tokens {:.3}", started.elapsed().as_secs_f64());
    wait_for_go()?;

    // 3. The uploads, CONCURRENCY at a time.
    let url = detente_dap::Resource::Reports { task_id: t.id }.url(&t.leader);
    let next = AtomicUsize::new(0);
    let ok = AtomicUsize::new(0);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..conc {
            s.spawn(|| {
                let c = reqwest::blocking::Client::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    let r = c
                        .post(&url)
                        .header("content-type", "application/ppm-dap;message=upload-req")
                        .header(detente_telemetry::server::TOKEN_HEADER, &tokens[i])
                        .body(bodies[i].clone())
                        .send()
                        .and_then(|r| Ok((r.status(), r.bytes()?)));
                    let good = match &r {
                        Ok((st, b)) => {
                            st.is_success()
                                && UploadErrors::decode(b).is_ok_and(|e| e.status.is_empty())
                        }
                        Err(_) => false,
                    };
                    if good {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else if let Ok(mut f) = failure.lock() {
                        f.get_or_insert(format!("upload {i}: {r:?}"));
                    }
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    if let Some(f) = failure.into_inner().ok().flatten() {
        return Err(f);
    }
    println!("uploaded {} {wall:.3}", ok.load(Ordering::Relaxed));
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("telemetry_load: {e}");
        std::process::exit(1);
    }
}
