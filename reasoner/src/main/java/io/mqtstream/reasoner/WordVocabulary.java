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
import java.util.Set;

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
      addedToken(added, vocab.size(), s, true);
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

  /**
   * Copies the word-level tokenizer {@code from} to {@code to} with each of {@code phrases}
   * (several words, such as an object's name "red circle") as one more token, after the existing
   * ids, so that wherever the phrase stands in a text it is read as that one token (an added token
   * of the Hugging Face format, matched as a whole word after lower-casing). Phrases it has already
   * are kept where they are.
   *
   * @return the ids of the phrases, in their order
   */
  public static int[] withPhrases(Path from, Path to, List<String> phrases) throws IOException {
    ObjectMapper json = new ObjectMapper();
    ObjectNode root = (ObjectNode) json.readTree(from.toFile());
    Map<String, Integer> vocab = vocab(root, from);
    ObjectNode v = (ObjectNode) root.path("model").path("vocab");
    ArrayNode added = (ArrayNode) root.path("added_tokens");
    int[] ids = new int[phrases.size()];
    for (int i = 0; i < phrases.size(); i++) {
      String phrase = phrases.get(i).toLowerCase(java.util.Locale.ROOT);
      if (!phrase.contains(" ")) {
        throw new IllegalArgumentException("not a phrase of several words: " + phrase);
      }
      Integer id = vocab.get(phrase);
      if (id == null) {
        id = vocab.size();
        vocab.put(phrase, id);
        v.put(phrase, id);
        addedToken(added, id, phrase, false);
      }
      ids[i] = id;
    }
    Files.writeString(to, json.writerWithDefaultPrettyPrinter().writeValueAsString(root));
    return ids;
  }

  /**
   * An added token: a special one (matched as written, left out of decoded text) or a phrase
   * (matched as whole words after lower-casing).
   */
  private static void addedToken(ArrayNode added, int id, String content, boolean special) {
    ObjectNode t = added.addObject();
    t.put("id", id);
    t.put("content", content);
    t.put("single_word", !special);
    t.put("lstrip", false);
    t.put("rstrip", false);
    t.put("normalized", !special);
    t.put("special", special);
  }

  /** The tokens of a word-level {@code tokenizer.json}, words and phrases. */
  public static Set<String> words(Path file) throws IOException {
    return read(file).keySet();
  }

  /** The word → id map of a word-level {@code tokenizer.json}. */
  static Map<String, Integer> read(Path file) throws IOException {
    return vocab(new ObjectMapper().readTree(file.toFile()), file);
  }

  private static Map<String, Integer> vocab(JsonNode root, Path file) throws IOException {
    JsonNode vocab = root.path("model").path("vocab");
    if (!vocab.isObject()) {
      throw new IOException(file + ": not a word-level tokenizer (no model.vocab)");
    }
    Map<String, Integer> out = new LinkedHashMap<>();
    vocab.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asInt()));
    return out;
  }
}
