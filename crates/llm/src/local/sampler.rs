//! Token choice: a llama.cpp sampler chain built from a request's `Sampling`, with an optional
//! grammar in front that constrains the output to a JSON Schema.

use std::sync::Arc;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use vitrine_core::{GenerateError, RepeatGuard, ResponseFormat, Sampling, Steering, SteeringCheck};

/// How many recent tokens the repetition penalties look at (llama.cpp's default).
const PENALTY_LAST_N: i32 = 64;

/// llama.cpp's generic JSON grammar (`grammars/json.gbnf`), for `response_format: json_object`.
/// Whitespace is bounded so a small model cannot pad forever.
const JSON_OBJECT_GRAMMAR: &str = r#"root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws     ::= | " " | "\n" [ \t]{0,20}
"#;

/// The GBNF grammar a response format needs, if any. Fails on a schema llama.cpp cannot turn
/// into a grammar.
pub(crate) fn grammar_for(format: &ResponseFormat) -> Result<Option<String>, GenerateError> {
    match format {
        ResponseFormat::Text => Ok(None),
        ResponseFormat::JsonObject => Ok(Some(JSON_OBJECT_GRAMMAR.to_owned())),
        ResponseFormat::JsonSchema { schema, .. } => {
            if !schema.is_object() {
                return Err(GenerateError::invalid(
                    "response_format.json_schema.schema",
                    "must be a JSON Schema object",
                ));
            }
            let text = schema.to_string();
            llama_cpp_2::json_schema_to_grammar(&text)
                .map(Some)
                .map_err(|e| {
                    GenerateError::invalid(
                        "response_format.json_schema.schema",
                        format!("cannot be turned into a grammar: {e}"),
                    )
                })
        }
    }
}

/// Checks the settings a caller chose; the server checks ranges too, but the trait is public.
pub(crate) fn validate(sampling: &Sampling) -> Result<(), GenerateError> {
    let checks: [(&str, f32, f32, f32); 6] = [
        ("temperature", sampling.temperature, 0.0, 2.0),
        ("top_p", sampling.top_p, 0.0, 1.0),
        ("min_p", sampling.min_p, 0.0, 1.0),
        ("repeat_penalty", sampling.repeat_penalty, 0.0, 10.0),
        ("frequency_penalty", sampling.frequency_penalty, -2.0, 2.0),
        ("presence_penalty", sampling.presence_penalty, -2.0, 2.0),
    ];
    for (field, value, low, high) in checks {
        if !value.is_finite() || value < low || value > high {
            return Err(GenerateError::invalid(
                field,
                format!("{value} is out of range [{low}, {high}]"),
            ));
        }
    }
    if sampling.repeat_penalty == 0.0 {
        return Err(GenerateError::invalid(
            "repeat_penalty",
            "must be above 0 (1 disables it)",
        ));
    }
    Ok(())
}

/// The most phrases and numbers one request may steer away from or allow.
const MAX_STEERING_ENTRIES: usize = 4096;
/// The longest avoided phrase or allowed number; steering looks back `STEER_TAIL_BYTES`.
const MAX_STEERING_ENTRY_BYTES: usize = 64;

/// Checks a request's steering lists.
pub(crate) fn validate_steering(steering: &Steering) -> Result<(), GenerateError> {
    let lists = [
        ("steer.avoid", Some(&steering.avoid)),
        ("steer.numbers", steering.numbers.as_ref()),
        ("steer.after_numbers", steering.after_numbers.as_ref()),
    ];
    for (field, list) in lists {
        let Some(list) = list else { continue };
        if list.len() > MAX_STEERING_ENTRIES {
            return Err(GenerateError::invalid(
                field,
                format!("at most {MAX_STEERING_ENTRIES} entries"),
            ));
        }
        if list
            .iter()
            .any(|e| e.trim().is_empty() || e.len() > MAX_STEERING_ENTRY_BYTES)
        {
            return Err(GenerateError::invalid(
                field,
                format!("entries must be 1 to {MAX_STEERING_ENTRY_BYTES} bytes"),
            ));
        }
    }
    if let Some(numbers) = &steering.numbers
        && numbers.iter().any(|n| {
            !n.trim()
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        })
    {
        return Err(GenerateError::invalid(
            "steer.numbers",
            "entries must be numbers written with digits",
        ));
    }
    Ok(())
}

