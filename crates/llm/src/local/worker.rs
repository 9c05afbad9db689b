//! The scheduler: one thread owns the llama context and runs continuous batching.
//!
//! Every step builds one batch holding the next token of each generating sequence plus chunks of
//! prompts being read, and decodes it in a single `llama_decode`. New requests join between
//! steps, finished ones leave, so nobody waits for another's whole answer. Logits are asked only
//! where a token is sampled: the last prompt token and each generated token.
//!
//! Each slot is a llama.cpp sequence with a KV stream of its own (`kv_unified = false`), a
//! `context / slots` share of the cells. Own streams keep attention cheap: a sequence attends over
//! its own cells only, so idle caches elsewhere cost nothing (in one unified cache every decode
//! step scanned up to the highest occupied cell; measured, that halved decode speed at 8
//! streams). A slot keeps its tokens after its request: the next prompt that starts the same way
//! (same system prompt, same product facts) reuses that prefix instead of computing it again, and
//! a prefix held by another slot is copied over (a buffer copy of the stream, then cut to the
//! shared part), which costs far less than computing it. A request is admitted only when its
//! prompt plus `max_tokens` fits its slot, so decoding never runs out of cells half-way.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use vitrine_core::{FinishReason, GenerateError, GenerationEvent, TokenSink, Usage};

use super::sampler::TokenSampler;
use super::text::{Piece, TextAssembler};
use super::{LocalConfig, Shared};

/// What callers send the worker.
pub(crate) enum Command {
    /// Generate.
    Generate(Box<Job>),
    /// Panic, as a bug would (tests of failure reporting).
    Crash,
}

/// A request, prepared by the caller's thread.
pub(crate) struct Job {
    pub(crate) tokens: Vec<LlamaToken>,
    pub(crate) max_tokens: u32,
    pub(crate) sampler: TokenSampler,
    pub(crate) stops: Vec<String>,
    pub(crate) deadline: Instant,
    pub(crate) timeout: Duration,
    pub(crate) sink: Guarded,
    /// Whether cached KV cells of earlier prompts may be reused.
    pub(crate) reuse: bool,
}

/// A caller's sink that panics is treated as one that cancelled: a bug in one caller must not
/// take the model down for everyone.
pub(crate) struct Guarded {
    sink: Box<dyn TokenSink>,
    broken: bool,
}

impl Guarded {
    pub(crate) fn new(sink: Box<dyn TokenSink>) -> Self {
        Self {
            sink,
            broken: false,
        }
    }

    pub(crate) fn send(&mut self, event: GenerationEvent) -> bool {
        if self.broken {
            return false;
        }
        let sink = &mut self.sink;
        match std::panic::catch_unwind(AssertUnwindSafe(|| sink.send(event))) {
            Ok(more) => more,
            Err(_) => {
                tracing::error!("a generation's sink panicked; the generation is cancelled");
                self.broken = true;
                false
            }
        }
    }
}

/// A llama.cpp sequence id and the tokens its KV cells hold, position by position.
struct Slot {
    cached: Vec<LlamaToken>,
    busy: bool,
    last_used: u64,
}

/// A request being served.
struct Running {
    slot: usize,
    job: Box<Job>,
    assembler: TextAssembler,
    /// Prompt tokens already in the KV cache.
    fed: usize,
    /// The sampled token to decode next.
    next: Option<LlamaToken>,
    /// Where this sequence's logits are in the batch just decoded.
    logits_at: Option<i32>,
    generated: u32,
    reused: usize,
    started: Instant,
}

/// How a request ends.
enum End {
    Done(FinishReason),
    Failed(GenerateError),
    /// The sink said stop: nothing more is sent.
    Cancelled,
}

pub(crate) struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    shared: &'m Shared,
    slots: Vec<Slot>,
    running: Vec<Running>,
    pending: VecDeque<Box<Job>>,
    batch: LlamaBatch<'static>,
    batch_size: usize,
    tick: u64,
    piece: Vec<u8>,
}

