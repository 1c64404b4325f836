"""Generate a tiny Llama model folder (config + tokenizer, no weights) for a real vLLM server.

No model can be downloaded here, so the tests run vLLM with ``--load-format dummy``: vLLM fills the
weights with random values and everything else (engine, scheduler, streaming, /metrics, OTLP
tracing) is real. The output is deterministic, so every machine serves the same vocabulary.

Run with the vLLM venv's python (it has ``tokenizers`` and ``transformers``)::

    python scripts/make_tiny_model.py DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, PreTrainedTokenizerFast

# Ids 0, 1, 2 in this order: LlamaConfig below says bos_token_id=1, eos_token_id=2.
PAD, BOS, EOS = "<pad>", "<s>", "</s>"
VOCAB_SIZE = 512

# A few lines of text are enough: the byte-level alphabet makes every input encodable, and the
# merges only make common words shorter.
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Token-level service level objectives for large language model inference.",
    "Time to first token, time per output token and end-to-end latency are measured per request.",
    "A request waits in the queue, is prefilled, then decodes one token at a time.",
    "Hello! How are you today? I am fine, thank you.",
    "user: Tell me a story about a small robot.",
    "assistant: Once upon a time there was a small robot who liked to count tokens.",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000",
]

# Plain role-prefixed turns; enough for /v1/chat/completions to render a prompt.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def build_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    # Like Llama: a prompt starts with BOS.
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    for token, want in ((PAD, 0), (BOS, 1), (EOS, 2)):
        got = tok.token_to_id(token)
        if got != want:
            raise RuntimeError(f"special token {token!r} got id {got}, expected {want}")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        chat_template=CHAT_TEMPLATE,
        model_max_length=2048,
    )


def build_config(vocab_size: int) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="model folder to write (created if missing)")
    args = parser.parse_args(argv)
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(str(out))
    build_config(len(tokenizer)).save_pretrained(str(out))
    print(f"wrote tiny Llama model (vocab {len(tokenizer)}) to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
