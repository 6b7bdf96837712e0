//! The forward pass and greedy decoding, over the weights streamed one layer at a time.
//!
//! A [`Decoder`] holds up to `batch` sequences in slots. Each [`Decoder::step`] feeds every
//! active slot the tokens its key/value cache does not hold yet (a new prompt's tokens, at most
//! [`ROWS_MAX`] rows in all, or the one token it generated last), runs them through all the
//! layers at once, so each layer's weights are read once per step for the whole batch, and, for
//! every slot whose fed rows reach the end of its tokens, picks the next token greedily. A slot
//! whose sequence ends (the stop token, `max_new` tokens, or a full context) takes the next
//! prompt at the following step.
//!
//! Per layer, on the rows `x` of the step (the module doc of [`crate::weights`] gives the model):
//! `h = rms_norm(x) * attn_norm`; `q, k, v = qkv(h)`; rope on `q` and `k` at each row's
//! position; `k` and `v` into the slot's int8 cache; each query row attends, causally, to its
//! slot's cached positions `0..=position`; `x += out(context)`; `h = rms_norm(x) * ffn_norm`;
//! `x += down(silu(gate(h)) * up(h))`. The matrices run W8A8 through the SDK's `Linear` (exact
//! `gemm_i8`, optionally its precise second pass); the cache stores and the attention run in
//! one exact host call per layer for all the step's rows (`kv_attention`,
//! `plexus_guest::nn::kernels::kv_attention`); the rest of the row-wise float work (RMSNorm,
//! rope, SiLU) is plain f32 in this crate, IEEE-exact under the executor's admission, with
//! `libm` and the SDK's `exp_approx` for the transcendental functions, so a native run and a
//! metered one give the same bits.
//!
//! The key/value cache is int8: each cached key (and value) head vector of `head_dim` values is
//! quantized with one symmetric scale (`quantize_rows`), a quarter of the f32 cache's memory; the
//! precise mode also keeps each one's int8 rounding residual (half the f32 cache's memory): with
//! an int8-only cache its greedy output left float32's on 7 of 16 test prompts, with it on none.

use alloc::vec;
use alloc::vec::Vec;

use plexus_guest::Host;
use plexus_guest::nn::kernels::{self, KvShape};
use plexus_guest::nn::{self, Linear, Scratch};

use crate::input::Stop;
use crate::weights::{Config, Header, Layer, WeightsError};

/// The most rows (tokens over all slots) one step feeds: a longer prompt is fed over several
/// steps. Each checkpoint compares the whole memory, and prefill leaves every row of the step's
/// buffers written: 64 rows rather than 256 keep about 10 MB of them (by their sizes) out of
/// every later comparison (measured: the eight-sequence job's checkpoints took 200-210 ms instead
/// of 266 ms, for two more steps and 0.5% more fuel), while a `gemm_i8` call still serves 64
/// rows per weight read.
pub const ROWS_MAX: usize = 64;
/// Embedding rows of the tied output head multiplied per `gemm_i8` call.
const HEAD_CHUNK: usize = 2048;

/// How a [`Decoder`] generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Sequences decoded together (slots).
    pub batch: usize,
    /// Positions a slot's cache holds: prompt plus completion.
    pub context: usize,
    /// The most tokens generated per prompt.
    pub max_new: usize,
    /// The token that ends a completion (not included in it).
    pub stop: u32,
    /// The precise mode: a second int8 pass over each activation's rounding residual, and a
    /// key/value cache that keeps each head vector's rounding residual too
    /// ([`KvShape::residual`]: twice the cache's memory).
    pub precise: bool,
    /// The blob index of the residual weights' head blob, when the weights' own rounding
    /// residual is multiplied too (the precise mode's, [`crate::RESIDUAL_BLOB`]): a second model
    /// in the same format, of the same shape, whose matrices hold what the int8 weights round
    /// off.
    pub residual: Option<usize>,
}

/// One sequence being decoded.
#[derive(Clone, Debug, Default)]
struct Slot {
    /// The prompt's index, `None` when the slot is free.
    prompt: Option<usize>,
    /// The prompt's tokens, then the generated ones.
    tokens: Vec<u32>,
    /// The prompt's length.
    prompt_len: usize,
    /// Positions already in the cache.
    cached: usize,
}

