package io.mqtstream.llava;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mqtstream.nn.Engines;
import java.awt.image.BufferedImage;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.StreamSupport;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The reference checkpoint held and run in fp16 against the reference's fp32 logits. An fp16 value
 * carries 11 significant bits, so each stored weight and each activation is off by up to 2⁻¹²
 * (0.024 %) of itself; through the tower's three layers, the MQT and the LLM's two, with sums of up
 * to 96 terms, the errors add up to a fraction of a per cent of the logits' scale (measured: README
 * "Real MQT-LLaVA checkpoints"). The bound: the largest logit error within 1 % of the largest
 * logit, and the same next token at the end of the prompt. bf16 is refused by name.
 */
class ReducedPrecisionTest {
  private static final Path FIXTURES = Path.of("src/test/resources/reference/llava");

  /** cpu unless -Dmqt.test.device=gpu (bin/gpu-check). */
  private static final Device DEVICE = Engines.device(System.getProperty("mqt.test.device", "cpu"));

  @Test
  void bf16IsRefusedWithTheReasonNotAnAbortedProcess() {
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> MqtLlava.dtype("bf16"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("use fp16");
  }

  @ParameterizedTest
  @ValueSource(strings = {"fp16"})
  void halfPrecisionLogitsStayWithinTheirRoundingOfTheReference(String type) throws Exception {
    DataType dtype = MqtLlava.dtype(type);
    double bound = 0.01;
    JsonNode cases = new ObjectMapper().readTree(FIXTURES.resolve("cases.json").toFile());
    long[] ids =
        StreamSupport.stream(cases.get("prompt_ids").spliterator(), false)
            .mapToLong(JsonNode::asLong)
            .toArray();
    BufferedImage image = ImageIO.read(FIXTURES.resolve("image.png").toFile());
    try (MqtLlava model =
            MqtLlava.load(FIXTURES.resolve("llm"), FIXTURES.resolve("vision"), DEVICE, dtype);
        NDManager manager = NDManager.newBaseManager(DEVICE, Engines.pytorch().getEngineName());
        NDManager scope = model.newScope()) {
      NDArray reference16 = null;
      NDArray reference2 = null;
      try (InputStream in = Files.newInputStream(FIXTURES.resolve("expected.safetensors"))) {
        for (NDArray t : NDList.decode(manager, in)) {
          if (t.getName().equals("logits.m16")) {
            reference16 = t;
          } else if (t.getName().equals("logits.m2")) {
            reference2 = t;
          }
        }
      }
      for (int m : new int[] {2, 16}) {
        NDArray reference = m == 16 ? reference16 : reference2;
        NDArray tokens =
            model.visualTokens(model.features(model.pixelArray(scope, model.pixels(image))), m);
        NDArray logits = model.logits(model.embed(scope, ids, List.of(tokens.get(0))));
        assertThat(logits.getDataType()).isEqualTo(DataType.FLOAT32);
        float error = logits.sub(reference).abs().max().getFloat();
        float scale = reference.abs().max().getFloat();
        System.out.printf(
            "%s, m = %d: max |Δ logits| %.4f of max |logit| %.3f (%.2f %%)%n",
            type, m, error, scale, 100 * error / scale);
        assertThat(error / scale).as("%s m = %d", type, m).isLessThan((float) bound);
        assertThat(logits.get(new NDIndex("0, -1, :")).argMax().getLong())
            .as("next token, %s m = %d", type, m)
            .isEqualTo(reference.get(new NDIndex("0, -1, :")).argMax().getLong());
      }
    }
  }
}
