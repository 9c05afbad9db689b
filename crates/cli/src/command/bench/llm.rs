//! `vitrine bench llm`: language model serving speed beside llama.cpp's own tools, in one run, on
//! the same GGUF and thread count. `llama-bench` gives the kernel-level reference for prefill
//! and decode; `llama-server` (continuous batching) and `vitrine serve` are then driven by the
//! same load generator (`load.rs`) with the same prompts: single-stream speed, aggregate decode
//! at several concurrent streams, time to first token with and without a shared prompt prefix,
//! and Vitrine's peak memory. The reference binaries come from `scripts/llama-reference.sh`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use vitrine_engine::models::{self, DEFAULT_MODEL, ModelDir};

use super::child::{self, Scratch, Server};
use super::load::{self, Chat, Client, Level, Timing, quantile};

/// Goals from the local LLM runtime issue.
const GOAL_SINGLE_VS_LLAMA_BENCH: f64 = 0.95;
const GOAL_8_STREAMS_VS_LLAMA_SERVER: f64 = 1.2;
const GOAL_RSS_OVER_FILE_MIB: f64 = 300.0;
const MIB: f64 = 1024.0 * 1024.0;

/// Prompt sizes, in tokens, the issue asks for.
const SINGLE_PROMPT_TOKENS: u64 = 128;
const SINGLE_GEN_TOKENS: u32 = 128;
const LOAD_GEN_TOKENS: u32 = 96;
const TTFT_PROMPT_TOKENS: u64 = 300;
const SHARED_PREFIX_TOKENS: u64 = 250;

