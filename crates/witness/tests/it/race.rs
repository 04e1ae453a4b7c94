//! Concurrent requests for one log: no two cosigned checkpoints conflict.

use std::sync::{Arc, Barrier, Mutex};

use detente_tlog::{verify_consistency, Hash};
use detente_witness::{AddError, Witness};

use crate::util::{check_cosignatures, witness, Client, Rng, Server, TestLog};

const ORIGIN: &str = "example.com/racy";

/// Two lineages signed by the same log key: `main` and a fork at `at`.
fn lineages(at: u64, n: u64) -> (TestLog, TestLog) {
    let main = TestLog::new(ORIGIN, 5, n);
    let fork = main.fork(at, 0xf0, n);
    (main, fork)
}

/// Checks that every cosigned (size, root) is a prefix of the final state,
/// that the final state is the largest cosigned one, and returns the
/// lineage index of the final state.
fn check_history(w: &Witness, trees: &[&TestLog], cosigned: &[(u64, Hash)]) -> usize {
    let info = w
        .logs()
        .unwrap()
        .into_iter()
        .find(|l| l.origin == ORIGIN)
        .unwrap();
    let (size, root) = (info.state.size, info.state.root);
    let t = trees
        .iter()
        .position(|t| t.root(size) == root)
        .expect("final state is on a known lineage");
    let tree = trees[t];
    for &(s, r) in cosigned {
        assert!(s <= size, "cosigned {s} beyond final {size}");
        assert_eq!(
            tree.root(s),
            r,
            "cosigned size {s} conflicts with final state"
        );
        if s > 0 {
            verify_consistency(s, size, &r, &root, &tree.proof(s, size)).unwrap();
        }
    }
    let max = cosigned.iter().map(|c| c.0).max().unwrap_or(0);
    assert_eq!(size, max, "final state is the largest cosigned size");
    t
}

#[test]
fn fifty_racers_from_one_state() {
    let dir = tempfile::tempdir().unwrap();
    let (main, fork) = lineages(10, 100);
    let (w, vkeys) = witness(dir.path(), "w", &[&main]);
    w.add_checkpoint(&main.request(0, 10), 1).unwrap();
    let srv = Server::start(&w);
    let barrier = Arc::new(Barrier::new(50));
    let main = Arc::new(main);
    let fork = Arc::new(fork);
    let handles: Vec<_> = (0..50u64)
        .map(|i| {
            let (b, main, fork, addr) = (barrier.clone(), main.clone(), fork.clone(), srv.addr);
            std::thread::spawn(move || {
                let tree = if i % 2 == 0 { &main } else { &fork };
                let body = tree.request(10, 11 + i);
                let mut c = Client::connect(addr).unwrap();
                b.wait();
                let r = c.request("POST", "/add-checkpoint", &body).unwrap();
                (i, r)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter(|(_, r)| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "exactly one racer advances from size 10");
    let (wi, wr) = winners[0];
    let tree = if wi % 2 == 0 { &main } else { &fork };
    check_cosignatures(&tree.checkpoint(11 + wi), &wr.body, &vkeys);
    for (_, r) in &results {
        if r.status != 200 {
            assert_eq!(r.status, 409, "{}", r.text());
            assert_eq!(r.text(), format!("{}\n", 11 + wi));
        }
    }
    check_history(
        &w,
        &[&main, &fork],
        &[(10, main.root(10)), (11 + wi, tree.root(11 + wi))],
    );
}

/// Runs `threads` clients that each try to advance the log `rounds` times,
/// choosing a lineage at random each time, through `send`.
fn chaos(
    threads: u64,
    rounds: usize,
    main: &Arc<TestLog>,
    fork: &Arc<TestLog>,
    send: impl Fn(u64, &[u8]) -> (u16, String) + Send + Sync + 'static,
) -> Vec<(u64, Hash)> {
    let cosigned = Arc::new(Mutex::new(Vec::new()));
    let send = Arc::new(send);
    let n = main.size();
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (main, fork, cosigned, send) =
                (main.clone(), fork.clone(), cosigned.clone(), send.clone());
            std::thread::spawn(move || {
                let mut rng = Rng::new(i + 1);
                let mut believed = 0;
                for _ in 0..rounds {
                    if believed >= n {
                        break;
                    }
                    let tree = if rng.below(2) == 0 { &main } else { &fork };
                    let target = (believed + rng.below(4)).min(n);
                    let (status, body) = send(i, &tree.request(believed, target));
                    match status {
                        200 => {
                            cosigned.lock().unwrap().push((target, tree.root(target)));
                            believed = target;
                        }
                        409 => believed = body.trim_end().parse().unwrap(),
                        422 => {} // the other lineage is cosigned, or a split view
                        s => panic!("unexpected status {s}: {body}"),
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    Arc::try_unwrap(cosigned).unwrap().into_inner().unwrap()
}

#[test]
fn racing_advances_over_http_never_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let (main, fork) = lineages(20, 120);
    let (w, _) = witness(dir.path(), "w", &[&main]);
    let srv = Server::start(&w);
    let (main, fork) = (Arc::new(main), Arc::new(fork));
    let addr = srv.addr;
    let cosigned = chaos(16, 60, &main, &fork, move |_, body| {
        let r = Client::connect(addr)
            .unwrap()
            .request("POST", "/add-checkpoint", body)
            .unwrap();
        (r.status, r.text().to_owned())
    });
    assert!(!cosigned.is_empty());
    let t = check_history(&w, &[&main, &fork], &cosigned);
    eprintln!(
        "http chaos: {} cosigned, final lineage {t}, {} evidence",
        cosigned.len(),
        w.evidence().unwrap().len()
    );
    // Refused forks past the fork point left evidence.
    assert!(w.evidence().unwrap().iter().all(|e| e.origin == ORIGIN));
}

/// Separate `Witness` handles (separate SQLite connections, separate
/// in-process locks): only the SQL compare-and-swap serialises them, as
/// for several processes serving one directory.
#[test]
fn racing_advances_across_connections_never_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let (main, fork) = lineages(20, 120);
    let (w, _) = witness(dir.path(), "w", &[&main]);
    let handles: Vec<Witness> = (0..4).map(|_| Witness::open(dir.path()).unwrap()).collect();
    let (main, fork) = (Arc::new(main), Arc::new(fork));
    let cosigned = chaos(8, 60, &main, &fork, move |i, body| {
        match handles[(i % 4) as usize].add_checkpoint(body, 1_700_000_000 + i) {
            Ok(c) => (200, c.response_body()),
            Err(e @ AddError::Conflict { size }) => (e.status(), format!("{size}\n")),
            Err(e) => (e.status(), e.to_string()),
        }
    });
    assert!(!cosigned.is_empty());
    check_history(&w, &[&main, &fork], &cosigned);
}
