//! The job: the input's prompts through the chat template and the tokenizer, greedy decoding
//! ([`Decoder`]), and the completions detokenized into the output, all inside the module.

use alloc::vec::Vec;

use plexus_guest::bpe::{self, ChatTemplate, Vocab};
use plexus_guest::{Host, Job};

use crate::input::{Completion, Mode, parse_input, push_completion};
use crate::model::{Decoder, Options};
use crate::{
    BATCH, INPUT_BYTES_MAX, RESIDUAL_BLOB, TOKENIZER_BLOB, WEIGHTS_BLOB, context_max, kv_positions,
};

/// The SmolLM2 job: the decoder, the vocabulary that detokenizes its completions, and the
/// output once they are done.
pub struct SmolLm2Job {
    decoder: Decoder,
    vocab: Vocab,
    prompt_tokens: Vec<u32>,
    output: Vec<u8>,
}

/// The slots decoded together for prompts of up to `context` positions in `mode`: at most
/// [`BATCH`], at most the prompts, and no more than the key/value cache's positions in that mode
/// ([`kv_positions`]) allow.
pub fn batch_for(prompts: usize, context: usize, mode: Mode) -> usize {
    BATCH
        .min(prompts)
        .min(kv_positions(mode) / context.max(1))
        .max(1)
}

impl Job for SmolLm2Job {
    fn init<H: Host>(host: &H) -> Self {
        let bytes = host.read_input(INPUT_BYTES_MAX).expect("input too long");
        let input = parse_input(&bytes).expect("malformed input");
        let blob = host
            .read_blob(TOKENIZER_BLOB, bpe::BLOB_BYTES_MAX)
            .expect("missing or oversized tokenizer blob");
        let vocab = Vocab::parse(&blob).expect("bad tokenizer blob");
        let template = ChatTemplate::new(&vocab).expect("the vocabulary has no chat tokens");
        let prompts: Vec<Vec<u32>> = input
            .prompts
            .iter()
            .map(|range| {
                let text = core::str::from_utf8(&bytes[range.clone()]).expect("checked");
                let mut ids = Vec::new();
                template.encode(&vocab, text, &mut ids);
                ids
            })
            .collect();
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let context = longest + input.max_new;
        assert!(
            context <= context_max(input.mode),
            "a prompt of {longest} tokens and {} new ones exceed the context of {}",
            input.max_new,
            context_max(input.mode)
        );
        let options = Options {
            batch: batch_for(prompts.len(), context, input.mode),
            context,
            max_new: input.max_new,
            stop: template.end_of_turn(),
            precise: input.mode == Mode::Precise,
            residual: (input.mode == Mode::Precise).then_some(RESIDUAL_BLOB),
        };
        let prompt_tokens = prompts.iter().map(|p| p.len() as u32).collect();
        let decoder = Decoder::new(host, WEIGHTS_BLOB, prompts, options).expect("bad weights");
        SmolLm2Job {
            decoder,
            vocab,
            prompt_tokens,
            output: Vec::new(),
        }
    }

    fn step<H: Host>(&mut self, host: &H) -> bool {
        if self.decoder.step(host).expect("bad weights") {
            return true;
        }
        let completions = self.decoder.completions();
        self.output = (completions.len() as u32).to_le_bytes().to_vec();
        for ((ids, stop), prompt_tokens) in completions
            .iter()
            .zip(self.decoder.stops())
            .zip(&self.prompt_tokens)
        {
            let mut text = Vec::new();
            self.vocab
                .decode(ids, &mut text)
                .expect("the model's ids are in the vocabulary");
            let completion = Completion {
                prompt_tokens: *prompt_tokens,
                completion_tokens: ids.len() as u32,
                stop: *stop,
                text,
            };
            push_completion(&mut self.output, &completion);
        }
        false
    }

    fn output(&self) -> &[u8] {
        &self.output
    }
}
