//! `vitrine bench rec`: recommendation serving on a real dataset's shoppers. The sequences of an
//! S3-Rec file become a catalog and view events in a scratch database, beside bench shoppers
//! with 50-event histories drawn from real sequences. It then times top-10 answers for those
//! shoppers inside the process (the engine call a request makes, catalog lookups included), and
//! over HTTP with `wrk` at 64 connections against `vitrine serve` on the same database.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use vitrine_engine::import::ImportOptions;
use vitrine_engine::rec::{RecAttributes, RecSource, Sequences, load_sequences};
use vitrine_engine::{Engine, EngineConfig};

use super::child::{self, Scratch};
use super::load::quantile;

/// Goals from the recommender issue.
const GOAL_P99_MS: f64 = 5.0;
const GOAL_REQ_S: f64 = 2000.0;
/// Events in each bench shopper's history.
const HISTORY: usize = 50;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// An S3-Rec sequence file (`user item item ...` per line, gzip or plain).
    #[arg(
        long,
        default_value = "../shared/data/amazon-seqrec-s3rec/Beauty.txt.gz"
    )]
    data: PathBuf,
    /// A SASRec run to serve (`vitrine train rec`); default: item-kNN fitted on the events.
    #[arg(long)]
    run: Option<PathBuf>,
    /// Bench shoppers, each with a 50-event history; requests go round them.
    #[arg(long, default_value_t = 200)]
    shoppers: usize,
    /// Requests timed inside the process.
    #[arg(long, default_value_t = 5000)]
    requests: usize,
    /// Concurrent HTTP connections.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Seconds of HTTP load.
    #[arg(long, default_value_t = 20)]
    seconds: u32,
    /// Where to write the JSON result.
    #[arg(long, default_value = "bench/results/rec-serving.json")]
    out: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let (data, _) = load_sequences(
        &RecSource::File(args.data.clone()),
        &RecAttributes::None,
        None,
    )?;
    let dataset = args
        .data
        .file_name()
        .and_then(|n| n.to_str())
        .map_or("data", |n| n.split('.').next().unwrap_or(n))
        .to_owned();
    let scratch = Scratch::new()?;
    let db = scratch.path().join("bench.db");
    let shoppers = write_and_import(&data, &db, scratch.path(), args.shoppers)?;

    eprintln!("timing {} requests in the process", args.requests);
    let mut engine = Engine::open(&EngineConfig {
        db_path: db.clone(),
        default_currency: "USD".into(),
    })?;
    if let Some(run) = &args.run {
        engine = engine.with_recommender_run(run.clone());
    }
    let started = Instant::now();
    let first = engine.recommend(&shoppers[0], 10, false)?;
    let fit_s = started.elapsed().as_secs_f64();
    let mut ms = Vec::with_capacity(args.requests);
    for n in 0..args.requests {
        let started = Instant::now();
        let recs = engine.recommend(&shoppers[n % shoppers.len()], 10, false)?;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        if recs.items.len() != 10 {
            bail!("{} got {} items, not 10", recs.shopper, recs.items.len());
        }
    }
    drop(engine);
    let p99 = quantile(&ms, 0.99).unwrap_or(f64::NAN);
    let in_process = json!({
        "requests": args.requests,
        "first_request_s_fitting_included": fit_s,
        "mean_ms": ms.iter().sum::<f64>() / ms.len().max(1) as f64,
        "p50_ms": quantile(&ms, 0.5),
        "p99_ms": p99,
        "max_ms": ms.iter().copied().fold(0.0, f64::max),
        "goal_p99_ms": GOAL_P99_MS,
        "met": p99 <= GOAL_P99_MS,
    });
    eprintln!("in process: p99 {p99:.3} ms");

    let mut extra = vec!["--no-llm".to_owned()];
    if let Some(run) = &args.run {
        extra.extend(["--rec-run".to_owned(), run.display().to_string()]);
    }
    let server = child::vitrine(scratch.path(), &extra)?;
    let http = wrk(&server, scratch.path(), &shoppers, &args)?;
    let result = json!({
        "bench": "rec-serving",
        "dataset": dataset,
        "events": data.interactions() + shoppers.len() * HISTORY,
        "items": data.n_items(),
        "model": first.model,
        "k": 10,
        "history_events": HISTORY,
        "bench_shoppers": shoppers.len(),
        "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "in_process": in_process,
        "http": http,
    });
    let text = serde_json::to_string_pretty(&result)? + "\n";
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.out, &text).with_context(|| format!("writing {}", args.out.display()))?;
    print!("{text}");
    eprintln!("written to {}", args.out.display());
    Ok(())
}

