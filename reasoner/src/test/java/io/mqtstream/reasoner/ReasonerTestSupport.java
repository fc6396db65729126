package io.mqtstream.reasoner;

import ai.djl.Device;
import io.mqtstream.encoder.VisualTokens;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** A tiny model, its tokenizer and random visual tokens for the reasoner's tests. */
final class ReasonerTestSupport {
  static final List<String> WORDS =
      List.of(
          "what",
          "colour",
          "is",
          "the",
          "circle",
          "square",
          "triangle",
          "how",
          "many",
          "shapes",
          "are",
          "there",
          "red",
          "green",
          "blue",
          "yes",
          "no",
          "left",
          "right",
          "one",
          "two",
          "three",
          "?");

  private ReasonerTestSupport() {}

  static TextTokenizer tokenizer(Path dir) throws IOException {
    Path file = dir.resolve("tokenizer.json");
    WordVocabulary.write(file, WORDS);
    return TextTokenizer.load(file);
  }

  static LmConfig config(int vocab) {
    return config(vocab, LmConfig.PromptOrder.FRAMES_FIRST);
  }

  static LmConfig config(int vocab, LmConfig.PromptOrder order) {
    return new LmConfig(
        vocab,
        32,
        2,
        2,
        64,
        4,
        256,
        LmConfig.Norm.RMS,
        LmConfig.Mlp.SWIGLU,
        LmConfig.Positions.ROPE,
        10_000f,
        true,
        0,
        0,
        order,
        0,
        false,
        0,
        List.of(),
        0,
        0);
  }

  static Reasoner reasoner(Path dir, LmConfig.Norm norm, LmConfig.Mlp mlp, LmConfig.Positions pos)
      throws IOException {
    TextTokenizer t = tokenizer(dir);
    LmConfig c =
        new LmConfig(
            t.vocabSize(),
            32,
            2,
            2,
            64,
            4,
            256,
            norm,
            mlp,
            pos,
            10_000f,
            pos == LmConfig.Positions.ROPE,
            0,
            0,
            LmConfig.PromptOrder.FRAMES_FIRST,
            0,
            false,
            0,
            List.of(),
            0,
            0);
    return Reasoner.create(c, t, 7, Device.cpu());
  }

  static Reasoner reasoner(Path dir) throws IOException {
    return reasoner(dir, LmConfig.PromptOrder.FRAMES_FIRST);
  }

  static Reasoner reasoner(Path dir, LmConfig.PromptOrder order) throws IOException {
    return reasoner(dir, config -> config.withPromptOrder(order));
  }

  /** The test model with its config changed by {@code change}, e.g. switchable norms. */
  static Reasoner reasoner(Path dir, java.util.function.UnaryOperator<LmConfig> change)
      throws IOException {
    TextTokenizer t = tokenizer(dir);
    return Reasoner.create(change.apply(config(t.vocabSize())), t, 7, Device.cpu());
  }

  /** T frames of m random tokens of width dim; the frames hold M = 8 tokens, cut to m. */
  static List<VisualTokens> frames(int t, int m, int dim, long seed) {
    Random r = new Random(seed);
    List<VisualTokens> out = new ArrayList<>();
    for (int i = 0; i < t; i++) {
      float[] v = new float[8 * dim];
      for (int j = 0; j < v.length; j++) {
        v[j] = (float) r.nextGaussian();
      }
      out.add(VisualTokens.of(v, 8, dim).tokens(m));
    }
    return out;
  }
}
