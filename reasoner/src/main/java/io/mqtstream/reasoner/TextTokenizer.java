package io.mqtstream.reasoner;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Text ↔ token ids through DJL's Hugging Face tokenizers, from a local {@code tokenizer.json} (no
 * hub access). The model needs four special tokens: {@value #PAD}, {@value #UNK}, {@value #SEP}
 * (between the visual tokens and the question) and {@value #EOS} (end of answer).
 */
public final class TextTokenizer implements AutoCloseable {
  public static final String PAD = "<pad>";
  public static final String UNK = "<unk>";
  public static final String SEP = "<sep>";
  public static final String EOS = "<eos>";

  private final HuggingFaceTokenizer tokenizer;
  private final Path file;
  private final long sep;
  private final long eos;
  private final long pad;
  private final int vocabSize;

  private TextTokenizer(HuggingFaceTokenizer tokenizer, Path file) throws IOException {
    this.tokenizer = tokenizer;
    this.file = file;
    Map<String, Integer> vocab = WordVocabulary.read(file);
    this.vocabSize = vocab.size();
    this.sep = special(vocab, SEP);
    this.eos = special(vocab, EOS);
    this.pad = special(vocab, PAD);
    special(vocab, UNK);
  }

  /** Loads a {@code tokenizer.json}; fails naming a missing special token. */
  public static TextTokenizer load(Path tokenizerJson) throws IOException {
    HuggingFaceTokenizer t =
        HuggingFaceTokenizer.builder()
            .optTokenizerPath(tokenizerJson)
            .optAddSpecialTokens(false)
            .optTruncation(false)
            .optPadding(false)
            .build();
    return new TextTokenizer(t, tokenizerJson);
  }

  private static long special(Map<String, Integer> vocab, String token) throws IOException {
    Integer id = vocab.get(token);
    if (id == null) {
      throw new IOException("tokenizer vocabulary has no " + token + " token");
    }
    return id;
  }

  public long[] encode(String text) {
    Encoding e = tokenizer.encode(text, false, false);
    return e.getIds();
  }

  /** Text of the ids, special tokens left out. */
  public String decode(long[] ids) {
    return tokenizer.decode(ids, true).trim();
  }

  public long sep() {
    return sep;
  }

  public long eos() {
    return eos;
  }

  public long pad() {
    return pad;
  }

  public int vocabSize() {
    return vocabSize;
  }

  /** The file it was loaded from. */
  public Path file() {
    return file;
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