/// Writes the sequences as products and view events (one second apart per shopper), plus the
/// bench shoppers, imports both into `db`, and returns the bench shoppers' ids.
fn write_and_import(
    data: &Sequences,
    db: &Path,
    dir: &Path,
    bench_shoppers: usize,
) -> anyhow::Result<Vec<String>> {
    let products = dir.join("products.jsonl");
    let events = dir.join("events.jsonl");
    let mut w = BufWriter::new(std::fs::File::create(&products)?);
    for i in 1..=data.n_items() as u32 {
        let id = data.item_id(i);
        let line = json!({"id": id, "title": format!("Item {id}"), "price": "10",
                          "category": format!("group-{}", i % 50)});
        writeln!(w, "{line}")?;
    }
    w.flush()?;
    let mut w = BufWriter::new(std::fs::File::create(&events)?);
    let event = |w: &mut BufWriter<std::fs::File>, shopper: &str, item: u32, n: usize| {
        let ts = format!(
            "2026-01-01T{:02}:{:02}:{:02}Z",
            n / 3600,
            (n / 60) % 60,
            n % 60
        );
        let line = json!({"shopper": shopper, "product": data.item_id(item), "kind": "view",
                          "ts": ts});
        writeln!(w, "{line}")
    };
    for (u, seq) in data.iter().enumerate() {
        for (n, &i) in seq.iter().enumerate() {
            event(&mut w, data.user(u), i, n)?;
        }
    }
    // Each bench shopper's history: real sequences, one after another, from a shopper chosen
    // by a fixed stride, until it holds 50 events.
    let mut shoppers = Vec::with_capacity(bench_shoppers);
    let mut u = 0;
    for b in 0..bench_shoppers {
        let id = format!("bench-{b}");
        let mut n = 0;
        while n < HISTORY {
            u = (u + 7919) % data.len().max(1);
            for &i in data.seq(u).iter().take(HISTORY - n) {
                event(&mut w, &id, i, n)?;
                n += 1;
            }
        }
        shoppers.push(id);
    }
    w.flush()?;
    drop(w);
    eprintln!("importing {} items and their events", data.n_items());
    let engine = Engine::open(&EngineConfig {
        db_path: db.to_owned(),
        default_currency: "USD".into(),
    })?;
    let options = ImportOptions::default();
    for (what, report) in [
        (
            "products",
            engine.import_products(&products, None, &options, &mut |_| {})?,
        ),
        (
            "events",
            engine.import_events(&events, None, &options, &mut |_| {})?,
        ),
    ] {
        if report.rejected > 0 || !report.committed {
            bail!(
                "{} of {} {what} were rejected",
                report.rejected,
                report.records
            );
        }
    }
    Ok(shoppers)
}