/// A request's token chooser: the sampling chain, split in two, and, for structured output, a
/// grammar, and for grounded output, steering (words and numbers it may not write).
///
/// Checking a grammar against all ~50k tokens costs more than decoding a token of a small
/// model, so constraints are consulted as late as possible, the way llama.cpp's
/// `common_sampler` does:
/// 1. sample as if there were no constraint, and keep the token if it is allowed;
/// 2. else keep only the allowed tokens among the top-k candidates and sample from those;
/// 3. only if none of them is allowed, look through the whole vocabulary.
///
/// `pre` (penalties, top-k) cuts the vocabulary down; `post` (top-p, min-p, temperature, the
/// random draw) chooses.
pub(crate) struct TokenSampler {
    mode: Mode,
    eos: LlamaToken,
    /// Which tokens end the text, when the request sets a minimum length.
    ends: Option<Arc<Pieces>>,
    /// The minimum length in tokens.
    min: u32,
    /// Tokens chosen so far.
    generated: u32,
}

enum Mode {
    /// No constraint: one chain, run inside llama.cpp.
    Free(LlamaSampler),
    /// Constraints, consulted as late as possible.
    Constrained {
        pre: LlamaSampler,
        post: LlamaSampler,
        grammar: Option<LlamaSampler>,
        /// Boxed: the steering state is large next to the other variant.
        steer: Option<Box<Steer>>,
    },
}

/// Every token's text, decoded once per model: steering looks at dozens of candidates a token,
/// and asking llama.cpp for each piece each time cost more than the check itself.
#[derive(Debug)]
pub(crate) struct Pieces {
    /// The token's bytes as text (a piece that splits a UTF-8 character reads as U+FFFD).
    text: Vec<Box<str>>,
    /// Whether the token ends generation.
    end: Vec<bool>,
}

impl Pieces {
    pub(crate) fn new(model: &LlamaModel) -> Self {
        let vocab = model.vocab();
        let n = usize::try_from(model.n_vocab()).unwrap_or(0);
        let mut bytes = Vec::with_capacity(32);
        let (mut text, mut end) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for id in 0..n {
            let token = LlamaToken::new(id as i32);
            bytes.clear();
            vocab.token_to_piece_into(token, &mut bytes, false, None);
            text.push(String::from_utf8_lossy(&bytes).into());
            end.push(vocab.is_eog(token));
        }
        Self { text, end }
    }

    /// Whether `token` ends generation.
    fn ends(&self, token: LlamaToken) -> bool {
        self.get(token).is_some_and(|(_, end)| end)
    }

    fn get(&self, token: LlamaToken) -> Option<(&str, bool)> {
        let i = usize::try_from(token.0).ok()?;
        Some((self.text.get(i)?, *self.end.get(i)?))
    }
}

/// Steering and the end of the text written so far, which it checks each candidate against.
struct Steer {
    check: SteeringCheck,
    /// N-gram blocking, when the request limits repeats.
    repeats: Option<RepeatGuard>,
    pieces: Arc<Pieces>,
    tail: String,
    /// `tail` lower-cased, once per token rather than once per candidate.
    tail_lower: String,
}

/// How much of the text steering looks back at: longer than any avoided phrase or number.
const STEER_TAIL_BYTES: usize = 96;
/// How many candidates the last resort gathers from the whole vocabulary.
const LAST_RESORT_CANDIDATES: usize = 40;

impl Steer {
    fn allows(&self, token: LlamaToken) -> bool {
        match self.pieces.get(token) {
            // Ending the text ends a number too: "89" may not stay a prefix of "899".
            Some((_, true)) => {
                !self.check.forbids_after_lower(&self.tail_lower, "\n")
                    && self.repeats.as_ref().is_none_or(|r| !r.forbids("", true))
            }
            Some((piece, false)) => {
                !self.check.forbids_after_lower(&self.tail_lower, piece)
                    && self
                        .repeats
                        .as_ref()
                        .is_none_or(|r| !r.forbids(piece, false))
            }
            None => false,
        }
    }

