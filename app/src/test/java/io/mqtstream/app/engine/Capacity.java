package io.mqtstream.app.engine;

import ai.djl.Device;
import io.mqtstream.app.EngineConfig;
import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.encoder.VisualTokens;
import io.mqtstream.reasoner.Prompt;
import io.mqtstream.reasoner.Reasoner;
import io.mqtstream.reasoner.Sampling;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The engine's capacity on this machine, measured, so tests can overload it by a ratio instead of a
 * rate that only overloads a slow machine.
 */
final class Capacity {
  private Capacity() {}

  /**
   * Frames per second the reasoner answers at m = M with the default questions: one full batch of
   * prompts at M through the configured model (after a warm-up batch).
   */
  static double framesPerSecondAtM(EngineConfig c) throws Exception {
    Path dir = Engine.resolveModel(c.model().dir());
    try (MqtEncoder encoder = MqtEncoder.load(dir.resolve("encoder"));
        Reasoner reasoner = Reasoner.load(dir.resolve("llm"), Device.cpu())) {
      int size = encoder.config().vision().imageSize();
      List<byte[]> blank = new ArrayList<>();
      for (int i = 0; i < reasoner.config().maxFrames(); i++) {
        blank.add(new byte[size * size * 3]);
      }
      List<VisualTokens> window = encoder.encodeDecoded(blank);
      Sampling sampling = Sampling.greedy(c.reasoner().maxNewTokens());
      List<Prompt> prompts = new ArrayList<>();
      for (int i = 0; i < c.reasoner().maxBatch(); i++) {
        prompts.add(reasoner.prompt("p" + i, window, "how many shapes are there?", sampling, null));
      }
      reasoner.generate(prompts); // warm-up
      long t0 = System.nanoTime();
      reasoner.generate(prompts);
      double promptsPerSecond = prompts.size() / ((System.nanoTime() - t0) / 1e9);
      return promptsPerSecond / c.questions().defaults().size();
    }
  }
}
