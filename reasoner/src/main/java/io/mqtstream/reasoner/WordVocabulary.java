package io.mqtstream.reasoner;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes and reads word-level {@code tokenizer.json} files (Hugging Face tokenizers format):
 * lower-casing, whitespace-and-punctuation pre-tokenizer, a word-level model whose first ids are
 * the special tokens.
 */
public final class WordVocabulary {
  private static final List<String> SPECIALS =
      List.of(TextTokenizer.PAD, TextTokenizer.UNK, TextTokenizer.SEP, TextTokenizer.EOS);

  private WordVocabulary() {}

  /** Writes a tokenizer for the special tokens followed by {@code words}, in that order. */
  public static void write(Path file, Collection<String> words) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = json.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode added = root.putArray("added_tokens");
    Map<String, Integer> vocab = new LinkedHashMap<>();
    for (String s : SPECIALS) {
      ObjectNode t = added.addObject();
      t.put("id", vocab.size());
      t.put("content", s);
      t.put("single_word", false);
      t.put("lstrip", false);
      t.put("rstrip", false);
      t.put("normalized", false);
      t.put("special", true);
      vocab.put(s, vocab.size());
    }
    for (String w : words) {
      vocab.putIfAbsent(w.toLowerCase(java.util.Locale.ROOT), vocab.size());
    }
    root.putObject("normalizer").put("type", "Lowercase");
    root.putObject("pre_tokenizer").put("type", "Whitespace");
    root.putNull("post_processor");
    root.putObject("decoder").put("type", "WordPiece").put("prefix", "##").put("cleanup", true);
    ObjectNode model = root.putObject("model");
    model.put("type", "WordLevel");
    ObjectNode v = model.putObject("vocab");
    vocab.forEach(v::put);
    model.put("unk_token", TextTokenizer.UNK);
    Files.writeString(file, json.writerWithDefaultPrettyPrinter().writeValueAsString(root));
  }

  /** The word → id map of a word-level {@code tokenizer.json}. */
  static Map<String, Integer> read(Path file) throws IOException {
    JsonNode vocab = new ObjectMapper().readTree(file.toFile()).path("model").path("vocab");
    if (!vocab.isObject()) {
      throw new IOException(file + ": not a word-level tokenizer (no model.vocab)");
    }
    Map<String, Integer> out = new LinkedHashMap<>();
    vocab.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asInt()));
    return out;
  }
}
