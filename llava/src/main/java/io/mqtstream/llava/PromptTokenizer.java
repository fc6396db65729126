package io.mqtstream.llava;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * LLaVA's text side: a checkpoint's {@code tokenizer.json} (Vicuna's SentencePiece BPE with byte
 * fallback) through DJL's Hugging Face tokenizers, the Vicuna v1 conversation template MQT-LLaVA
 * uses, and LLaVA's {@code tokenizer_image_token}: the prompt is cut at {@code <image>}, each piece
 * tokenized as the tokenizer does alone (with its BOS), the BOS kept once at the start, and {@link
 * #IMAGE} marking where the visual tokens go.
 */
public final class PromptTokenizer implements AutoCloseable {
  /** LLaVA's {@code IMAGE_TOKEN_INDEX}: the place of the visual tokens in a prompt's ids. */
  public static final long IMAGE = -200;

  /** Vicuna v1's system prompt ({@code conv_vicuna_v1} in the reference's conversation.py). */
  public static final String SYSTEM =
      "A chat between a curious user and an artificial intelligence assistant. "
          + "The assistant gives helpful, detailed, and polite answers to the user's questions.";

  private final HuggingFaceTokenizer tokenizer;
  private final long bos;

  private PromptTokenizer(HuggingFaceTokenizer tokenizer, long bos) {
    this.tokenizer = tokenizer;
    this.bos = bos;
  }

  /** Loads {@code tokenizer.json}; special tokens are added as its post-processor says. */
  public static PromptTokenizer load(Path tokenizerJson, long bos) throws IOException {
    HuggingFaceTokenizer t =
        HuggingFaceTokenizer.builder()
            .optTokenizerPath(tokenizerJson)
            .optAddSpecialTokens(true)
            .optTruncation(false)
            .optPadding(false)
            .build();
    return new PromptTokenizer(t, bos);
  }

  /**
   * The Vicuna v1 prompt of one question about one image: {@code SYSTEM USER: <image>\nQUESTION
   * ASSISTANT:} (separator style TWO: roles joined by a space, the open assistant turn last).
   */
  public static String vicuna(String question) {
    return SYSTEM + " USER: <image>\n" + question + " ASSISTANT:";
  }

  /** The ids of a prompt, {@link #IMAGE} where {@code <image>} stood. */
  public long[] ids(String prompt) {
    String[] pieces = prompt.split("<image>", -1);
    List<long[]> chunks = new ArrayList<>(pieces.length);
    for (String piece : pieces) {
      chunks.add(piece.isEmpty() ? new long[] {bos} : tokenizer.encode(piece).getIds());
    }
    List<Long> ids = new ArrayList<>();
    int offset = 0;
    if (chunks.get(0).length > 0 && chunks.get(0)[0] == bos) {
      offset = 1;
      ids.add(bos);
    }
    for (int i = 0; i < chunks.size(); i++) {
      if (i > 0) {
        ids.add(IMAGE);
      }
      long[] c = chunks.get(i);
      for (int j = offset; j < c.length; j++) {
        ids.add(c[j]);
      }
    }
    return ids.stream().mapToLong(Long::longValue).toArray();
  }

  /** Text of generated ids, special tokens left out. */
  public String decode(long[] ids) {
    return tokenizer.decode(ids, true).trim();
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
