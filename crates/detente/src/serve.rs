//! `detente serve`: serve public trees (a log's `log/` directory, a feed's public tree) as
//! static files over HTTP, several side by side under URL prefixes.

use anyhow::{Context, Result};
use clap::Args;
use detente_serve::{Mount, Site};

/// `detente serve` flags.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one; the address
    /// listened on is printed).
    #[arg(long, value_name = "ADDR")]
    listen: String,
    /// Serve DIR under the URL prefix PREFIX, e.g. `/log=mylog/log` or `/=public`;
    /// repeatable. A request goes to the longest prefix that covers its path.
    #[arg(
        long = "mount",
        value_name = "PREFIX=DIR",
        required_unless_present_any = ["hub", "telemetry"]
    )]
    mounts: Vec<String>,
    /// Also serve the intel hub in DIR (made by `detente intel init`): TAXII 2.1 under
    /// `/taxii2/` and `/{api-root}/`, its log under `/{api-root}/log/`.
    #[arg(long, value_name = "DIR")]
    hub: Option<std::path::PathBuf>,
    /// Have the witnesses of this tlog-policy cosign the hub's checkpoint after every append
    /// (the policy's `witness NAME VKEY URL` lines).
    #[arg(long, value_name = "POLICY", requires = "hub")]
    hub_witnesses: Option<std::path::PathBuf>,
    /// Also run the telemetry aggregator (Leader or Helper) in DIR, made by `detente
    /// telemetry setup`: DAP-18 at `/hpke_config` and `/tasks/...`.
    #[arg(long, value_name = "DIR")]
    telemetry: Option<std::path::PathBuf>,
}

pub fn run(args: ServeArgs) -> Result<u8> {
    let mounts = args
        .mounts
        .iter()
        .map(|spec| Mount::parse(spec).with_context(|| format!("--mount {spec}")))
        .collect::<Result<Vec<_>>>()?;
    let hub = args
        .hub
        .as_deref()
        .map(|d| crate::intel::router(d, args.hub_witnesses.as_deref()))
        .transpose()?;
    let telemetry = args
        .telemetry
        .as_deref()
        .map(crate::telemetry_net::aggregator)
        .transpose()?;
    let site = if mounts.is_empty() {
        None
    } else {
        Some(Site::new(mounts)?)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("can't start the runtime")?;
    rt.block_on(async move {
        let l = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("can't listen on {}", args.listen))?;
        let addr = l.local_addr()?;
        let mut app = axum::Router::new();
        if let Some((r, root)) = hub {
            eprintln!("detente serve: hub at /taxii2/ and /{root}/");
            app = app.merge(r);
        }
        if let Some(t) = telemetry {
            eprintln!("detente serve: telemetry aggregator at /hpke_config and /tasks/");
            app = app.merge(t);
        }
        if let Some(site) = &site {
            for m in site.mounts() {
                eprintln!("detente serve: {} -> {}", m.prefix(), m.root().display());
            }
            app = app.merge(site.router());
        }
        println!("listening on http://{addr}");
        axum::serve(l, app).await.context("server failed")
    })?;
    Ok(0)
}