/// The rows a step feeds: `(slot, first position, count)` per slot, in slot order.
#[derive(Clone, Copy, Debug)]
struct Span {
    slot: usize,
    first: usize,
    count: usize,
    /// The span's first row in the step.
    row: usize,
}

/// The activations of a step, allocated once at the most rows a step feeds ([`Decoder::rows`]).
struct Buffers {
    ids: Vec<u32>,
    x: Vec<f32>,
    h: Vec<f32>,
    y: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    gate_up: Vec<f32>,
    act: Vec<f32>,
    /// Per row and rope pair: `(cos, sin)` of the row's position times the pair's frequency.
    rope: Vec<(f32, f32)>,
    /// Per row: its slot and position (`kv_attention`'s `at`).
    at: Vec<u32>,
    scratch: Scratch,
    /// One embedding row, or a chunk of the output head.
    head_q: Vec<i8>,
    head_scale: Vec<f32>,
    head_zero: Vec<f32>,
    head_acc: Vec<i32>,
    logits: Vec<f32>,
    last_q: Vec<i8>,
    last_scale: Vec<f32>,
    /// The precise mode's second pass over the head's input: its rounding residual, quantized.
    last_rq: Vec<i8>,
    last_rscale: Vec<f32>,
}

/// The int8 key/value cache: per slot, position and layer, the key head vectors then the value
/// head vectors (then, in the precise mode, their residuals), `head_dim` values and one scale
/// each. Each layer's part is a `KvShape` whose stride skips the other layers' entries of the
/// position, so a decode step, which writes one position of each slot in every layer, writes one
/// run of `layers * 2 * kv_rows` bytes (11.5 KB; twice that precise) per slot: few memory pages
/// for the step's checkpoint to hash and store.
struct Cache {
    /// One layer's shape.
    shape: KvShape,
    values: Vec<i8>,
    scales: Vec<f32>,
}

/// The residual weights ([`Options::residual`]): their header and one matrix's buffers, sized
/// for the largest of a layer's four matrices and refilled before each product.
struct Residual {
    header: Header,
    weight: Vec<i8>,
    scale: Vec<f32>,
}

/// Greedy decoding of a list of prompts (token ids), `batch` at a time.
pub struct Decoder {
    header: Header,
    options: Options,
    layer: Layer,
    residual: Option<Residual>,
    output_norm: Vec<f32>,
    /// `rope_theta^(-2i / head_dim)` per pair `i`.
    inv_freq: Vec<f64>,
    prompts: Vec<Vec<u32>>,
    next_prompt: usize,
    slots: Vec<Slot>,
    completions: Vec<Vec<u32>>,
    /// Why each prompt's completion ended (`Length` until it has).
    stops: Vec<Stop>,
    cache: Cache,
    /// The most rows a step feeds: [`ROWS_MAX`], or fewer when the prompts hold fewer tokens.
    rows: usize,
    b: Buffers,
}

