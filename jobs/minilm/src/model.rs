//! The forward pass (BERT, post-norm) and the job around it.
//!
//! A step embeds a batch of whole texts, at most [`STEP_TOKENS`] tokens in all (a text has at
//! most [`TOKENS_MAX`] = [`STEP_TOKENS`], so a step always takes at least one). The linear layers
//! run over every token of the batch at once, so each `gemm_i8` call multiplies a tall matrix;
//! attention runs per text, in f32, unmasked over the text's own tokens (exactly what a padded,
//! masked batch computes for the real tokens). The row-wise float work (quantization, LayerNorm,
//! GELU, attention) goes through the SDK's exact float host calls, so it runs at native speed in
//! a metered run too.
//!
//! Per layer: `x = LN(x + attn_out(attention(qkv(x))))`, then `x = LN(x + down(gelu(up(x))))`.
//! The embedding of token `t` at position `p` is `LN(word[t] + position[p])` (token type 0 is
//! folded into the position table). The text's vector is the mean over its tokens, L2-normalized.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use plexus_guest::nn::{self, Scratch};
use plexus_guest::wordpiece::Vocab;
use plexus_guest::{Host, Job};

use crate::input::{Mode, output_header, parse_input};
use crate::weights::Weights;
use crate::{
    DIM, INPUT_BYTES_MAX, STEP_TOKENS, TOKENS_MAX, VOCAB_BLOB, VOCAB_BYTES_MAX, WEIGHTS_BLOB,
};

/// The activations of one batch, allocated once at the largest batch.
struct Buffers {
    /// Token ids of the batch, text after text.
    ids: Vec<u32>,
    /// One text's ids while tokenizing.
    text_ids: Vec<u32>,
    /// Each text's rows in the batch.
    spans: Vec<Range<usize>>,
    /// The hidden state, `rows` x `hidden`.
    x: Vec<f32>,
    /// A second hidden-sized buffer (sublayer output, then the new state).
    y: Vec<f32>,
    /// Queries, keys and values, `rows` x `3 * hidden`.
    qkv: Vec<f32>,
    /// The attention context, `rows` x `hidden`.
    ctx: Vec<f32>,
    /// The feed-forward activation, `rows` x `intermediate`.
    up: Vec<f32>,
    /// One word-table row as stored (scale, then int8).
    word: Vec<u8>,
    /// Quantization scratch for the linear layers.
    scratch: Scratch,
}

/// The MiniLM job: the input, the model and the output being filled.
pub struct MiniLmJob {
    input: Vec<u8>,
    texts: Vec<Range<usize>>,
    mode: Mode,
    next: usize,
    weights: Weights,
    vocab: Vocab,
    buffers: Buffers,
    output: Vec<u8>,
}

impl Job for MiniLmJob {
    fn init<H: Host>(host: &H) -> Self {
        let input = host.read_input(INPUT_BYTES_MAX).expect("input too long");
        let (mode, texts) = parse_input(&input).expect("malformed input");
        let weights = Weights::load(host, WEIGHTS_BLOB).expect("bad weights blob");
        let vocab_bytes = host
            .read_blob(VOCAB_BLOB, VOCAB_BYTES_MAX)
            .expect("missing or oversized vocabulary blob");
        let vocab = Vocab::parse(&vocab_bytes).expect("bad vocabulary blob");
        assert_eq!(
            vocab.len(),
            weights.config.vocab,
            "vocabulary and word table differ"
        );
        let c = weights.config;
        let rows = STEP_TOKENS;
        let buffers = Buffers {
            ids: Vec::with_capacity(rows),
            text_ids: Vec::with_capacity(TOKENS_MAX),
            spans: Vec::with_capacity(rows),
            x: vec![0.0; rows * c.hidden],
            y: vec![0.0; rows * c.hidden],
            qkv: vec![0.0; rows * 3 * c.hidden],
            ctx: vec![0.0; rows * c.hidden],
            up: vec![0.0; rows * c.intermediate],
            word: vec![0; 4 + c.hidden],
            scratch: Scratch::new(rows, c.intermediate, c.intermediate.max(3 * c.hidden)),
        };
        let mut output = Vec::with_capacity(8 + texts.len() * DIM * 4);
        output.extend_from_slice(&output_header(texts.len()));
        MiniLmJob {
            input,
            texts,
            mode,
            next: 0,
            weights,
            vocab,
            buffers,
            output,
        }
    }