/// `wrk` against the server: `connections` connections on two threads for `seconds`, requests
/// going round the bench shoppers.
fn wrk(
    server: &child::Server,
    dir: &Path,
    shoppers: &[String],
    args: &Args,
) -> anyhow::Result<Value> {
    let script = dir.join("paths.lua");
    let paths: Vec<String> = shoppers
        .iter()
        .map(|s| format!("\"/v1/shoppers/{s}/recommendations?k=10\""))
        .collect();
    std::fs::write(
        &script,
        format!(
            "local paths = {{{}}}\nlocal n = 0\nrequest = function()\n  n = n + 1\n  \
             return wrk.format(\"GET\", paths[(n % #paths) + 1])\nend\n",
            paths.join(", ")
        ),
    )?;
    // The first request fits the model; wrk measures serving, not fitting.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let key = server.api_key.clone().unwrap_or_default();
    let warm = agent
        .get(format!(
            "{}/v1/shoppers/{}/recommendations?k=10",
            server.base_url, shoppers[0]
        ))
        .header("Authorization", format!("Bearer {key}"))
        .call()
        .context("warming the server up")?;
    if warm.status() != 200 {
        bail!(
            "the server answered {}:\n{}",
            warm.status(),
            server.log_tail()
        );
    }
    eprintln!(
        "wrk: {} connections for {} s",
        args.connections, args.seconds
    );
    let out = Command::new("wrk")
        .args(["-t2", &format!("-c{}", args.connections)])
        .arg(format!("-d{}s", args.seconds))
        .arg("--latency")
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .arg("-s")
        .arg(&script)
        .arg(&server.base_url)
        .output()
        .context("running wrk (install it with `apt-get install wrk`, or `make bench`)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "wrk failed: {}{}",
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report = parse_wrk(&text).with_context(|| format!("reading wrk's report:\n{text}"))?;
    let rate = report.requests_per_s;
    eprintln!("http: {rate:.0} requests/s");
    Ok(json!({
        "tool": "wrk",
        "threads": 2,
        "connections": args.connections,
        "seconds": args.seconds,
        "requests_per_s": rate,
        "latency_ms": {"p50": report.p50_ms, "p90": report.p90_ms, "p99": report.p99_ms},
        "errors": report.errors,
        "goal_requests_per_s": GOAL_REQ_S,
        "met": rate >= GOAL_REQ_S && report.errors == 0,
        "server_peak_rss_mib": server.peak_rss_bytes().map(|b| b as f64 / 1048576.0),
    }))
}

/// What `wrk --latency` reports.
#[derive(Debug, PartialEq)]
struct WrkReport {
    requests_per_s: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    /// Non-2xx answers, socket errors and timeouts.
    errors: u64,
}

fn parse_wrk(text: &str) -> anyhow::Result<WrkReport> {
    let mut rate = None;
    let mut pct = [None; 3];
    let mut errors = 0;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rate = Some(v.trim().parse::<f64>()?);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += v.trim().parse::<u64>()?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in v.split(',') {
                if let Some(n) = part.split_whitespace().nth(1) {
                    errors += n.parse::<u64>()?;
                }
            }
        } else {
            for (slot, label) in pct.iter_mut().zip(["50%", "90%", "99%"]) {
                if let Some(v) = line.strip_prefix(label) {
                    *slot = Some(duration_ms(v.trim())?);
                }
            }
        }
    }
    let missing = |what: &str| anyhow::anyhow!("no {what}");
    Ok(WrkReport {
        requests_per_s: rate.ok_or_else(|| missing("Requests/sec"))?,
        p50_ms: pct[0].ok_or_else(|| missing("50% latency"))?,
        p90_ms: pct[1].ok_or_else(|| missing("90% latency"))?,
        p99_ms: pct[2].ok_or_else(|| missing("99% latency"))?,
        errors,
    })
}

/// A wrk duration ("812.00us", "1.23ms", "2.00s") in milliseconds.
fn duration_ms(v: &str) -> anyhow::Result<f64> {
    let (number, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60e3)
    } else {
        bail!("unknown duration {v:?}")
    };
    Ok(number.parse::<f64>()? * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrks_latency_report() {
        let text = "Running 20s test @ http://127.0.0.1:4000
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.10ms    3.20ms  80.00ms   90.00%
    Req/Sec     2.65k   200.00     3.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%   13.00ms
     90%   15.50ms
     99%    1.20s
  105944 requests in 20.01s, 150.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   5294.55
Transfer/sec:      7.50MB
";
        assert_eq!(
            parse_wrk(text).unwrap(),
            WrkReport {
                requests_per_s: 5294.55,
                p50_ms: 0.812,
                p90_ms: 15.5,
                p99_ms: 1200.0,
                errors: 7,
            }
        );
        assert!(parse_wrk("nothing").is_err());
    }
}