/// Why a decoder cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The weights blobs are unreadable.
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// A prompt that cannot be decoded.
    #[error("prompt {index}: {why}")]
    Prompt {
        /// Its index in the list.
        index: usize,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Options the model cannot run with.
    #[error("{0}")]
    Options(&'static str),
}

impl Decoder {
    /// A decoder over the weights at blob `base` for `prompts` (token ids, each non-empty, each
    /// id below the vocabulary, each shorter than `context`).
    pub fn new<H: Host>(
        host: &H,
        base: usize,
        prompts: Vec<Vec<u32>>,
        options: Options,
    ) -> Result<Decoder, DecodeError> {
        let header = Header::load(host, base)?;
        let c = header.config;
        if options.batch == 0 || options.batch > ROWS_MAX {
            return Err(DecodeError::Options(
                "a batch of 1 to 64 sequences (ROWS_MAX)",
            ));
        }
        if options.context < 2 || options.context > c.context {
            return Err(DecodeError::Options(
                "a context of at least 2 positions, at most the model's",
            ));
        }
        for (index, prompt) in prompts.iter().enumerate() {
            let why = if prompt.is_empty() {
                "no tokens"
            } else if prompt.len() >= options.context {
                "as long as the context or longer"
            } else if prompt.iter().any(|t| *t as usize >= c.vocab) {
                "a token outside the vocabulary"
            } else {
                continue;
            };
            return Err(DecodeError::Prompt { index, why });
        }
        let layer = Layer::zeroed(&c);
        let residual = options
            .residual
            .map(|base| Residual::load(host, base, &c))
            .transpose()?;
        let output_norm = header.read_output_norm(host)?;
        let pairs = c.head_dim / 2;
        let inv_freq = (0..pairs)
            .map(|i| libm::pow(f64::from(c.rope_theta), -2.0 * i as f64 / c.head_dim as f64))
            .collect();
        let mut shape = KvShape {
            heads: c.heads,
            kv_heads: c.kv_heads,
            head_dim: c.head_dim,
            slots: options.batch,
            context: options.context,
            stride: 0,
            residual: options.precise,
        };
        // Every layer's entries of a position, one after another.
        shape.stride = c.layers * shape.position_vectors().expect("a checked config");
        let vectors = options.batch * options.context * shape.stride;
        let (qkv_rows, out_max) = (c.q_rows() + 2 * c.kv_rows(), (2 * c.ffn).max(c.hidden));
        // A step feeds each active slot at most its pending tokens: a prompt's, or one generated
        // token (fewer than its prompt's), so never more rows than the prompts hold. Buffers no
        // larger than that keep the memory every checkpoint compares small for short jobs.
        let rows = ROWS_MAX.min(prompts.iter().map(Vec::len).sum());
        let b = Buffers {
            ids: Vec::with_capacity(rows),
            x: vec![0.0; rows * c.hidden],
            h: vec![0.0; rows * c.hidden],
            y: vec![0.0; rows * c.hidden],
            qkv: vec![0.0; rows * qkv_rows],
            ctx: vec![0.0; rows * c.q_rows()],
            gate_up: vec![0.0; rows * 2 * c.ffn],
            act: vec![0.0; rows * c.ffn],
            rope: vec![(0.0, 0.0); rows * pairs],
            at: Vec::with_capacity(2 * rows),
            scratch: Scratch::new(
                rows,
                c.ffn.max(c.q_rows()).max(c.hidden),
                out_max.max(qkv_rows),
            ),
            head_q: vec![0; HEAD_CHUNK * c.hidden],
            head_scale: vec![0.0; HEAD_CHUNK],
            head_zero: vec![0.0; HEAD_CHUNK],
            head_acc: vec![0; options.batch * HEAD_CHUNK],
            logits: vec![0.0; options.batch * HEAD_CHUNK],
            last_q: vec![0; options.batch * c.hidden],
            last_scale: vec![0.0; options.batch],
            last_rq: vec![0; options.batch * c.hidden],
            last_rscale: vec![0.0; options.batch],
        };
        let completions = vec![Vec::new(); prompts.len()];
        let stops = vec![Stop::Length; prompts.len()];
        Ok(Decoder {
            header,
            options,
            layer,
            residual,
            output_norm,
            inv_freq,
            prompts,
            next_prompt: 0,
            slots: vec![Slot::default(); options.batch],
            completions,
            stops,
            cache: Cache {
                shape,
                values: vec![0; vectors * c.head_dim],
                scales: vec![0.0; vectors],
            },
            rows,
            b,
        })
    }

    /// The completions so far, one per prompt in order (without the stop token).
    pub fn completions(&self) -> &[Vec<u32>] {
        &self.completions
    }

    /// Why each completion ended, once it has: the stop token, else its length (`max_new`, or
    /// the context full).
    pub fn stops(&self) -> &[Stop] {
        &self.stops
    }

    /// Feeds every active slot, once through the model, and appends each finished row's next
    /// token. Returns whether anything is left to do.
    pub fn step<H: Host>(&mut self, host: &H) -> Result<bool, WeightsError> {
        let Some(spans) = self.forward(host)? else {
            return Ok(false);
        };
        let done: Vec<Span> = spans
            .iter()
            .copied()
            .filter(|s| self.slots[s.slot].cached == self.slots[s.slot].tokens.len())
            .collect();
        let next = self.next_tokens(host, &done)?;
        for (span, token) in done.iter().zip(next) {
            self.append(span.slot, token);
        }
        Ok(self.slots.iter().any(|s| s.prompt.is_some()) || self.next_prompt < self.prompts.len())
    }

    /// Teacher forcing: runs every sequence through the model and gives, for each position but
    /// the last, the greedy pick and the log-probability of the sequence's next token (the
    /// figures of a fidelity check; a job never calls it).
    pub fn teacher_forced<H: Host>(
        host: &H,
        base: usize,
        sequences: Vec<Vec<u32>>,
        precise: bool,
        residual: Option<usize>,
    ) -> Result<Vec<Vec<Scored>>, DecodeError> {
        let options = Options {
            batch: sequences.len().clamp(1, 8),
            context: sequences.iter().map(Vec::len).max().unwrap_or(0) + 1,
            max_new: 0,
            stop: u32::MAX,
            precise,
            residual,
        };
        let mut decoder = Decoder::new(host, base, sequences, options)?;
        let mut scored = vec![Vec::new(); decoder.prompts.len()];
        while let Some(spans) = decoder.forward(host)? {
            let (mut rows, mut targets, mut owners) = (Vec::new(), Vec::new(), Vec::new());
            for s in &spans {
                let slot = &decoder.slots[s.slot];
                for i in 0..s.count {
                    if let Some(next) = slot.tokens.get(s.first + i + 1) {
                        rows.push(s.row + i);
                        targets.push(*next);
                        owners.push(slot.prompt.unwrap_or(0));
                    }
                }
            }
            let picks = decoder.head(host, &rows, Some(&targets))?;
            for (owner, pick) in owners.into_iter().zip(picks) {
                scored[owner].push(pick);
            }
            for slot in &mut decoder.slots {
                if slot.cached == slot.tokens.len() {
                    slot.prompt = None;
                }
            }
        }
        Ok(scored)
    }

    /// One pass of the model over what the active slots feed (after giving free slots the next
    /// prompts); `None` when there is nothing to feed. The slots' caches then hold the fed
    /// positions.
    fn forward<H: Host>(&mut self, host: &H) -> Result<Option<Vec<Span>>, WeightsError> {
        self.fill_slots();
        let spans = self.spans();
        if spans.is_empty() {
            return Ok(None);
        }
        let rows = spans.last().map_or(0, |s| s.row + s.count);
        self.embed(host, &spans, rows)?;
        self.rope_tables(&spans);
        for index in 0..self.header.config.layers {
            self.header.read_layer(host, index, &mut self.layer)?;
            self.layer_forward(host, index, rows)?;
        }
        for s in &spans {
            self.slots[s.slot].cached += s.count;
        }
        Ok(Some(spans))
    }

    /// Gives every free slot the next prompt.
    fn fill_slots(&mut self) {
        for slot in &mut self.slots {
            if slot.prompt.is_none() && self.next_prompt < self.prompts.len() {
                let prompt = &self.prompts[self.next_prompt];
                *slot = Slot {
                    prompt: Some(self.next_prompt),
                    tokens: prompt.clone(),
                    prompt_len: prompt.len(),
                    cached: 0,
                };
                self.next_prompt += 1;
            }
        }
    }

    /// What each active slot feeds this step, within [`Decoder::rows`] rows: every slot at least
    /// one row when it can (so no slot starves behind a long prompt).
    fn spans(&self) -> Vec<Span> {
        let active: Vec<usize> = (0..self.slots.len())
            .filter(|i| self.slots[*i].prompt.is_some())
            .collect();
        let mut spans = Vec::with_capacity(active.len());
        let mut row = 0;
        let mut left = active.len();
        for i in active {
            let slot = &self.slots[i];
            let pending = slot.tokens.len() - slot.cached;
            // Keep a row for each slot after this one.
            left -= 1;
            let count = pending.min(self.rows - row - left);
            if count > 0 {
                spans.push(Span {
                    slot: i,
                    first: slot.cached,
                    count,
                    row,
                });
                row += count;
            }
        }
        spans
    }

    /// `x` = the dequantized embedding row of every fed token.
    fn embed<H: Host>(
        &mut self,
        host: &H,
        spans: &[Span],
        rows: usize,
    ) -> Result<(), WeightsError> {
        let h = self.header.config.hidden;
        let b = &mut self.b;
        b.ids.clear();
        for s in spans {
            b.ids
                .extend_from_slice(&self.slots[s.slot].tokens[s.first..s.first + s.count]);
        }
        for row in 0..rows {
            let token = b.ids[row] as usize;
            let x = &mut b.x[row * h..(row + 1) * h];
            let (q, scale) = (&mut b.head_q[..h], &mut b.head_scale[..1]);
            self.header.embed_rows(host, token, q, scale)?;
            for (x, v) in x.iter_mut().zip(q.iter()) {
                *x = f32::from(*v) * scale[0];
            }
            if let Some(residual) = &self.residual {
                residual.header.embed_rows(host, token, q, scale)?;
                for (x, v) in x.iter_mut().zip(q.iter()) {
                    *x += f32::from(*v) * scale[0];
                }
            }
        }
        Ok(())
    }

    /// The rope rotation of every fed row's position, and its slot and position for the cache.
    fn rope_tables(&mut self, spans: &[Span]) {
        let pairs = self.inv_freq.len();
        self.b.at.clear();
        for s in spans {
            for i in 0..s.count {
                self.b.at.extend([s.slot as u32, (s.first + i) as u32]);
                let position = (s.first + i) as f64;
                let row = &mut self.b.rope[(s.row + i) * pairs..(s.row + i + 1) * pairs];
                for (cell, freq) in row.iter_mut().zip(&self.inv_freq) {
                    let angle = position * freq;
                    *cell = (libm::cos(angle) as f32, libm::sin(angle) as f32);
                }
            }
        }
    }

    /// One layer over the step's rows, in place on `x`; fills the layer's cache.
    fn layer_forward<H: Host>(
        &mut self,
        host: &H,
        index: usize,
        rows: usize,
    ) -> Result<(), WeightsError> {
        let c = self.header.config;
        let hd = c.hidden;
        let qkv_width = c.q_rows() + 2 * c.kv_rows();
        let layer = &self.layer;
        let b = &mut self.b;
        let mut project = Projection {
            residual: &mut self.residual,
            layer: index,
            rows,
            precise: self.options.precise,
        };
        rms_norm(&b.x[..rows * hd], &layer.attn_norm, c.norm_eps, &mut b.h);
        project.run(host, &layer.qkv, 0, &b.h, &mut b.qkv, &mut b.scratch)?;
        let pairs = c.head_dim / 2;
        for row in 0..rows {
            let line = &mut b.qkv[row * qkv_width..row * qkv_width + c.q_rows() + c.kv_rows()];
            let table = &b.rope[row * pairs..(row + 1) * pairs];
            for head in line.chunks_exact_mut(c.head_dim) {
                rope(head, table);
            }
        }
        let cache = &mut self.cache;
        // The layer's first head vector; its shape's stride skips the other layers'.
        let first = index * cache.shape.stride / c.layers;
        let (values, scales) = (
            &mut cache.values[first * c.head_dim..],
            &mut cache.scales[first..],
        );
        host.kv_attention(
            &cache.shape,
            rows,
            &b.qkv[..rows * qkv_width],
            &b.at,
            values,
            scales,
            &mut b.ctx[..rows * c.q_rows()],
        );
        project.run(host, &layer.out, 1, &b.ctx, &mut b.y, &mut b.scratch)?;
        add_into(&mut b.x[..rows * hd], &b.y[..rows * hd]);
        rms_norm(&b.x[..rows * hd], &layer.ffn_norm, c.norm_eps, &mut b.h);
        project.run(
            host,
            &layer.gate_up,
            2,
            &b.h,
            &mut b.gate_up,
            &mut b.scratch,
        )?;
        for row in 0..rows {
            let gu = &b.gate_up[row * 2 * c.ffn..(row + 1) * 2 * c.ffn];
            let (gate, up) = gu.split_at(c.ffn);
            let act = &mut b.act[row * c.ffn..(row + 1) * c.ffn];
            for ((a, g), u) in act.iter_mut().zip(gate).zip(up) {
                *a = silu(*g) * u;
            }
        }
        project.run(host, &layer.down, 3, &b.act, &mut b.y, &mut b.scratch)?;
        add_into(&mut b.x[..rows * hd], &b.y[..rows * hd]);
        Ok(())
    }

    /// For each of `rows` (rows of this step's `x`): the largest logit's token of the tied head
    /// (the lowest id among equal ones) and, with `targets`, the log-probability of the row's
    /// target token. Rows go through the head `batch` at a time.
    fn head<H: Host>(
        &mut self,
        host: &H,
        rows: &[usize],
        targets: Option<&[u32]>,
    ) -> Result<Vec<Scored>, WeightsError> {
        let mut scored = Vec::with_capacity(rows.len());
        for (group, chunk) in rows.chunks(self.options.batch).enumerate() {
            let first = group * self.options.batch;
            let targets = targets.map(|t| &t[first..first + chunk.len()]);
            self.head_group(host, chunk, targets, &mut scored)?;
        }
        Ok(scored)
    }

    /// [`Decoder::head`] for at most `batch` rows.
    fn head_group<H: Host>(
        &mut self,
        host: &H,
        rows: &[usize],
        targets: Option<&[u32]>,
        scored: &mut Vec<Scored>,
    ) -> Result<(), WeightsError> {
        let c = self.header.config;
        let (h, m) = (c.hidden, rows.len());
        let b = &mut self.b;
        let mut last = vec![0f32; m * h];
        for (i, row) in rows.iter().enumerate() {
            let x = &b.x[row * h..(row + 1) * h];
            rms_norm(
                x,
                &self.output_norm,
                c.norm_eps,
                &mut last[i * h..(i + 1) * h],
            );
        }
        let (last_q, last_scale) = (&mut b.last_q[..m * h], &mut b.last_scale[..m]);
        host.quantize_rows(m, h, &last, last_q, last_scale);
        let precise = self.options.precise;
        if precise {
            // The activation's rounding residual, quantized for its own pass (`Linear::forward`'s
            // precise pass, on the head).
            let mut rest = vec![0f32; m * h];
            nn::rounding_residual(&last, last_q, last_scale, &mut rest);
            let (rq, rscale) = (&mut b.last_rq[..m * h], &mut b.last_rscale[..m]);
            host.quantize_rows(m, h, &rest, rq, rscale);
        }
        let mut best = vec![Best::default(); m];
        let mut first = 0;
        while first < c.vocab {
            let n = HEAD_CHUNK.min(c.vocab - first);
            let (q, scale) = (&mut b.head_q[..n * h], &mut b.head_scale[..n]);
            self.header.embed_rows(host, first, q, scale)?;
            let acc = &mut b.head_acc[..m * n];
            let logits = &mut b.logits[..m * n];
            let zero = &b.head_zero[..n];
            host.gemm_i8(m, n, h, &b.last_q[..m * h], q, acc, false);
            host.dequantize_rows(m, n, acc, &b.last_scale[..m], scale, zero, logits, false);
            // The activation residual's pass, then the residual weights' (read into the same
            // buffer, so the head holds one chunk of weights at a time).
            if precise {
                host.gemm_i8(m, n, h, &b.last_rq[..m * h], q, acc, false);
                host.dequantize_rows(m, n, acc, &b.last_rscale[..m], scale, zero, logits, true);
            }
            if let Some(residual) = &self.residual {
                residual.header.embed_rows(host, first, q, scale)?;
                host.gemm_i8(m, n, h, &b.last_q[..m * h], q, acc, false);
                host.dequantize_rows(m, n, acc, &b.last_scale[..m], scale, zero, logits, true);
            }
            for (i, best) in best.iter_mut().enumerate() {
                let target = targets.map(|t| t[i] as usize);
                best.add(&logits[i * n..(i + 1) * n], first, target);
            }
            first += n;
        }
        scored.extend(best.iter().map(|b| Scored {
            token: b.token,
            logprob: targets.map(|_| b.target - b.max as f64 - libm::log(b.sum)),
        }));
        Ok(())
    }

    /// Each span's next token (the greedy pick of its last row).
    fn next_tokens<H: Host>(&mut self, host: &H, done: &[Span]) -> Result<Vec<u32>, WeightsError> {
        let rows: Vec<usize> = done.iter().map(|s| s.row + s.count - 1).collect();
        Ok(self
            .head(host, &rows, None)?
            .into_iter()
            .map(|s| s.token)
            .collect())
    }

    /// Appends `token` to slot `index`'s sequence, or ends it.
    fn append(&mut self, index: usize, token: u32) {
        let slot = &mut self.slots[index];
        let Some(prompt) = slot.prompt else {
            return;
        };
        let generated = slot.tokens.len() - slot.prompt_len;
        let full = slot.tokens.len() + 1 >= self.options.context;
        if token == self.options.stop {
            slot.prompt = None;
            self.stops[prompt] = Stop::EndOfTurn;
            return;
        }
        slot.tokens.push(token);
        self.completions[prompt].push(token);
        if generated + 1 >= self.options.max_new || full {
            slot.prompt = None;
        }
    }
}

impl Residual {
    /// The residual weights at blob `base`, which must be of the model's shape `config`.
    fn load<H: Host>(host: &H, base: usize, config: &Config) -> Result<Residual, WeightsError> {
        let header = Header::load(host, base)?;
        if header.config != *config {
            return Err(WeightsError::Shape(
                "residual weights of another shape than the model's",
            ));
        }
        let shapes = config.linears();
        let cells = shapes.iter().map(|(r, c)| r * c).max().unwrap_or(0);
        let rows = shapes.iter().map(|(r, _)| *r).max().unwrap_or(0);
        Ok(Residual {
            header,
            weight: vec![0; cells],
            scale: vec![0.0; rows],
        })
    }
}

/// The products of one layer: each matrix, with its residual weights when the decoder has them
/// (read just before the product, one matrix at a time).
struct Projection<'a> {
    residual: &'a mut Option<Residual>,
    layer: usize,
    rows: usize,
    precise: bool,
}