    fn step<H: Host>(&mut self, host: &H) -> bool {
        self.tokenize_batch();
        self.embed(host);
        for layer in 0..self.weights.layers.len() {
            self.layer(host, layer);
        }
        self.pool();
        self.next < self.texts.len()
    }

    fn output(&self) -> &[u8] {
        &self.output
    }
}

impl MiniLmJob {
    /// Tokenizes the next texts into the batch: whole texts, at most `STEP_TOKENS` ids, at least
    /// one text.
    fn tokenize_batch(&mut self) {
        let b = &mut self.buffers;
        b.ids.clear();
        b.spans.clear();
        while let Some(range) = self.texts.get(self.next) {
            let text = core::str::from_utf8(&self.input[range.clone()]).expect("checked in init");
            self.vocab.encode(text, TOKENS_MAX, &mut b.text_ids);
            if !b.spans.is_empty() && b.ids.len() + b.text_ids.len() > STEP_TOKENS {
                break;
            }
            let start = b.ids.len();
            b.ids.extend_from_slice(&b.text_ids);
            b.spans.push(start..b.ids.len());
            self.next += 1;
        }
    }

    /// `x = LN(word + position)` for every token of the batch.
    fn embed<H: Host>(&mut self, host: &H) {
        let h = self.weights.config.hidden;
        let b = &mut self.buffers;
        for span in &b.spans {
            for (position, row) in span.clone().enumerate() {
                let dst = &mut b.x[row * h..(row + 1) * h];
                self.weights
                    .word_row(host, WEIGHTS_BLOB, b.ids[row], &mut b.word, dst);
                let pos = &self.weights.position[position * h..(position + 1) * h];
                for (v, p) in dst.iter_mut().zip(pos) {
                    *v += p;
                }
            }
        }
        self.weights.embed_norm.apply(host, &mut b.x, b.ids.len());
    }

    /// One transformer layer over the batch, in place on `x`.
    fn layer<H: Host>(&mut self, host: &H, index: usize) {
        let c = self.weights.config;
        let (h, precise) = (c.hidden, self.mode == Mode::Precise);
        let layer = &self.weights.layers[index];
        let b = &mut self.buffers;
        let rows = b.ids.len();
        layer
            .qkv
            .forward(host, &b.x, rows, &mut b.qkv, &mut b.scratch, precise);
        for span in &b.spans {
            let tokens = span.len();
            nn::attention(
                host,
                &b.qkv[span.start * 3 * h..span.end * 3 * h],
                tokens,
                h,
                c.heads,
                &mut b.ctx[span.start * h..span.end * h],
            );
        }
        layer
            .attn_out
            .forward(host, &b.ctx, rows, &mut b.y, &mut b.scratch, precise);
        add_into(&mut b.y[..rows * h], &b.x[..rows * h]);
        layer.attn_norm.apply(host, &mut b.y, rows);
        core::mem::swap(&mut b.x, &mut b.y);
        layer
            .up
            .forward(host, &b.x, rows, &mut b.up, &mut b.scratch, precise);
        nn::gelu(host, &mut b.up[..rows * c.intermediate]);
        layer
            .down
            .forward(host, &b.up, rows, &mut b.y, &mut b.scratch, precise);
        add_into(&mut b.y[..rows * h], &b.x[..rows * h]);
        layer.out_norm.apply(host, &mut b.y, rows);
        core::mem::swap(&mut b.x, &mut b.y);
    }

    /// Appends each text's mean-pooled, normalized vector to the output.
    fn pool(&mut self) {
        let h = self.weights.config.hidden;
        let b = &mut self.buffers;
        let mut vector = [0f32; DIM];
        for span in &b.spans {
            nn::mean_pool_normalized(
                &b.x[span.start * h..span.end * h],
                span.len(),
                h,
                &mut vector,
            );
            for v in vector {
                self.output.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// `y += x`, element by element.
fn add_into(y: &mut [f32], x: &[f32]) {
    for (a, b) in y.iter_mut().zip(x) {
        *a += b;
    }
}