    fn accept(&mut self, token: LlamaToken) {
        if let Some((piece, end)) = self.pieces.get(token) {
            self.tail.push_str(piece);
            if let Some(r) = self.repeats.as_mut() {
                // An end token's piece is markup, not words.
                r.push(if end { "" } else { piece }, end);
            }
        }
        if self.tail.len() > STEER_TAIL_BYTES {
            let mut cut = self.tail.len() - STEER_TAIL_BYTES;
            while !self.tail.is_char_boundary(cut) {
                cut += 1;
            }
            self.tail.drain(..cut);
        }
        self.tail_lower = self.tail.to_lowercase();
    }
}

impl std::fmt::Debug for TokenSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (grammar, steer) = match &self.mode {
            Mode::Free(_) => (false, false),
            Mode::Constrained { grammar, steer, .. } => (grammar.is_some(), steer.is_some()),
        };
        f.debug_struct("TokenSampler")
            .field("grammar", &grammar)
            .field("steer", &steer)
            .finish_non_exhaustive()
    }
}

impl TokenSampler {
    /// Chooses (and records) the next token from the logits at batch row `row`.
    pub(crate) fn sample(&mut self, ctx: &LlamaContext<'_>, row: i32) -> LlamaToken {
        let (pre, post, grammar, steer) = match &mut self.mode {
            Mode::Free(chain) => return chain.sample(ctx, row),
            Mode::Constrained {
                pre,
                post,
                grammar,
                steer,
            } => (pre, post, grammar, steer),
        };
        // Ending is not allowed before the request's minimum length.
        let early = self.ends.as_deref().filter(|_| self.generated < self.min);
        let allowed = |token: LlamaToken, grammar: &mut Option<LlamaSampler>| {
            early.is_none_or(|p| !p.ends(token))
                && grammar.as_mut().is_none_or(|g| allows(g, token))
                && steer.as_ref().is_none_or(|s| s.allows(token))
        };
        let mut candidates = ctx.token_data_array_ith(row);
        candidates.apply_sampler(pre);
        let mut free = LlamaTokenDataArray::new(candidates.data.clone(), candidates.sorted);
        free.apply_sampler(post);
        let token = match free.selected_token() {
            Some(token) if allowed(token, grammar) => token,
            _ => {
                if let Some(g) = grammar.as_mut() {
                    candidates.apply_sampler(g);
                    candidates.data.retain(|d| d.logit().is_finite());
                }
                candidates.data.retain(|d| {
                    early.is_none_or(|p| !p.ends(d.id()))
                        && steer.as_ref().is_none_or(|s| s.allows(d.id()))
                });
                if candidates.data.is_empty() {
                    candidates = ctx.token_data_array_ith(row);
                    if let Some(g) = grammar.as_mut() {
                        candidates.apply_sampler(g);
                        candidates.data.retain(|d| d.logit().is_finite());
                    }
                    candidates
                        .data
                        .sort_unstable_by(|a, b| b.logit().total_cmp(&a.logit()));
                    let mut kept = Vec::with_capacity(LAST_RESORT_CANDIDATES);
                    for d in &candidates.data {
                        if early.is_none_or(|p| !p.ends(d.id()))
                            && steer.as_ref().is_none_or(|s| s.allows(d.id()))
                        {
                            kept.push(*d);
                            if kept.len() == LAST_RESORT_CANDIDATES {
                                break;
                            }
                        }
                    }
                    if kept.is_empty() {
                        // The grammar and the steering leave nothing in common (a string
                        // at its length limit inside an unfinished number): the grammar
                        // wins, and the caller's claim check judges the text.
                        kept = candidates
                            .data
                            .iter()
                            .take(LAST_RESORT_CANDIDATES)
                            .copied()
                            .collect();
                    }
                    candidates = LlamaTokenDataArray::new(kept, true);
                }
                if candidates.data.is_empty() {
                    // llama.cpp's samplers abort on an empty array; the grammar always
                    // allows something (at worst, the end of the text), so this is a
                    // finished grammar.
                    return self.eos;
                }
                candidates.selected = None;
                candidates.apply_sampler(post);
                candidates.selected_token().unwrap_or(self.eos)
            }
        };
        if let Some(g) = grammar.as_mut() {
            g.accept(token);
        }
        if let Some(s) = steer.as_mut() {
            s.accept(token);
        }
        pre.accept(token);
        post.accept(token);
        self.generated += 1;
        token
    }
}

