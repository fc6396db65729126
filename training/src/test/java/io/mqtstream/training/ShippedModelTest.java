package io.mqtstream.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.encoder.MqtEncoder;
import io.mqtstream.reasoner.Reasoner;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The shipped checkpoint loads and, on test clips other than the model card's, reaches the accuracy
 * the model card documents ({@code models/mqt-tiny/eval.json}, written by {@code eval --json})
 * within the sampling margin of 120 clips (±12 points).
 */
class ShippedModelTest {
  private static final Path MODEL = Path.of("..", "models", "mqt-tiny");
  private static final double MARGIN = 0.12;

  @Test
  void shippedModelReachesItsDocumentedAccuracy() throws Exception {
    JsonNode documented = new ObjectMapper().readTree(MODEL.resolve("eval.json").toFile()).get("m");
    try (MqtEncoder encoder = MqtEncoder.load(MODEL.resolve("encoder"));
        Reasoner reasoner = Reasoner.load(MODEL.resolve("llm"), Device.cpu())) {
      SyntheticWorld world = new SyntheticWorld(WorldConfig.tiny());
      Map<Integer, Evaluator.Score> scores =
          new Evaluator(encoder, reasoner, world)
              .evaluate(new int[] {16, 64}, 120, 50_000, done -> {});
      for (int m : new int[] {16, 64}) {
        double expected = documented.get(Integer.toString(m)).get("accuracy").asDouble();
        double measured = scores.get(m).accuracy();
        System.out.printf(
            "m=%d: documented %.3f, measured %.3f on 120 other clips%n", m, expected, measured);
        assertThat(measured)
            .as("accuracy at m=%d", m)
            .isBetween(expected - MARGIN, expected + MARGIN);
      }
    }
  }
}
