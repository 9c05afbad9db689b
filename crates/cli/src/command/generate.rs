//! `vitrine generate`: descriptions, ad creatives and SEO tags for one product, and description
//! jobs over the catalog; everything written is stored as drafts for review (`vitrine drafts`).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use vitrine_engine::options::{AdOptions, Channel, DescriptionOptions, Length, Tone};
use vitrine_engine::{DescriptionJob, Engine, Generated, JobEvent};

use super::Global;
use super::llm::LlmArgs;
use crate::exit::{Failure, Outcome};

/// Who the CLI acts as, in provenance and reviews.
pub(crate) const ACTOR: &str = "cli";

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Description variants for one product, stored as drafts.
    Description(DescriptionArgs),
    /// Descriptions for many products as a resumable job: rerun the same command after an
    /// interruption and it continues where it stopped.
    Descriptions(BatchArgs),
    /// Ad creatives for one channel, every text within the channel's limits.
    Ads(AdArgs),
    /// SEO title (≤ 60 characters) and meta description (≤ 155).
    Seo(SeoArgs),
}

/// Voice of the copy.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ToneArg {
    /// Plain and informative.
    Neutral,
    /// Light and upbeat.
    Playful,
    /// Refined and understated.
    Premium,
    /// Specification first.
    Technical,
}

impl From<ToneArg> for Tone {
    fn from(t: ToneArg) -> Self {
        match t {
            ToneArg::Neutral => Tone::Neutral,
            ToneArg::Playful => Tone::Playful,
            ToneArg::Premium => Tone::Premium,
            ToneArg::Technical => Tone::Technical,
        }
    }
}

/// Length of a description.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LengthArg {
    /// About 40 words.
    Short,
    /// About 90 words.
    Medium,
    /// About 160 words.
    Long,
}

impl From<LengthArg> for Length {
    fn from(l: LengthArg) -> Self {
        match l {
            LengthArg::Short => Length::Short,
            LengthArg::Medium => Length::Medium,
            LengthArg::Long => Length::Long,
        }
    }
}

/// An ad channel.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ChannelArg {
    /// Google responsive search ad: headlines ≤ 30, descriptions ≤ 90.
    Search,
    /// Social feed ad: primary text ≤ 125, headline ≤ 40.
    Social,
    /// Text message ≤ 160 with the opt-out text.
    Sms,
    /// Push notification: title ≤ 50, body ≤ 120.
    Push,
    /// Email subject ≤ 60.
    Email,
}

impl From<ChannelArg> for Channel {
    fn from(c: ChannelArg) -> Self {
        match c {
            ChannelArg::Search => Channel::Search,
            ChannelArg::Social => Channel::Social,
            ChannelArg::Sms => Channel::Sms,
            ChannelArg::Push => Channel::Push,
            ChannelArg::Email => Channel::Email,
        }
    }
}

/// Options of the copy itself.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CopyArgs {
    /// Voice.
    #[arg(long, value_enum, default_value = "neutral")]
    tone: ToneArg,
    /// Length.
    #[arg(long, value_enum, default_value = "medium")]
    length: LengthArg,
    /// Who the copy speaks to ("students"); a hint, not a fact.
    #[arg(long)]
    audience: Option<String>,
    /// Variants per product, 1 to 8.
    #[arg(long, default_value_t = 1)]
    variants: u32,
    /// Seed of the first variant (default: random).
    #[arg(long)]
    seed: Option<u64>,
}