impl Projection<'_> {
    /// `y = x W^T` for matrix `which` of the layer (`main`, in [`Config::linears`]' order).
    fn run<H: Host>(
        &mut self,
        host: &H,
        main: &Linear,
        which: usize,
        x: &[f32],
        y: &mut [f32],
        scratch: &mut Scratch,
    ) -> Result<(), WeightsError> {
        let residual = match self.residual {
            Some(r) => {
                let (rows, cols) =
                    r.header
                        .read_matrix(host, self.layer, which, &mut r.weight, &mut r.scale)?;
                Some((&r.weight[..rows * cols], &r.scale[..rows]))
            }
            None => None,
        };
        main.forward_residual(host, x, self.rows, y, scratch, self.precise, residual);
        Ok(())
    }
}

/// What the head gives for one row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// The greedy pick: the largest logit's token (the lowest id among equal ones).
    pub token: u32,
    /// The log-probability of the row's target token (teacher forcing), when one was given.
    pub logprob: Option<f64>,
}

/// A row's running argmax and log-sum-exp over the head's chunks (natively measured figures
/// only: a job's output never depends on `sum` or `target`).
#[derive(Clone, Copy, Debug)]
struct Best {
    max: f32,
    token: u32,
    /// `sum exp(logit - max)` so far.
    sum: f64,
    target: f64,
}