/// Whether `grammar` allows `token` next.
fn allows(grammar: &mut LlamaSampler, token: LlamaToken) -> bool {
    let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
    one.apply_sampler(grammar);
    one.data.first().is_some_and(|d| d.logit().is_finite())
}

/// Builds the sampler for one request. `grammar` comes from [`grammar_for`]. With temperature 0
/// the choice is greedy and the seed does not matter.
pub(crate) fn build(
    model: &LlamaModel,
    sampling: &Sampling,
    grammar: Option<&str>,
    steering: &Steering,
    written: &str,
    pieces: impl FnOnce() -> Arc<Pieces>,
    seed: u32,
) -> Result<TokenSampler, GenerateError> {
    let grammar = grammar
        .map(|grammar| {
            LlamaSampler::grammar(model, grammar, "root").map_err(|e| {
                GenerateError::invalid(
                    "response_format",
                    format!("llama.cpp rejected the grammar: {e}"),
                )
            })
        })
        .transpose()?;
    let mut pre = Vec::with_capacity(2);
    let mut post = Vec::with_capacity(4);
    if sampling.repeat_penalty != 1.0
        || sampling.frequency_penalty != 0.0
        || sampling.presence_penalty != 0.0
    {
        pre.push(LlamaSampler::penalties(
            model.n_vocab(),
            PENALTY_LAST_N,
            sampling.repeat_penalty,
            sampling.frequency_penalty,
            sampling.presence_penalty,
        ));
    }
    if sampling.temperature <= 0.0 {
        post.push(LlamaSampler::greedy());
    } else {
        if sampling.top_k > 0 {
            pre.push(LlamaSampler::top_k(
                i32::try_from(sampling.top_k).unwrap_or(i32::MAX),
            ));
        }
        if sampling.top_p < 1.0 {
            post.push(LlamaSampler::top_p(sampling.top_p, 1));
        }
        if sampling.min_p > 0.0 {
            post.push(LlamaSampler::min_p(sampling.min_p, 1));
        }
        post.push(LlamaSampler::temp(sampling.temperature));
        post.push(LlamaSampler::dist(seed));
    }
    let pieces = (!steering.is_empty() || sampling.min_tokens > 0).then(pieces);
    let steer = pieces
        .as_ref()
        .filter(|_| !steering.is_empty())
        .map(|pieces| {
            // A prefill is text already written: what follows is checked against its end.
            let mut cut = written.len().saturating_sub(STEER_TAIL_BYTES);
            while !written.is_char_boundary(cut) {
                cut += 1;
            }
            let tail = written[cut..].to_owned();
            Box::new(Steer {
                check: SteeringCheck::new(steering),
                repeats: steering
                    .repeats
                    .map(|limit| RepeatGuard::new(limit, written)),
                pieces: pieces.clone(),
                tail_lower: tail.to_lowercase(),
                tail,
            })
        });
    let min = sampling.min_tokens;
    let mode = if grammar.is_none() && steer.is_none() && min == 0 {
        Mode::Free(LlamaSampler::chain_simple(pre.into_iter().chain(post)))
    } else {
        Mode::Constrained {
            pre: LlamaSampler::chain_simple(pre),
            post: LlamaSampler::chain_simple(post),
            grammar,
            steer,
        }
    };
    Ok(TokenSampler {
        mode,
        eos: model.vocab().eos(),
        ends: pieces.filter(|_| min > 0),
        min,
        generated: 0,
    })
}
