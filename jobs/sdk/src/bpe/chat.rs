//! SmolLM2-Instruct's chat template (ChatML) for a conversation of one user turn, as the GGUF
//! file's `tokenizer.chat_template` renders it with `add_generation_prompt`:
//!
//! ```text
//! <|im_start|>system
//! You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
//! <|im_start|>user
//! {user text}<|im_end|>
//! <|im_start|>assistant
//! ```
//!
//! followed by a newline after `assistant`; the template adds the system turn because the
//! conversation does not start with one. The ids are those of llama.cpp tokenizing the rendered
//! text with specials parsed, except that the user text is always plain text: `<|im_end|>` typed
//! by a user is ordinary tokens, so the user cannot end the turn or open another. The texts
//! between control tokens are encoded one by one, as llama.cpp encodes the fragments between
//! specials.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Vocab, VocabError};

/// The system prompt the template adds when a conversation has none.
pub const SYSTEM_PROMPT: &str =
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

/// The control token that opens a turn.
pub const IM_START: &str = "<|im_start|>";

/// The control token that ends a turn: the model's end of generation.
pub const IM_END: &str = "<|im_end|>";

/// The chat template's token ids, found once in the vocabulary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatTemplate {
    /// The system turn and the `<|im_start|>` of the user turn.
    prefix: Vec<u32>,
    /// `<|im_end|>`, newline, `<|im_start|>assistant` and newline: the generation prompt.
    suffix: Vec<u32>,
    im_end: u32,
}

impl ChatTemplate {
    /// The template over `vocab`, which must have the `<|im_start|>` and `<|im_end|>` control
    /// tokens.
    pub fn new(vocab: &Vocab) -> Result<ChatTemplate, VocabError> {
        let control = |token| {
            vocab
                .control_id(token)
                .ok_or(VocabError::MissingControl { token })
        };
        let (im_start, im_end) = (control(IM_START)?, control(IM_END)?);
        let mut prefix = alloc::vec![im_start];
        vocab.encode(&alloc::format!("system\n{SYSTEM_PROMPT}"), &mut prefix);
        prefix.push(im_end);
        vocab.encode("\n", &mut prefix);
        prefix.push(im_start);
        let mut suffix = alloc::vec![im_end];
        vocab.encode("\n", &mut suffix);
        suffix.push(im_start);
        vocab.encode("assistant\n", &mut suffix);
        Ok(ChatTemplate {
            prefix,
            suffix,
            im_end,
        })
    }

    /// The id of `<|im_end|>`: generation stops when the model emits it.
    pub fn end_of_turn(&self) -> u32 {
        self.im_end
    }

    /// Appends the ids of the whole prompt for the user text `user` to `out`: the system turn,
    /// the user turn, and the generation prompt.
    pub fn encode(&self, vocab: &Vocab, user: &str, out: &mut Vec<u32>) {
        out.extend_from_slice(&self.prefix);
        // "user\n" and the text are one fragment: a text that starts with whitespace joins the
        // newline's whitespace run, as in llama.cpp.
        let mut turn = String::with_capacity("user\n".len() + user.len());
        turn.push_str("user\n");
        turn.push_str(user);
        vocab.encode(&turn, out);
        out.extend_from_slice(&self.suffix);
    }
}