impl Default for Best {
    fn default() -> Self {
        Best {
            max: f32::NEG_INFINITY,
            token: 0,
            sum: 0.0,
            target: f64::NEG_INFINITY,
        }
    }
}

impl Best {
    /// Takes the logits of tokens `first..first + logits.len()`.
    fn add(&mut self, logits: &[f32], first: usize, target: Option<usize>) {
        for (j, v) in logits.iter().enumerate() {
            if *v > self.max {
                if target.is_some() {
                    self.sum *= libm::exp(f64::from(self.max) - f64::from(*v));
                }
                self.max = *v;
                self.token = (first + j) as u32;
            }
        }
        if let Some(target) = target {
            let max = f64::from(self.max);
            self.sum += logits
                .iter()
                .map(|v| libm::exp(f64::from(*v) - max))
                .sum::<f64>();
            if (first..first + logits.len()).contains(&target) {
                self.target = f64::from(logits[target - first]);
            }
        }
    }
}

/// `out = x / sqrt(mean(x^2) + eps) * weight`, row by row (`weight` is one row long).
fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let cols = weight.len();
    for (row, dst) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        let mean = kernels::dot(row, row) / cols as f32;
        let inv = 1.0 / libm::sqrtf(mean + eps);
        for ((o, v), w) in dst.iter_mut().zip(row).zip(weight) {
            *o = v * inv * w;
        }
    }
}

/// Rotates adjacent pairs `(2i, 2i+1)` of one head by the row's `(cos, sin)` for pair `i`.
fn rope(head: &mut [f32], table: &[(f32, f32)]) {
    for (pair, (cos, sin)) in head.chunks_exact_mut(2).zip(table) {
        let (a, b) = (pair[0], pair[1]);
        pair[0] = a * cos - b * sin;
        pair[1] = a * sin + b * cos;
    }
}

/// `x * sigmoid(x)`.
fn silu(x: f32) -> f32 {
    x / (1.0 + kernels::exp_approx(-x))
}

/// `y += x`, element by element.
fn add_into(y: &mut [f32], x: &[f32]) {
    for (a, b) in y.iter_mut().zip(x) {
        *a += b;
    }
}