/// `llama-server` settings the issue fixes: 8 slots sharing 8192 context cells.
const LLAMA_SERVER_SLOTS: u32 = 8;
const LLAMA_SERVER_CONTEXT: u32 = 8192;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The GGUF to measure; default: the installed default model.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The models folder the default model is found in.
    #[arg(long, env = "VITRINE_MODELS", default_value_os_t = crate::command::models::default_models_dir())]
    models_dir: PathBuf,
    /// Folder holding llama.cpp's `llama-bench` and `llama-server` (scripts/llama-reference.sh
    /// builds them there).
    #[arg(long, default_value = "target/llama-reference/bin")]
    reference_dir: PathBuf,
    /// CPU threads for every engine.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Concurrent stream counts for the aggregate decode measurement.
    #[arg(long, value_delimiter = ',', default_value = "1,4,8,16")]
    streams: Vec<usize>,
    /// Requests each stream sends, one after another, at each concurrency level.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Single-stream runs per server (after one warm-up); the median is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Requests per time-to-first-token case and server.
    #[arg(long, default_value_t = 20)]
    ttft_requests: usize,
    /// An extra argument for `vitrine serve` (repeatable), e.g. `--vitrine-arg=--model=PATH`.
    #[arg(long = "vitrine-arg", allow_hyphen_values = true)]
    vitrine_args: Vec<String>,
    /// Measure only llama.cpp's tools (checks the load generator without a Vitrine model).
    #[arg(long)]
    reference_only: bool,
    /// Where to write the JSON result.
    #[arg(long, default_value = "bench/results/llm.json")]
    out: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let model = match &args.model {
        Some(path) => path.clone(),
        None => ModelDir::new(&args.models_dir).path(models::find(DEFAULT_MODEL)?),
    };
    let model_bytes = std::fs::metadata(&model)
        .with_context(|| {
            format!(
                "reading {} (install it with `vitrine models pull`)",
                model.display()
            )
        })?
        .len();
    let llama_bench_exe = args.reference_dir.join("llama-bench");
    let llama_server_exe = args.reference_dir.join("llama-server");
    for exe in [&llama_bench_exe, &llama_server_exe] {
        if !exe.is_file() {
            bail!(
                "{} is missing; build it with scripts/llama-reference.sh",
                exe.display()
            );
        }
    }
    let machine = machine();

    eprintln!("llama-bench on {} …", model.display());
    let reference = llama_bench(&llama_bench_exe, &model, args.threads)?;

    let scratch = Scratch::new()?;
    eprintln!("starting llama-server …");
    let llama_server = child::llama_server(
        &llama_server_exe,
        &model,
        args.threads,
        LLAMA_SERVER_SLOTS,
        LLAMA_SERVER_CONTEXT,
        scratch.path(),
    )?;
    let mut servers = vec![llama_server];
    if !args.reference_only {
        eprintln!("starting vitrine serve …");
        let mut extra = args.vitrine_args.clone();
        if let Some(path) = &args.model {
            extra.extend(["--model".to_string(), path.display().to_string()]);
        }
        servers.push(child::vitrine(scratch.path(), &extra)?);
    }
    let clients = servers
        .iter()
        .map(|s| {
            Client::connect(&s.base_url, s.api_key.clone())
                .with_context(|| format!("{}: {}", s.name, s.log_tail()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    let measured = measure(&args, &servers, &clients)?;
    let in_process = if args.reference_only {
        Value::Null
    } else {
        eprintln!("vitrine in process (no HTTP): single stream …");
        in_process(&model, args.threads, measured.single_words, args.repeat)?
    };
    let result = json!({
        "benchmark": "llm",
        "machine": machine,
        "vitrine_version": env!("CARGO_PKG_VERSION"),
        "model": {
            "path": model.display().to_string(),
            "file": model.file_name().map(|f| f.to_string_lossy().to_string()),
            "bytes": model_bytes,
            "mib": model_bytes as f64 / MIB,
        },
        "threads": args.threads,
        "llama_cpp": {
            "reference_build": std::fs::read_to_string(args.reference_dir.join("../SOURCE.txt"))
                .unwrap_or_default().lines().collect::<Vec<_>>(),
            "llama_bench_build_commit": reference.build_commit,
            "llama_bench_build_number": reference.build_number,
            "llama_server_command": format!(
                "llama-server -m MODEL -t {t} -tb {t} -np {LLAMA_SERVER_SLOTS} \
                 -c {LLAMA_SERVER_CONTEXT} --cont-batching",
                t = args.threads
            ),
        },
        "llama_bench": reference.json,
        "single_stream": measured.single,
        "single_stream_in_process": in_process,
        "concurrency": measured.concurrency,
        "ttft": measured.ttft,
        "memory": memory_json(&measured.rss, model_bytes),
        "goals": goals(&reference, &measured, &in_process, model_bytes),
    });
    drop(servers);

    print_table(&result);
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(
        &args.out,
        serde_json::to_string_pretty(&result).context("encoding")? + "\n",
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!("written to {}", args.out.display());
    Ok(())
}

/// What `llama-bench` measured.
#[derive(Debug)]
struct Reference {
    prefill_tok_s: f64,
    decode_tok_s: f64,
    build_commit: Value,
    build_number: Value,
    json: Value,
}

fn llama_bench(exe: &Path, model: &Path, threads: u32) -> anyhow::Result<Reference> {
    let args = [
        "-t",
        &threads.to_string(),
        "-p",
        &SINGLE_PROMPT_TOKENS.to_string(),
        "-n",
        &SINGLE_GEN_TOKENS.to_string(),
        "-r",
        "3",
        "-o",
        "json",
    ]
    .map(str::to_string);
    let out = Process::new(exe)
        .arg("-m")
        .arg(model)
        .args(&args)
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    if !out.status.success() {
        bail!(
            "llama-bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let runs: Vec<Value> =
        serde_json::from_slice(&out.stdout).context("reading llama-bench's JSON")?;
    let find = |prompt: u64, gen_tokens: u64| {
        runs.iter()
            .find(|r| r["n_prompt"] == prompt && r["n_gen"] == gen_tokens)
            .cloned()
            .with_context(|| format!("llama-bench reported no pp{prompt}/tg{gen_tokens} test"))
    };
    let pp = find(SINGLE_PROMPT_TOKENS, 0)?;
    let tg = find(0, u64::from(SINGLE_GEN_TOKENS))?;
    let summary = |r: &Value| {
        json!({
            "n_prompt": r["n_prompt"], "n_gen": r["n_gen"],
            "avg_tok_s": r["avg_ts"], "stddev_tok_s": r["stddev_ts"], "samples_tok_s": r["samples_ts"],
        })
    };
    Ok(Reference {
        prefill_tok_s: pp["avg_ts"].as_f64().unwrap_or(0.0),
        decode_tok_s: tg["avg_ts"].as_f64().unwrap_or(0.0),
        build_commit: pp["build_commit"].clone(),
        build_number: pp["build_number"].clone(),
        json: json!({
            "command": format!("llama-bench -m MODEL {}", args.join(" ")),
            "cpu_info": pp["cpu_info"],
            "model_type": pp["model_type"],
            "prefill": summary(&pp),
            "decode": summary(&tg),
        }),
    })
}

/// Everything measured through the servers' HTTP APIs.
#[derive(Debug)]
struct Measured {
    single: Value,
    concurrency: Value,
    ttft: Value,
    /// Per server: peak RSS right after the 8-stream level, and at the end.
    rss: BTreeMap<&'static str, (Option<u64>, Option<u64>)>,
    /// Per server: median single-stream prefill and decode tok/s.
    single_rates: BTreeMap<&'static str, (f64, f64)>,
    /// Per server: aggregate tok/s at 8 streams.
    at_8: BTreeMap<&'static str, f64>,
    /// Words of the single-stream prompt (fitted to its token target).
    single_words: usize,
}

fn measure(args: &Args, servers: &[Server], clients: &[Client]) -> anyhow::Result<Measured> {
    // Prompt sizes are fitted once, on the first server; both use the same GGUF tokenizer.
    let calib = &clients[0];
    eprintln!("fitting prompt sizes …");
    let single_words = fit_words(calib, SINGLE_PROMPT_TOKENS, |w| prompts::single(0, w, 1))?;
    let ttft_words = fit_words(calib, TTFT_PROMPT_TOKENS, |w| prompts::single(0, w, 1))?;
    let shared_words = fit_words(calib, TTFT_PROMPT_TOKENS, |w| {
        prompts::shared_prefix(0, w, 1)
    })?;
    for (server, client) in servers.iter().zip(clients) {
        client
            .stream_chat(&prompts::single(9_999, single_words, 8))
            .with_context(|| format!("warming up {}", server.name))?;
    }

    // Single stream: every run a new prompt, so no server can reuse a cached prefix.
    let mut single = serde_json::Map::new();
    let mut single_rates = BTreeMap::new();
    for (server, client) in servers.iter().zip(clients) {
        eprintln!("{}: single stream …", server.name);
        let mut runs = Vec::new();
        for r in 0..args.repeat.max(1) {
            let chat = prompts::single(100 + r as u64, single_words, SINGLE_GEN_TOKENS);
            runs.push(
                client
                    .stream_chat(&chat)
                    .with_context(|| format!("{}: {}", server.name, server.log_tail()))?,
            );
        }
        let prefill = median(runs.iter().filter_map(Timing::prefill_tok_s));
        let decode = median(runs.iter().filter_map(Timing::decode_tok_s));
        single_rates.insert(server.name, (prefill, decode));
        single.insert(
            server.name.into(),
            json!({
                "prefill_tok_s": prefill,
                "decode_tok_s": decode,
                "runs": runs.iter().map(timing_json).collect::<Vec<_>>(),
            }),
        );
    }

    // Aggregate decode at each concurrency level, servers in turn.
    let mut levels = Vec::new();
    let mut rss = BTreeMap::new();
    let mut at_8 = BTreeMap::new();
    for &streams in &args.streams {
        // New prompts at every level: a server that keeps earlier prompts (llama-server's
        // host-memory prompt cache does) would otherwise answer the next level's from cache,
        // and the level would measure that cache instead of batching.
        let chats: Vec<Chat> = (0..streams * args.rounds.max(1))
            .map(|i| prompts::load(100_000 * streams as u64 + i as u64, LOAD_GEN_TOKENS))
            .collect();
        let mut per_server = serde_json::Map::new();
        for (server, client) in servers.iter().zip(clients) {
            eprintln!("{}: {streams} streams …", server.name);
            let level = load::run_level(client, streams, &chats);
            if streams == 8 {
                at_8.insert(server.name, level.aggregate_tok_s());
                rss.insert(server.name, (server.peak_rss_bytes(), None));
            }
            per_server.insert(server.name.into(), level_json(&level));
        }
        levels.push(json!({"streams": streams, "servers": per_server}));
    }

    // Time to first token of a ~300-token prompt: all different, then sharing a system prompt.
    let mut ttft = serde_json::Map::new();
    for (case, words, make) in [
        (
            "distinct",
            ttft_words,
            prompts::single as fn(u64, usize, u32) -> Chat,
        ),
        ("shared_prefix", shared_words, prompts::shared_prefix),
    ] {
        let mut per_server = serde_json::Map::new();
        for (server, client) in servers.iter().zip(clients) {
            eprintln!("{}: time to first token, {case} prompts …", server.name);
            // One request first, so that the shared prefix is cached (and equal warm-up for
            // the distinct case).
            client.stream_chat(&make(50_000, words, 1))?;
            let timings = (0..args.ttft_requests.max(1))
                .map(|i| client.stream_chat(&make(60_000 + i as u64, words, 1)))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(|| format!("{}: {}", server.name, server.log_tail()))?;
            let ms: Vec<f64> = timings.iter().map(|t| t.ttft.as_secs_f64() * 1e3).collect();
            per_server.insert(
                server.name.into(),
                json!({
                    "requests": timings.len(),
                    "p50_ms": quantile(&ms, 0.5),
                    "p99_ms": quantile(&ms, 0.99),
                    "prompt_tokens": median(timings.iter().map(|t| t.prompt_tokens as f64)),
                }),
            );
        }
        ttft.insert(case.into(), Value::Object(per_server));
    }
    for server in servers {
        let entry = rss.entry(server.name).or_insert((None, None));
        entry.1 = server.peak_rss_bytes();
    }

    Ok(Measured {
        single: json!({
            "prompt_tokens_target": SINGLE_PROMPT_TOKENS,
            "max_tokens": SINGLE_GEN_TOKENS,
            "method": "prefill = prompt_tokens / time to first token; decode = (completion_tokens - 1) / (last token - first token); median of the runs, each with a new prompt",
            "servers": single,
        }),
        concurrency: json!({
            "max_tokens": LOAD_GEN_TOKENS,
            "rounds_per_stream": args.rounds,
            "method": "N threads, each streaming its requests one after another; aggregate = all completion tokens / wall time",
            "levels": levels,
        }),
        ttft: json!({
            "prompt_tokens_target": TTFT_PROMPT_TOKENS,
            "shared_prefix_tokens_target": SHARED_PREFIX_TOKENS,
            "method": "one request at a time, max_tokens 1, after one warm-up request; nearest-rank quantiles (with 20 requests p99 is the slowest)",
            "cases": ttft,
        }),
        rss,
        single_rates,
        at_8,
        single_words,
    })
}

/// The single-stream runs again inside this process, straight through `TextGenerator`: the
/// runtime's own speed with no HTTP, SSE or client in the way, as `llama-bench` measures
/// llama.cpp's. Same prompts, settings and threads as the served runs.
fn in_process(model: &Path, threads: u32, words: usize, repeat: usize) -> anyhow::Result<Value> {
    use std::sync::mpsc;
    use std::time::Instant;
    use vitrine_core::{
        ChatMessage, ChatRole, GenerationEvent, GenerationRequest, Sampling, TextGenerator,
    };
    use vitrine_engine::text::{LocalConfig, LocalGenerator};

    let mut config = LocalConfig::new(model, "bench");
    config.threads = Some(threads);
    let generator = LocalGenerator::load(&config).context("loading the model in process")?;
    let run = |chat: &Chat| -> anyhow::Result<Value> {
        let mut messages = Vec::new();
        if let Some(system) = &chat.system {
            messages.push(ChatMessage::new(ChatRole::System, system.clone()));
        }
        messages.push(ChatMessage::new(ChatRole::User, chat.user.clone()));
        let mut request = GenerationRequest::chat(messages);
        request.max_tokens = Some(chat.max_tokens);
        request.sampling = Sampling {
            temperature: 0.7,
            repeat_penalty: 1.0,
            seed: Some(chat.seed),
            ..Sampling::default()
        };
        request.cache_prompt = Some(true);
        let (tx, rx) = mpsc::channel();
        let started = Instant::now();
        generator.submit(
            request,
            Box::new(move |e: GenerationEvent| tx.send((Instant::now(), e)).is_ok()),
        )?;
        let (mut first, mut last) = (None, started);
        for (at, event) in rx {
            match event {
                GenerationEvent::Text(_) => {
                    first.get_or_insert(at);
                    last = at;
                }
                GenerationEvent::Done { usage, .. } => {
                    let first = first.unwrap_or(at);
                    let ttft = (first - started).as_secs_f64();
                    let decode_s = (last - first).as_secs_f64();
                    return Ok(json!({
                        "ttft_ms": ttft * 1e3,
                        "prompt_tokens": usage.prompt_tokens,
                        "completion_tokens": usage.completion_tokens,
                        "prefill_tok_s": usage.prompt_tokens as f64 / ttft,
                        "decode_tok_s": (usage.completion_tokens.saturating_sub(1)) as f64 / decode_s,
                    }));
                }
                GenerationEvent::Failed(e) => return Err(e.into()),
            }
        }
        bail!("the generator ended without an answer")
    };
    run(&prompts::single(9_999, words, 8))?;
    let runs = (0..repeat.max(1))
        .map(|r| run(&prompts::single(100 + r as u64, words, SINGLE_GEN_TOKENS)))
        .collect::<anyhow::Result<Vec<Value>>>()?;
    let rate = |k: &str| median(runs.iter().filter_map(|r| r[k].as_f64()));
    Ok(json!({
        "prefill_tok_s": rate("prefill_tok_s"),
        "decode_tok_s": rate("decode_tok_s"),
        "method": "the same prompts and settings through TextGenerator in the bench process, no HTTP",
        "runs": runs,
    }))
}

/// The word count whose prompt comes closest to `target` tokens, from two probes (prompt
/// length is linear in the word count).
fn fit_words(client: &Client, target: u64, make: impl Fn(usize) -> Chat) -> anyhow::Result<usize> {
    let probe = |words: usize| -> anyhow::Result<f64> {
        Ok(client.stream_chat(&make(words))?.prompt_tokens as f64)
    };
    let (w1, w2) = (40.0, 160.0);
    let (p1, p2) = (probe(w1 as usize)?, probe(w2 as usize)?);
    let per_word = (p2 - p1) / (w2 - w1);
    if per_word <= 0.0 {
        bail!("prompt_tokens does not grow with the prompt ({p1} then {p2})");
    }
    Ok((w1 + (target as f64 - p1) / per_word).round().max(1.0) as usize)
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.collect();
    quantile(&v, 0.5).unwrap_or(0.0)
}

fn timing_json(t: &Timing) -> Value {
    json!({
        "prompt_tokens": t.prompt_tokens,
        "completion_tokens": t.completion_tokens,
        "finished_by_length": t.hit_length,
        "ttft_ms": t.ttft.as_secs_f64() * 1e3,
        "total_ms": t.total.as_secs_f64() * 1e3,
        "prefill_tok_s": t.prefill_tok_s(),
        "decode_tok_s": t.decode_tok_s(),
    })
}

fn level_json(level: &Level) -> Value {
    let ttft_ms: Vec<f64> = level
        .timings
        .iter()
        .map(|t| t.ttft.as_secs_f64() * 1e3)
        .collect();
    let per_stream: Vec<f64> = level
        .timings
        .iter()
        .filter_map(Timing::decode_tok_s)
        .collect();
    json!({
        "requests": level.timings.len(),
        "errors": level.errors,
        "first_error": level.first_error,
        "wall_s": level.wall.as_secs_f64(),
        "completion_tokens": level.timings.iter().map(|t| t.completion_tokens).sum::<u64>(),
        "all_reached_max_tokens": level.timings.iter().all(|t| t.hit_length),
        "aggregate_tok_s": level.aggregate_tok_s(),
        "per_stream_decode_tok_s_median": quantile(&per_stream, 0.5),
        "ttft_ms_p50": quantile(&ttft_ms, 0.5),
        "ttft_ms_p99": quantile(&ttft_ms, 0.99),
    })
}

fn memory_json(
    rss: &BTreeMap<&'static str, (Option<u64>, Option<u64>)>,
    model_bytes: u64,
) -> Value {
    let servers: serde_json::Map<String, Value> = rss
        .iter()
        .map(|(name, (at_8, end))| {
            (
                (*name).to_string(),
                json!({
                    "peak_rss_mib_after_8_streams": at_8.map(|b| b as f64 / MIB),
                    "peak_rss_mib_at_end": end.map(|b| b as f64 / MIB),
                }),
            )
        })
        .collect();
    json!({
        "model_file_mib": model_bytes as f64 / MIB,
        "method": "VmHWM of the server process (/proc/PID/status)",
        "servers": servers,
    })
}

fn goals(reference: &Reference, m: &Measured, in_process: &Value, model_bytes: u64) -> Value {
    let Some(&(prefill, decode)) = m.single_rates.get("vitrine") else {
        return json!("not measured (--reference-only)");
    };
    let vitrine_8 = m.at_8.get("vitrine").copied();
    let server_8 = m.at_8.get("llama-server").copied();
    let ratio_8 = vitrine_8.zip(server_8).map(|(v, s)| v / s.max(1e-9));
    let rss_8 = m.rss.get("vitrine").and_then(|r| r.0);
    let limit = model_bytes as f64 / MIB + GOAL_RSS_OVER_FILE_MIB;
    let vs_bench = |rate: Option<f64>, reference: f64| {
        json!({
            "ratio": rate.map(|r| r / reference.max(1e-9)),
            "goal": GOAL_SINGLE_VS_LLAMA_BENCH,
            "met": rate.map(|r| r >= GOAL_SINGLE_VS_LLAMA_BENCH * reference),
        })
    };
    json!({
        "single_stream_prefill_in_process_vs_llama_bench":
            vs_bench(in_process["prefill_tok_s"].as_f64(), reference.prefill_tok_s),
        "single_stream_decode_in_process_vs_llama_bench":
            vs_bench(in_process["decode_tok_s"].as_f64(), reference.decode_tok_s),
        "single_stream_prefill_vs_llama_bench": {
            "ratio": prefill / reference.prefill_tok_s.max(1e-9),
            "goal": GOAL_SINGLE_VS_LLAMA_BENCH,
            "met": prefill >= GOAL_SINGLE_VS_LLAMA_BENCH * reference.prefill_tok_s,
        },
        "single_stream_decode_vs_llama_bench": {
            "ratio": decode / reference.decode_tok_s.max(1e-9),
            "goal": GOAL_SINGLE_VS_LLAMA_BENCH,
            "met": decode >= GOAL_SINGLE_VS_LLAMA_BENCH * reference.decode_tok_s,
        },
        "aggregate_8_streams_vs_llama_server": {
            "ratio": ratio_8,
            "goal": GOAL_8_STREAMS_VS_LLAMA_SERVER,
            "met": ratio_8.map(|r| r >= GOAL_8_STREAMS_VS_LLAMA_SERVER),
        },
        "peak_rss_at_8_streams": {
            "mib": rss_8.map(|b| b as f64 / MIB),
            "limit_mib": limit,
            "met": rss_8.map(|b| (b as f64 / MIB) <= limit),
        },
    })
}

/// Facts about the machine that bear on the numbers.
fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string());
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "os": std::env::consts::OS,
        "load_average_at_start": loadavg.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    })
}

fn print_table(r: &Value) {
    let num = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.1}"));
    println!(
        "model {} ({:.1} MiB), {} threads, {} cores, load {}",
        r["model"]["file"].as_str().unwrap_or("?"),
        r["model"]["mib"].as_f64().unwrap_or(0.0),
        r["threads"],
        r["machine"]["cores"],
        r["machine"]["load_average_at_start"]
            .as_str()
            .unwrap_or("?"),
    );
    println!();
    println!(
        "{:<34} {:>12} {:>12}",
        "single stream (tok/s)", "prefill", "decode"
    );
    println!(
        "{:<34} {:>12} {:>12}",
        "llama-bench pp128 / tg128",
        num(&r["llama_bench"]["prefill"]["avg_tok_s"]),
        num(&r["llama_bench"]["decode"]["avg_tok_s"]),
    );
    if let Some(servers) = r["single_stream"]["servers"].as_object() {
        for (name, s) in servers {
            println!(
                "{:<34} {:>12} {:>12}",
                format!("{name} (HTTP, streamed)"),
                num(&s["prefill_tok_s"]),
                num(&s["decode_tok_s"]),
            );
        }
    }
    let own = &r["single_stream_in_process"];
    if own.is_object() {
        println!(
            "{:<34} {:>12} {:>12}",
            "vitrine (in process, no HTTP)",
            num(&own["prefill_tok_s"]),
            num(&own["decode_tok_s"]),
        );
    }
    println!();
    let names: Vec<String> = r["single_stream"]["servers"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    print!("{:<34}", "aggregate decode (tok/s)");
    for name in &names {
        print!(" {name:>14}");
    }
    println!();
    for level in r["concurrency"]["levels"].as_array().into_iter().flatten() {
        print!("{:<34}", format!("{} streams", level["streams"]));
        for name in &names {
            let s = &level["servers"][name];
            let errors = s["errors"].as_u64().unwrap_or(0);
            let mark = if errors > 0 {
                format!(" ({errors} err)")
            } else {
                String::new()
            };
            print!(" {:>14}", num(&s["aggregate_tok_s"]) + &mark);
        }
        println!();
    }
    println!();
    print!("{:<34}", "time to first token p50/p99 (ms)");
    for name in &names {
        print!(" {name:>14}");
    }
    println!();
    for (case, label) in [
        ("distinct", "~300 tokens, no shared prefix"),
        ("shared_prefix", "~300 tokens, shared system prompt"),
    ] {
        print!("{label:<34}");
        for name in &names {
            let c = &r["ttft"]["cases"][case][name];
            print!(
                " {:>14}",
                format!(
                    "{:.0}/{:.0}",
                    c["p50_ms"].as_f64().unwrap_or(0.0),
                    c["p99_ms"].as_f64().unwrap_or(0.0)
                )
            );
        }
        println!();
    }
    println!();
    print!("{:<34}", "peak RSS after 8 streams (MiB)");
    for name in &names {
        print!(
            " {:>14}",
            num(&r["memory"]["servers"][name]["peak_rss_mib_after_8_streams"])
        );
    }
    println!();
    if r["goals"].is_object() {
        println!();
        for (goal, g) in r["goals"].as_object().into_iter().flatten() {
            let met = match g["met"].as_bool() {
                Some(true) => "met",
                Some(false) => "NOT met",
                None => "-",
            };
            println!("goal {goal}: {met} ({})", g);
        }
    }
}

/// The prompts. Every request's text differs from its first word (the `seed` picks the words),
/// except where a shared prefix is the point, so that no server can reuse a cached prompt by
/// accident.
mod prompts {
    use super::Chat;

    /// Words product facts are drawn from.
    const WORDS: &[&str] = &[
        "cotton",
        "linen",
        "wool",
        "leather",
        "steel",
        "bamboo",
        "ceramic",
        "glass",
        "oak",
        "walnut",
        "black",
        "white",
        "navy",
        "olive",
        "red",
        "grey",
        "sand",
        "blue",
        "green",
        "small",
        "medium",
        "large",
        "light",
        "heavy",
        "soft",
        "warm",
        "cool",
        "durable",
        "washable",
        "waterproof",
        "breathable",
        "organic",
        "recycled",
        "handmade",
        "classic",
        "modern",
        "slim",
        "relaxed",
        "fit",
        "pocket",
        "zipper",
        "button",
        "collar",
        "sleeve",
        "strap",
        "handle",
        "lid",
        "base",
        "frame",
        "cushion",
        "shirt",
        "jacket",
        "scarf",
        "bag",
        "lamp",
        "chair",
        "mug",
        "bottle",
        "kettle",
        "blanket",
        "pillow",
        "towel",
        "watch",
        "speaker",
        "earbuds",
        "charger",
        "cable",
        "case",
        "stand",
        "shelf",
        "rug",
        "vase",
        "plate",
        "bowl",
        "knife",
        "pan",
        "pot",
        "shoe",
        "boot",
        "sock",
        "hat",
        "glove",
        "belt",
        "wallet",
        "for",
        "with",
        "and",
        "in",
        "daily",
        "travel",
        "office",
        "home",
        "kitchen",
        "garden",
        "summer",
        "winter",
        "gift",
        "set",
        "pack",
        "two",
        "three",
        "long",
        "short",
        "battery",
        "wireless",
        "quiet",
        "fast",
        "easy",
        "clean",
        "store",
        "fold",
        "carry",
    ];

    /// A deterministic stream of words for `seed` (xorshift64*).
    fn words(seed: u64, n: usize) -> String {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
            out.push(WORDS[(r >> 33) as usize % WORDS.len()]);
        }
        out.join(" ")
    }

    /// Product facts in the system message, an instruction asking for long copy.
    pub(super) fn single(seed: u64, n_words: usize, max_tokens: u32) -> Chat {
        Chat {
            system: Some(format!(
                "{}. These are the facts of one product; you write its copy.",
                words(seed, n_words)
            )),
            user: "Write a long, detailed product description of at least 400 words.".into(),
            max_tokens,
            seed,
        }
    }

    /// A fixed system prompt of `n_words` (the shared prefix), then a short user message of
    /// about 50 tokens that differs per `seed`, so that the fitted total of ~300 tokens shares
    /// its first ~250.
    pub(super) fn shared_prefix(seed: u64, n_words: usize, max_tokens: u32) -> Chat {
        Chat {
            system: Some(format!(
                "You answer shoppers' questions for a store. Catalog notes: {}.",
                words(7, n_words)
            )),
            user: format!(
                "{}. Question {seed}: is this product good for travel?",
                words(seed, 36)
            ),
            max_tokens,
            seed,
        }
    }

    /// A short request for the load generator.
    pub(super) fn load(seed: u64, max_tokens: u32) -> Chat {
        single(seed, 24, max_tokens)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn prompts_differ_from_the_first_word_but_prefixes_are_shared() {
            let (a, b) = (single(1, 50, 8), single(2, 50, 8));
            let (a, b) = (a.system.unwrap(), b.system.unwrap());
            assert_ne!(a.split(' ').next(), b.split(' ').next());
            assert_eq!(a.split(' ').count(), b.split(' ').count());
            let (c, d) = (shared_prefix(1, 50, 8), shared_prefix(2, 50, 8));
            assert_eq!(c.system, d.system);
            assert_ne!(c.user, d.user);
            assert_eq!(words(5, 10), words(5, 10));
        }
    }
}