impl<'m> Worker<'m> {
    /// The thread's body: makes the context, says whether that worked, then serves until the
    /// command channel closes. A panic marks the generator failed instead of vanishing.
    pub(crate) fn run(
        backend: &LlamaBackend,
        model: &'m LlamaModel,
        config: &LocalConfig,
        shared: &'m Shared,
        commands: mpsc::Receiver<Command>,
        ready: mpsc::Sender<Result<(), String>>,
    ) {
        let threads = config
            .threads
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get() as u32)
                    .unwrap_or(1)
            })
            .max(1) as i32;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(config.context))
            .with_n_batch(config.batch)
            .with_n_ubatch(config.batch)
            .with_n_seq_max(config.slots)
            .with_kv_unified(false)
            // Sliding-window models (Gemma 3) could not rewind to a shared prefix otherwise.
            .with_swa_full(true)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let ctx = match model.new_context(backend, params) {
            Ok(ctx) => ctx,
            Err(e) => {
                let _ = ready.send(Err(format!("cannot create the llama.cpp context: {e}")));
                return;
            }
        };
        let mut worker = Worker {
            model,
            ctx,
            shared,
            slots: (0..config.slots)
                .map(|_| Slot {
                    cached: Vec::new(),
                    busy: false,
                    last_used: 0,
                })
                .collect(),
            running: Vec::new(),
            pending: VecDeque::new(),
            batch: LlamaBatch::new(config.batch as usize, 1),
            batch_size: config.batch as usize,
            tick: 0,
            piece: Vec::with_capacity(64),
        };
        let _ = ready.send(Ok(()));
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| worker.serve(&commands)));
        if let Err(panic) = outcome {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let reason = format!("the model thread crashed: {what}");
            tracing::error!("{reason}");
            shared.fail(reason.clone());
            shared.active.store(0, Ordering::Relaxed);
            // Whatever was waiting is told, rather than left hanging.
            let waiting = std::mem::take(&mut worker.pending);
            for mut job in waiting
                .into_iter()
                .chain(commands.try_iter().filter_map(|c| match c {
                    Command::Generate(job) => Some(job),
                    Command::Crash => None,
                }))
            {
                job.sink
                    .send(GenerationEvent::Failed(GenerateError::Unavailable(
                        reason.clone(),
                    )));
            }
            shared.queued.store(0, Ordering::Relaxed);
        }
    }

    fn serve(&mut self, commands: &mpsc::Receiver<Command>) {
        let mut open = true;
        while open || !self.running.is_empty() || !self.pending.is_empty() {
            if self.running.is_empty() && self.pending.is_empty() {
                match commands.recv() {
                    Ok(command) => self.take(command),
                    Err(_) => break,
                }
            }
            loop {
                match commands.try_recv() {
                    Ok(command) => self.take(command),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            if !open {
                self.shut_down();
                break;
            }
            self.expire();
            self.admit();
            if !self.running.is_empty() {
                self.step();
            }
        }
    }

    fn take(&mut self, command: Command) {
        match command {
            Command::Generate(job) => self.pending.push_back(job),
            Command::Crash => panic!("crash requested by a test"),
        }
    }

    /// The generator was dropped: everything in flight ends with an error.
    fn shut_down(&mut self) {
        let running = std::mem::take(&mut self.running);
        for r in running {
            let mut job = r.job;
            job.sink
                .send(GenerationEvent::Failed(GenerateError::Unavailable(
                    "the model is shutting down".into(),
                )));
        }
        for mut job in self.pending.drain(..) {
            job.sink
                .send(GenerationEvent::Failed(GenerateError::Unavailable(
                    "the model is shutting down".into(),
                )));
        }
    }

    /// Ends requests past their deadline, waiting or running.
    fn expire(&mut self) {
        let now = Instant::now();
        let mut kept = VecDeque::with_capacity(self.pending.len());
        for mut job in self.pending.drain(..) {
            if now >= job.deadline {
                self.shared.queued.fetch_sub(1, Ordering::AcqRel);
                job.sink
                    .send(GenerationEvent::Failed(GenerateError::Timeout(job.timeout)));
            } else {
                kept.push_back(job);
            }
        }
        self.pending = kept;
        let late: Vec<usize> = (0..self.running.len())
            .filter(|&i| now >= self.running[i].job.deadline)
            .collect();
        for i in late.into_iter().rev() {
            let timeout = self.running[i].job.timeout;
            self.finish(i, End::Failed(GenerateError::Timeout(timeout)));
        }
    }

    /// Moves waiting requests into free slots, first come first served, while their
    /// reservation fits.
    fn admit(&mut self) {
        while let Some(job) = self.pending.front() {
            let Some((slot, donor)) = self.plan(&job.tokens, job.reuse) else {
                return;
            };
            let Some(job) = self.pending.pop_front() else {
                return;
            };
            // Counted active before it stops counting as queued: an observer never sees the
            // request in neither.
            self.shared.active.fetch_add(1, Ordering::AcqRel);
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            self.start(job, slot, donor);
        }
    }

    /// Where a prompt goes, and which slot (if another) lends it the longest cached prefix.
    ///
    /// A free slot whose whole cache starts the prompt (the next turn of the same chat, or an
    /// empty slot) is used as is. Otherwise the prompt gets the least recently used free slot,
    /// and the shared part of a longer cache is copied over rather than cut out of its owner:
    /// that cache may serve its own conversation again.
    fn plan(&self, tokens: &[LlamaToken], reuse: bool) -> Option<(usize, Option<(usize, usize)>)> {
        // At least the last prompt token is decoded again: its logits give the first token.
        let usable = if reuse { tokens.len() - 1 } else { 0 };
        let shared = |s: &Slot| common_prefix(&s.cached, tokens).min(usable);
        let free = || self.slots.iter().enumerate().filter(|(_, s)| !s.busy);
        let extends = free()
            .filter(|(_, s)| !s.cached.is_empty() && shared(s) == s.cached.len())
            .max_by_key(|(_, s)| s.cached.len())
            .map(|(i, _)| i);
        let slot = match extends {
            Some(i) => i,
            None => free()
                .min_by_key(|(_, s)| (!s.cached.is_empty(), s.last_used))
                .map(|(i, _)| i)?,
        };
        let own = shared(&self.slots[slot]);
        let donor = self
            .slots
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != slot)
            .map(|(i, s)| (i, shared(s)))
            .max_by_key(|&(_, n)| n)
            .filter(|&(_, n)| n > own && n > 0);
        Some((slot, donor))
    }

    fn clear_slot(&mut self, slot: usize) {
        let _ = self.ctx.clear_kv_cache_seq(Some(slot as u32), None, None);
        self.slots[slot].cached.clear();
    }

    /// Puts `job` in `slot`, reusing its own cached prefix or copying `donor`'s.
    fn start(&mut self, job: Box<Job>, slot: usize, donor: Option<(usize, usize)>) {
        let usable = if job.reuse { job.tokens.len() - 1 } else { 0 };
        let own = common_prefix(&self.slots[slot].cached, &job.tokens).min(usable);
        let reused = match donor {
            Some((from, n)) => {
                // Streams are copied whole (llama.cpp copies buffers between streams only in
                // full), then cut to the shared part.
                self.clear_slot(slot);
                let copied = self
                    .ctx
                    .copy_kv_cache_seq(from as i32, slot as i32, None, None)
                    .is_ok()
                    && self
                        .ctx
                        .clear_kv_cache_seq(Some(slot as u32), Some(n as u32), None)
                        .unwrap_or(false);
                if copied {
                    self.slots[slot].cached = job.tokens[..n].to_vec();
                    n
                } else {
                    self.clear_slot(slot);
                    0
                }
            }
            None => {
                let removed = self
                    .ctx
                    .clear_kv_cache_seq(Some(slot as u32), Some(own as u32), None)
                    .unwrap_or(false);
                if removed {
                    self.slots[slot].cached.truncate(own);
                    own
                } else {
                    self.clear_slot(slot);
                    0
                }
            }
        };
        self.tick += 1;
        let entry = &mut self.slots[slot];
        entry.busy = true;
        entry.last_used = self.tick;
        let stops = job.stops.clone();
        self.running.push(Running {
            slot,
            job,
            assembler: TextAssembler::new(stops),
            fed: reused,
            next: None,
            logits_at: None,
            generated: 0,
            reused,
            started: Instant::now(),
        });
    }

    /// One decode: every generating sequence's next token, then prompt chunks in arrival order
    /// up to the batch size. Then sampling for every sequence that got logits.
    fn step(&mut self) {
        self.batch.clear();
        let mut room = self.batch_size;
        for r in &mut self.running {
            if let Some(token) = r.next.take() {
                let slot = &mut self.slots[r.slot];
                let pos = slot.cached.len() as i32;
                // The batch was sized for `batch_size` tokens and `room` keeps below it.
                if self.batch.add(token, pos, &[r.slot as i32], true).is_err() {
                    break;
                }
                slot.cached.push(token);
                r.logits_at = Some(self.batch.n_tokens() - 1);
                room -= 1;
            }
        }
        for r in &mut self.running {
            if room == 0 {
                break;
            }
            let total = r.job.tokens.len();
            if r.fed >= total {
                continue;
            }
            let end = (r.fed + room).min(total);
            let slot = &mut self.slots[r.slot];
            for i in r.fed..end {
                let last = i + 1 == total;
                if self
                    .batch
                    .add(r.job.tokens[i], i as i32, &[r.slot as i32], last)
                    .is_err()
                {
                    break;
                }
                slot.cached.push(r.job.tokens[i]);
            }
            room -= end - r.fed;
            r.fed = end;
            if r.fed == total {
                r.logits_at = Some(self.batch.n_tokens() - 1);
            }
        }
        if self.batch.n_tokens() == 0 {
            return;
        }
        if let Err(e) = self.ctx.decode(&mut self.batch) {
            self.decode_failed(&e.to_string());
            return;
        }
        let mut ended = Vec::new();
        for i in 0..self.running.len() {
            if let Some(end) = self.sample(i) {
                ended.push((i, end));
            }
        }
        for (i, end) in ended.into_iter().rev() {
            self.finish(i, end);
        }
    }

    /// Samples sequence `i`'s next token if it has logits, and streams its text.
    fn sample(&mut self, i: usize) -> Option<End> {
        let r = &mut self.running[i];
        let at = r.logits_at.take()?;
        let token = r.job.sampler.sample(&self.ctx, at);
        let vocab = self.model.vocab();
        if vocab.is_eog(token) {
            return Some(End::Done(FinishReason::Stop));
        }
        r.generated += 1;
        self.piece.clear();
        vocab.token_to_piece_into(token, &mut self.piece, false, None);
        match r.assembler.push(&self.piece) {
            Piece::Text(text) => {
                if !text.is_empty() && !r.job.sink.send(GenerationEvent::Text(text)) {
                    return Some(End::Cancelled);
                }
            }
            Piece::Stop(text) => {
                if !text.is_empty() && !r.job.sink.send(GenerationEvent::Text(text)) {
                    return Some(End::Cancelled);
                }
                return Some(End::Done(FinishReason::Stop));
            }
        }
        if r.generated >= r.job.max_tokens {
            return Some(End::Done(FinishReason::Length));
        }
        r.next = Some(token);
        None
    }

    /// A decode error: the sequences in the batch cannot go on. Their slots are cleared, since
    /// llama.cpp may have left their cells half-written.
    fn decode_failed(&mut self, error: &str) {
        tracing::error!("llama_decode failed: {error}");
        let all: Vec<usize> = (0..self.running.len()).collect();
        for i in all.into_iter().rev() {
            let slot = self.running[i].slot;
            self.finish(
                i,
                End::Failed(GenerateError::Backend(format!("llama.cpp decode: {error}"))),
            );
            self.clear_slot(slot);
        }
    }

    /// Ends running request `i`: flushes held text, reports, frees the slot (its cache stays).
    fn finish(&mut self, i: usize, end: End) {
        let mut r = self.running.remove(i);
        self.slots[r.slot].busy = false;
        self.shared.active.fetch_sub(1, Ordering::AcqRel);
        let elapsed = r.started.elapsed().as_millis() as u64;
        let mean = self.shared.mean_ms.load(Ordering::Relaxed);
        self.shared.mean_ms.store(
            if mean == 0 {
                elapsed
            } else {
                (mean * 7 + elapsed) / 8
            },
            Ordering::Relaxed,
        );
        let sink = &mut r.job.sink;
        match end {
            End::Cancelled => {}
            End::Failed(e) => {
                sink.send(GenerationEvent::Failed(e));
            }
            End::Done(finish_reason) => {
                let rest = r.assembler.finish();
                if !rest.is_empty() && !sink.send(GenerationEvent::Text(rest)) {
                    return;
                }
                sink.send(GenerationEvent::Done {
                    finish_reason,
                    usage: Usage {
                        prompt_tokens: r.job.tokens.len() as u32,
                        completion_tokens: r.generated,
                        cached_tokens: r.reused as u32,
                    },
                });
            }
        }
    }
}

/// How many leading tokens two sequences share.
fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