impl CopyArgs {
    fn options(&self) -> DescriptionOptions {
        DescriptionOptions {
            tone: self.tone.into(),
            length: self.length.into(),
            audience: self.audience.clone(),
            variants: self.variants,
            seed: self.seed,
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct DescriptionArgs {
    /// The product's id.
    #[arg(long)]
    product: String,
    #[command(flatten)]
    copy: CopyArgs,
    /// Print the stored drafts as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    llm: LlmArgs,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["all", "category"])))]
pub(crate) struct BatchArgs {
    /// Every product of the catalog.
    #[arg(long)]
    all: bool,
    /// Only this category.
    #[arg(long)]
    category: Option<String>,
    /// Only products without a description (none in the catalog, none waiting for review or
    /// approved).
    #[arg(long)]
    missing_only: bool,
    /// Products worked on at once; the model batches their requests.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    #[command(flatten)]
    copy: CopyArgs,
    #[command(flatten)]
    llm: LlmArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AdArgs {
    /// The product's id.
    #[arg(long)]
    product: String,
    /// The channel.
    #[arg(long, value_enum)]
    channel: ChannelArg,
    /// Creatives, 1 to 8.
    #[arg(long, default_value_t = 3)]
    variants: u32,
    /// Voice.
    #[arg(long, value_enum, default_value = "neutral")]
    tone: ToneArg,
    /// Seed of the model's candidates (default: random).
    #[arg(long)]
    seed: Option<u64>,
    /// The SMS opt-out text (default "Reply STOP to opt out").
    #[arg(long)]
    opt_out: Option<String>,
    /// Print the stored drafts as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    llm: LlmArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SeoArgs {
    /// The product's id.
    #[arg(long)]
    product: String,
    /// Variants, 1 to 8.
    #[arg(long, default_value_t = 1)]
    variants: u32,
    /// Seed of the model's candidates (default: random).
    #[arg(long)]
    seed: Option<u64>,
    /// Print the stored drafts as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    llm: LlmArgs,
}

pub(crate) fn run(global: &Global, command: Command) -> Outcome {
    match command {
        Command::Description(args) => {
            let options = args.copy.options();
            options
                .validate()
                .map_err(|e| Failure::BadInput(e.to_string()))?;
            let engine = engine(global, &args.llm)?;
            let generated = engine.generate_descriptions(&args.product, &options, ACTOR)?;
            print_generated(&generated, args.json)
        }
        Command::Descriptions(args) => batch(global, args),
        Command::Ads(args) => {
            let options = AdOptions {
                tone: args.tone.into(),
                variants: args.variants,
                seed: args.seed,
                opt_out: args.opt_out.clone(),
                ..AdOptions::new(args.channel.into())
            };
            creatives(global, &args.llm, &args.product, &options, args.json)
        }
        Command::Seo(args) => {
            let options = AdOptions {
                variants: args.variants,
                seed: args.seed,
                ..AdOptions::new(Channel::Seo)
            };
            creatives(global, &args.llm, &args.product, &options, args.json)
        }
    }
}

/// Ad creatives or SEO tags for one product, stored and printed.
fn creatives(
    global: &Global,
    llm: &LlmArgs,
    product: &str,
    options: &AdOptions,
    json: bool,
) -> Outcome {
    options
        .validate()
        .map_err(|e| Failure::BadInput(e.to_string()))?;
    let generated = engine(global, llm)?.generate_ads(product, options, ACTOR)?;
    print_generated(&generated, json)
}

fn engine(global: &Global, llm: &LlmArgs) -> Result<Engine, Failure> {
    Ok(global.engine()?.with_generator(llm.generator()?))
}

fn print_generated(generated: &Generated, json: bool) -> Outcome {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, generated)
            .map_err(|e| Failure::Internal(e.into()))?;
        writeln!(out)?;
        return Ok(());
    }
    for draft in &generated.drafts {
        let v = &draft.verification;
        writeln!(
            out,
            "{}  {}  claims: {} found, {} supported",
            draft.id,
            draft.kind,
            v["found"].as_u64().unwrap_or(0),
            v["supported"].as_u64().unwrap_or(0),
        )?;
        match draft.content.get("text").and_then(|t| t.as_str()) {
            Some(text) if draft.content.as_object().is_some_and(|o| o.len() == 1) => {
                writeln!(out, "{text}\n")?;
            }
            _ => writeln!(
                out,
                "{}\n",
                serde_json::to_string_pretty(&draft.content).unwrap_or_default()
            )?,
        }
    }
    for failure in &generated.failures {
        writeln!(out, "note: {failure}")?;
    }
    writeln!(
        out,
        "{} of {} stored as drafts; review them with `vitrine drafts`",
        generated.drafts.len(),
        generated.requested
    )?;
    Ok(())
}

fn batch(global: &Global, args: BatchArgs) -> Outcome {
    let options = args.copy.options();
    options
        .validate()
        .map_err(|e| Failure::BadInput(e.to_string()))?;
    if !(1..=32).contains(&args.workers) {
        return Err(Failure::BadInput("--workers must be 1 to 32".into()));
    }
    let mut llm = args.llm.clone();
    // Every worker gets a slot; each may have several variants in flight.
    llm.llm_slots = llm
        .llm_slots
        .max(u32::try_from(args.workers).unwrap_or(8))
        .min(32);
    llm.llm_queue = llm
        .llm_queue
        .max(args.workers * options.variants as usize * 2);
    // A request waits its turn in a batch rather than failing after five minutes.
    llm.llm_timeout = llm.llm_timeout.max(3600);
    let spec = DescriptionJob {
        category: args.category.clone(),
        missing_only: args.missing_only,
        options,
    };
    // The model first: a job is started only when it can run.
    let generator = llm.generator()?;
    let engine = global.engine()?;
    let (job, resumed) = engine.start_description_job(&spec, ACTOR)?;
    if resumed {
        eprintln!(
            "resuming job {} ({} of {} done, {} failed)",
            job.id, job.done, job.total, job.failed
        );
    } else {
        eprintln!("job {}: {} products", job.id, job.total);
    }
    if job.status.is_finished() {
        eprintln!("job {} is {}: nothing to do", job.id, job.status);
        return Ok(());
    }
    let engine = engine.with_generator(generator);
    let bar = (std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(job.total);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} products ({per_sec}, eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(job.done + job.failed);
        bar
    });
    let started = Instant::now();
    let at_start = job.done + job.failed;
    let last_line = Mutex::new(Instant::now());
    let on_event = |event: &JobEvent| {
        let JobEvent::Item {
            job,
            product_id,
            error,
            ..
        } = event;
        let finished = job.done + job.failed;
        let per_minute =
            (finished - at_start) as f64 / (started.elapsed().as_secs_f64() / 60.0).max(1e-9);
        match &bar {
            Some(bar) => {
                bar.set_position(finished);
                bar.set_message(format!("{per_minute:.1}/min, {} failed", job.failed));
                if let Some(error) = error {
                    bar.println(format!("{product_id}: {error}"));
                }
            }
            None => {
                if let Some(error) = error {
                    eprintln!("{product_id}: {error}");
                }
                let mut last = last_line.lock().unwrap_or_else(|e| e.into_inner());
                if last.elapsed().as_secs() >= 10 || finished == job.total {
                    *last = Instant::now();
                    eprintln!(
                        "{finished}/{} products ({per_minute:.1}/min, {} failed)",
                        job.total, job.failed
                    );
                }
            }
        }
    };
    // A runner killed a moment ago still holds the job until its heartbeat goes stale.
    let deadline = Instant::now() + vitrine_engine::STALE_AFTER * 2;
    let finished = loop {
        match engine.run_job(&job.id, args.workers, &on_event) {
            Err(vitrine_engine::Error::Domain(vitrine_core::Error::Conflict(reason)))
                if Instant::now() < deadline =>
            {
                tracing::info!("{reason}; waiting");
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            other => break other?,
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if finished.status == vitrine_core::JobStatus::Running {
        return Err(Failure::Internal(anyhow::anyhow!(
            "job {} stopped with {} products left (another runner took it over, or the \
             database was busy); run the same command again to continue",
            finished.id,
            finished.pending()
        )));
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let here = (finished.done + finished.failed).saturating_sub(at_start);
    println!(
        "job {} {}: {} of {} done, {} failed; {here} products in {:.1} min ({:.1}/min)",
        finished.id,
        finished.status,
        finished.done,
        finished.total,
        finished.failed,
        minutes,
        here as f64 / minutes.max(1e-9)
    );
    Ok(())
}
